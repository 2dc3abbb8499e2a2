package policy

import (
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
)

// file is the YAML shape of a policy. check (schema.go) has made sure each
// key's value is of the right YAML kind before it is decoded; each field
// type then checks its own value and reports the line it is on.
type file struct {
	Version     *version            `yaml:"version"`
	Targets     []target            `yaml:"targets"`
	Require     platforms           `yaml:"require"`
	RequireSigs signaturesOf        `yaml:"require-signatures"`
	Rules       []rule              `yaml:"rules"`
	Tags        tagPattern          `yaml:"tags"`
	ExcludeTags tagPattern          `yaml:"exclude-tags"`
	PerArch     []template          `yaml:"per-arch"`
	Mirrors     []mirror            `yaml:"mirrors"`
	Ignore      []code              `yaml:"ignore"`
	Severity    map[code]severityOf `yaml:"severity"`
}

type rule struct {
	Repository repoPattern `yaml:"repository"`
	Tags       tagPattern  `yaml:"tags"`
	Require    platforms   `yaml:"require"`
}

type version struct {
	Value int
	line  int
}

func (v *version) UnmarshalYAML(n *yaml.Node) error {
	v.line = n.Line
	if err := n.Decode(&v.Value); err != nil {
		return fmt.Errorf("line %d: version: %q is not a number; write version: 1", n.Line, n.Value)
	}
	return nil
}

// repoPattern is a rule's repository glob.
type repoPattern struct {
	pattern ref.Pattern
	set     bool
}

func (r *repoPattern) UnmarshalYAML(n *yaml.Node) error {
	p, err := scalar(n, "repository", ref.ParsePattern)
	r.pattern, r.set = p, err == nil
	return err
}

// target is a reference to audit.
type target struct{ ref ref.Ref }

func (t *target) UnmarshalYAML(n *yaml.Node) (err error) {
	t.ref, err = scalar(n, "targets", ref.Parse)
	return err
}

// mirror is a mirror prefix.
type mirror struct{ ref ref.Ref }

func (m *mirror) UnmarshalYAML(n *yaml.Node) (err error) {
	m.ref, err = scalar(n, "mirrors", ref.ParsePrefix)
	return err
}

// scalar parses one scalar value with parse; errors name the line and key.
func scalar[T any](n *yaml.Node, key string, parse func(string) (T, error)) (T, error) {
	var zero T
	v, err := parse(n.Value)
	if err != nil {
		return zero, fmt.Errorf("line %d: %s: %v", n.Line, key, err)
	}
	return v, nil
}

// platforms is a list of OS/ARCH[/VARIANT], as a YAML list or one
// comma-separated string. Each item names at least one platform: an empty
// one would make a list that looks like a requirement require nothing
// ("require: []" is how to say that).
type platforms struct{ list []platform.Platform }

func (p *platforms) UnmarshalYAML(n *yaml.Node) error {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for _, item := range items {
		value := item.Value
		if r := resolve(item); r != nil {
			value = r.Value // an alias's Value is its name
		}
		list, err := platform.ParseList(value)
		if err != nil {
			return fmt.Errorf("line %d: require: %v", item.Line, err)
		}
		if len(list) == 0 {
			return fmt.Errorf("line %d: require: %q names no platform; write OS/ARCH[/VARIANT], e.g. linux/amd64, or require: [] to require nothing", item.Line, value)
		}
		p.list = append(p.list, list...)
	}
	return nil
}

// tagPattern is a regular expression over tags. An empty one sets no
// filter, as an empty --tags or --exclude-tags flag does (an empty regular
// expression would match, and so exclude, every tag).
type tagPattern struct{ re *regexp.Regexp }

func (p *tagPattern) UnmarshalYAML(n *yaml.Node) error {
	if n.Value == "" {
		p.re = nil
		return nil
	}
	re, err := regexp.Compile(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a regular expression: %v", n.Line, n.Value, err)
	}
	p.re = re
	return nil
}

type template struct{ value string }

func (t *template) UnmarshalYAML(n *yaml.Node) error {
	if err := platform.CheckTemplate(n.Value); err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	t.value = n.Value
	return nil
}

func templatesOf(ts []template) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.value
	}
	return out
}

// code is a finding code mlaudit knows.
type code struct{ code audit.Code }

func (c *code) UnmarshalYAML(n *yaml.Node) error {
	for _, info := range audit.Codes() {
		if string(info.Code) == n.Value {
			c.code = info.Code
			return nil
		}
	}
	return fmt.Errorf("line %d: %q is not a finding code; `mlaudit codes` lists them", n.Line, n.Value)
}

// UnmarshalText lets codes be map keys (severity:).
func (c *code) UnmarshalText(b []byte) error {
	return c.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Value: string(b)})
}

type severityOf struct{ severity audit.Severity }

func (s *severityOf) UnmarshalYAML(n *yaml.Node) error {
	if err := s.severity.UnmarshalText([]byte(n.Value)); err != nil {
		return fmt.Errorf("line %d: severity %q: use warning or error", n.Line, n.Value)
	}
	return nil
}

// signaturesOf is which manifests must be signed: index, children or all.
type signaturesOf struct{ which audit.Signatures }

func (s *signaturesOf) UnmarshalYAML(n *yaml.Node) error {
	which, err := audit.ParseSignatures(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: require-signatures: %v", n.Line, err)
	}
	s.which = which
	return nil
}
