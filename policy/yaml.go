package policy

import (
	"fmt"
	"regexp"
	"strings"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"go.yaml.in/yaml/v3"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/platform"
)

// file is the YAML shape of a policy. Each field type checks its own value
// and reports the line it is on.
type file struct {
	Version     *version            `yaml:"version"`
	Targets     []string            `yaml:"targets"`
	Require     platforms           `yaml:"require"`
	Rules       []rule              `yaml:"rules"`
	Tags        pattern             `yaml:"tags"`
	ExcludeTags pattern             `yaml:"exclude-tags"`
	PerArch     []template          `yaml:"per-arch"`
	Mirrors     []string            `yaml:"mirrors"`
	Ignore      []code              `yaml:"ignore"`
	Severity    map[code]severityOf `yaml:"severity"`
}

type rule struct {
	Repository required  `yaml:"repository"`
	Tags       pattern   `yaml:"tags"`
	Require    platforms `yaml:"require"`
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

// required is a string that must not be empty.
type required struct{ Value string }

func (r *required) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || strings.TrimSpace(n.Value) == "" {
		return fmt.Errorf("line %d: repository: give a glob over registry/repository, e.g. ghcr.io/org/*", n.Line)
	}
	r.Value = n.Value
	return nil
}

// platforms is a list of OS/ARCH[/VARIANT], as a YAML list or one
// comma-separated string.
type platforms struct{ list []specs.Platform }

func (p *platforms) UnmarshalYAML(n *yaml.Node) error {
	var items []*yaml.Node
	switch n.Kind {
	case yaml.SequenceNode:
		items = n.Content
	case yaml.ScalarNode:
		items = []*yaml.Node{n}
	default:
		return fmt.Errorf("line %d: require: give a list of platforms, e.g. [linux/amd64, linux/arm64]", n.Line)
	}
	for _, item := range items {
		list, err := platform.ParseList(item.Value)
		if err != nil {
			return fmt.Errorf("line %d: require: %v", item.Line, err)
		}
		p.list = append(p.list, list...)
	}
	return nil
}

// pattern is a regular expression over tags.
type pattern struct{ re *regexp.Regexp }

func (p *pattern) UnmarshalYAML(n *yaml.Node) error {
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
		return fmt.Errorf("line %d: per-arch: %v", n.Line, strings.TrimPrefix(err.Error(), "--per-arch "))
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
