// Package policy reads mlaudit policy files: the targets of a scheduled
// audit or a sync gate, the platforms each repository must provide, and
// how findings are judged. Files are strict YAML: an unknown key, a value
// of the wrong YAML kind (a list of lists, a list where one pattern belongs,
// null), a bad platform, pattern or code is an error naming the file, the
// line and the key, so a typo never silently weakens a gate. schema.go says
// what kind each key takes.
//
//	version: 1
//	targets:
//	  - ghcr.io/org/runtime
//	require: [linux/amd64, linux/arm64]
//	require-signatures: all
//	rules:
//	  - repository: ghcr.io/org/edge-*
//	    require: [linux/amd64, linux/arm64, linux/arm/v7]
//	per-arch: ["{tag}-{arch}"]
//	mirrors: [registry.internal/mirror]
//	ignore: [noncanonical-platform]
//	severity:
//	  mixed-media-types: error
//
// References and patterns are parsed as package ref reads them, so a rule
// for docker.io/library/* applies to "alpine:3" however it is written.
// [Policy.For] says what applies to one reference; `mlaudit policy explain`
// prints it.
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
)

// Policy is a parsed policy file, or the same settings made on a command
// line.
type Policy struct {
	// Name is the file it was read from, for messages.
	Name string
	// Targets are audited when no target is given on the command line.
	Targets []ref.Ref
	// Require is what every image must provide unless a rule says
	// otherwise.
	Require []platform.Platform
	// RequireSignatures says which manifests of every tag audited must be
	// signed (index, children or all); 0 requires none.
	RequireSignatures audit.Signatures
	// Rules set requirements per repository (and tag pattern); the first
	// that matches a reference wins.
	Rules []Rule
	// Tags and ExcludeTags filter the tags of repository and registry
	// targets.
	Tags, ExcludeTags *regexp.Regexp
	// PerArch lists per-arch tag templates.
	PerArch []string
	// Mirrors lists mirror prefixes (see ref.ParsePrefix).
	Mirrors []ref.Ref
	// Ignore drops findings with these codes; Severity changes the
	// severity of others.
	Ignore   map[audit.Code]bool
	Severity map[audit.Code]audit.Severity
}

// Rule sets the platforms required of the references it matches.
type Rule struct {
	// Repository matches registry/repository ("ghcr.io/org/*"; '*' does
	// not cross '/').
	Repository ref.Pattern
	// Tags, when set, narrows the rule to matching tags.
	Tags    *regexp.Regexp
	Require []platform.Platform
	// Index is the rule's place among the policy's rules, from 0; Line is
	// where it starts in its file (0 when not from a file).
	Index, Line int
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

// Parse checks a policy's bytes; name is used in errors. A key that policy
// files do not have, or whose value is of the wrong YAML kind, is a
// *KeyError; every one in the file is reported.
func Parse(data []byte, name string) (*Policy, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, explain(name, err)
	}
	if err := check(name, &doc); err != nil {
		return nil, err
	}
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
		Name: name, Require: f.Require.list, RequireSignatures: f.RequireSigs.which, Tags: f.Tags.re, ExcludeTags: f.ExcludeTags.re,
		PerArch: templatesOf(f.PerArch), Ignore: map[audit.Code]bool{}, Severity: map[audit.Code]audit.Severity{},
	}
	for _, t := range f.Targets {
		p.Targets = append(p.Targets, t.ref)
	}
	for _, m := range f.Mirrors {
		p.Mirrors = append(p.Mirrors, m.ref)
	}
	lines := ruleLines(&doc)
	for i, r := range f.Rules {
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		if !r.Repository.set {
			return nil, fmt.Errorf("%w: %s:%d: this rule has no repository; give a glob over registry/repository, e.g. repository: ghcr.io/org/*", ErrInvalid, name, line)
		}
		p.Rules = append(p.Rules, Rule{Repository: r.Repository.pattern, Tags: r.Tags.re, Require: r.Require.list, Index: i, Line: line})
	}
	for _, c := range f.Ignore {
		p.Ignore[c.code] = true
	}
	for c, s := range f.Severity {
		p.Severity[c.code] = s.severity
	}
	return p, nil
}

