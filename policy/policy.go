// Package policy reads mlaudit policy files: the targets of a scheduled
// audit or a sync gate, the platforms each repository must provide, and
// how findings are judged. Files are strict YAML: an unknown key, a bad
// platform, pattern or code is an error naming the file, the line and the
// key, so a typo never silently weakens a gate.
//
//	version: 1
//	targets:
//	  - ghcr.io/org/runtime
//	require: [linux/amd64, linux/arm64]
//	rules:
//	  - repository: ghcr.io/org/edge-*
//	    require: [linux/amd64, linux/arm64, linux/arm/v7]
//	per-arch: ["{tag}-{arch}"]
//	mirrors: [registry.internal/mirror]
//	ignore: [noncanonical-platform]
//	severity:
//	  mixed-media-types: error
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"go.yaml.in/yaml/v3"

	"github.com/mlaudit/mlaudit/audit"
)

// Policy is a parsed policy file.
type Policy struct {
	// Name is the file it was read from, for messages.
	Name string
	// Targets are audited when no target is given on the command line.
	Targets []string
	// Require is what every image must provide unless a rule says
	// otherwise.
	Require []specs.Platform
	// Rules set requirements per repository (and tag pattern); the first
	// that matches a reference wins.
	Rules []Rule
	// Tags and ExcludeTags filter the tags of repository and registry
	// targets.
	Tags, ExcludeTags *regexp.Regexp
	// PerArch lists per-arch tag templates; Mirrors, mirror prefixes.
	PerArch, Mirrors []string
	// Ignore drops findings with these codes; Severity changes the
	// severity of others.
	Ignore   map[audit.Code]bool
	Severity map[audit.Code]audit.Severity
}

// Rule sets the platforms required of the references it matches.
type Rule struct {
	// Repository is a glob over "registry/repository" ("ghcr.io/org/*";
	// '*' does not cross '/').
	Repository string
	// Tags, when set, narrows the rule to matching tags.
	Tags    *regexp.Regexp
	Require []specs.Platform
}

// ErrInvalid is wrapped by every error about a policy's content.
var ErrInvalid = errors.New("invalid policy")

// Load reads and checks the policy file at name.
func Load(name string) (*Policy, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading the policy: %w", err)
	}
	return Parse(data, name)
}

// Parse checks a policy's bytes; name is used in errors.
func Parse(data []byte, name string) (*Policy, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, explain(name, err)
	}
	if f.Version == nil {
		return nil, fmt.Errorf("%w: %s: no version; start the file with \"version: 1\"", ErrInvalid, name)
	}
	if f.Version.Value != 1 {
		return nil, fmt.Errorf("%w: %s:%d: version %d is not known to this mlaudit; write version: 1", ErrInvalid, name, f.Version.line, f.Version.Value)
	}
	p := &Policy{
		Name: name, Targets: f.Targets, Require: f.Require.list, Tags: f.Tags.re, ExcludeTags: f.ExcludeTags.re,
		PerArch: templatesOf(f.PerArch), Mirrors: f.Mirrors, Ignore: map[audit.Code]bool{}, Severity: map[audit.Code]audit.Severity{},
	}
	for i, r := range f.Rules {
		if r.Repository.Value == "" {
			return nil, fmt.Errorf("%w: %s:%d: this rule has no repository; give a glob over registry/repository, e.g. repository: ghcr.io/org/*", ErrInvalid, name, ruleLine(data, i))
		}
		p.Rules = append(p.Rules, Rule{Repository: r.Repository.Value, Tags: r.Tags.re, Require: r.Require.list})
	}
	for _, c := range f.Ignore {
		p.Ignore[c.code] = true
	}
	for c, s := range f.Severity {
		p.Severity[c.code] = s.severity
	}
	return p, nil
}

// RequireFor returns the platforms ref must provide: the first matching
// rule's, else the policy's default.
func (p *Policy) RequireFor(ref string) []specs.Platform {
	repo, tag := split(ref)
	for _, r := range p.Rules {
		if ok, _ := path.Match(r.Repository, repo); !ok {
			continue
		}
		if r.Tags != nil && !r.Tags.MatchString(tag) {
			continue
		}
		return r.Require
	}
	return p.Require
}

// Apply drops ignored findings and applies severity overrides.
func (p *Policy) Apply(r *audit.Result) {
	kept := r.Findings[:0]
	for _, f := range r.Findings {
		if p.Ignore[f.Code] {
			continue
		}
		if s, ok := p.Severity[f.Code]; ok {
			f.Severity = s
		}
		kept = append(kept, f)
	}
	r.Findings = kept
}

// split cuts a reference into "registry/repository" and tag.
func split(ref string) (repo, tag string) {
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		return ref[:i], ""
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}

// explain turns the YAML decoder's errors into "FILE:LINE: what" lines.
func explain(name string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		lines := make([]string, 0, len(te.Errors))
		for _, e := range te.Errors {
			lines = append(lines, name+":"+strings.TrimPrefix(reword(e), "line "))
		}
		return fmt.Errorf("%w:\n  %s", ErrInvalid, strings.Join(lines, "\n  "))
	}
	if strings.Contains(err.Error(), "EOF") {
		return fmt.Errorf("%w: %s is empty; start it with \"version: 1\"", ErrInvalid, name)
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := atLine.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%w: %s:%s: %s", ErrInvalid, name, m[1], m[2])
	}
	return fmt.Errorf("%w: %s: %s", ErrInvalid, name, msg)
}

var atLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// ruleLine finds the line of the i-th rule, for errors about keys it lacks.
func ruleLine(data []byte, i int) int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return 0
	}
	root := doc.Content[0]
	for k := 0; k+1 < len(root.Content); k += 2 {
		if root.Content[k].Value == "rules" && i < len(root.Content[k+1].Content) {
			return root.Content[k+1].Content[i].Line
		}
	}
	return 0
}

var unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type .*$`)

// reword makes yaml's "field X not found in type policy.file" readable.
func reword(e string) string {
	if m := unknownField.FindStringSubmatch(e); m != nil {
		return fmt.Sprintf("line %s: unknown key %q; the keys are %s", m[1], m[2], knownKeys)
	}
	return e
}

const knownKeys = "version, targets, require, rules (repository, tags, require), tags, exclude-tags, per-arch, mirrors, ignore, severity"