// Match returns the first rule that applies to r, or nil when none does
// and the default applies. A rule with a tag pattern applies only to a
// reference with a matching tag.
func (p *Policy) Match(r ref.Ref) *Rule {
	for i := range p.Rules {
		rule := &p.Rules[i]
		if !rule.Repository.Match(r) {
			continue
		}
		if rule.Tags != nil && !rule.Tags.MatchString(r.Tag) {
			continue
		}
		return rule
	}
	return nil
}

// RequireFor returns the platforms r must provide: the first matching
// rule's, else the policy's default.
func (p *Policy) RequireFor(r ref.Ref) []platform.Platform {
	if rule := p.Match(r); rule != nil {
		return rule.Require
	}
	return p.Require
}

// Requirements is what a policy asks of one reference.
type Requirements struct {
	Ref ref.Ref
	// Rule is the rule that applies; nil when the default does.
	Rule *Rule
	// Require lists the platforms each image must provide.
	Require []platform.Platform
	// RequireSignatures says which manifests must be signed.
	RequireSignatures audit.Signatures
	// Tags and ExcludeTags choose the tags of a repository or registry
	// target.
	Tags, ExcludeTags *regexp.Regexp
	// PerArch lists the per-arch tag templates; Mirrors, the references
	// of the copies to compare with.
	PerArch []string
	Mirrors []ref.Ref
	// Ignore and Severity change findings.
	Ignore   []audit.Code
	Severity map[audit.Code]audit.Severity
	// ByTag, for a reference without a tag (a repository, a registry, a
	// layout), lists the rules for its repository that apply only to some
	// tags: which applies is decided tag by tag.
	ByTag []*Rule
}

// For says what the policy asks of r, never contacting a registry.
func (p *Policy) For(r ref.Ref) Requirements {
	q := Requirements{Ref: r, Require: p.Require, RequireSignatures: p.RequireSignatures, Tags: p.Tags, ExcludeTags: p.ExcludeTags, PerArch: p.PerArch, Severity: p.Severity}
	if rule := p.Match(r); rule != nil {
		q.Rule, q.Require = rule, rule.Require
	}
	if r.Tag == "" {
		for i := range p.Rules {
			if rule := &p.Rules[i]; rule.Tags != nil && rule.Repository.Match(r) && (q.Rule == nil || i < q.Rule.Index) {
				q.ByTag = append(q.ByTag, rule)
			}
		}
	}
	for _, prefix := range p.Mirrors {
		if m, err := r.Rebase(prefix); err == nil && !r.IsRegistry() {
			q.Mirrors = append(q.Mirrors, m)
		}
	}
	for c := range p.Ignore {
		q.Ignore = append(q.Ignore, c)
	}
	sort.Slice(q.Ignore, func(i, j int) bool { return q.Ignore[i] < q.Ignore[j] })
	return q
}

// AuditOptions sets o's Ignore and Severity from the policy, so that
// audit.Run judges findings as the policy says.
func (p *Policy) AuditOptions(o audit.Options) audit.Options {
	o.Ignore, o.Severity = p.Ignore, p.Severity
	return o
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

// ruleLines finds the line of each rule, for errors about keys it lacks
// and for Rule.Line. It reads the parsed document once: reading the file
// again for each rule made a policy with many rules take seconds.
func ruleLines(doc *yaml.Node) []int {
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	for k := 0; k+1 < len(root.Content); k += 2 {
		if root.Content[k].Value == "rules" {
			var lines []int
			for _, item := range root.Content[k+1].Content {
				lines = append(lines, item.Line)
			}
			return lines
		}
	}
	return nil
}

var unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type .*$`)

// reword makes yaml's "field X not found in type policy.file" readable.
func reword(e string) string {
	if m := unknownField.FindStringSubmatch(e); m != nil {
		return fmt.Sprintf("line %s: unknown key %q; the keys are %s", m[1], m[2], knownKeys)
	}
	return e
}
