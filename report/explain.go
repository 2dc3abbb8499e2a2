package report

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/policy"
	"github.com/mlaudit/mlaudit/ref"
)

// Explanation is what `mlaudit policy explain` reports: the policy in
// effect (its file, and the flags that override it) and what it asks of
// each reference.
type Explanation struct {
	// Policy is the policy file read, "" for none.
	Policy string
	// Overrides are the flags that replaced parts of it.
	Overrides []string
	// Rules is the number of rules in effect.
	Rules int
	// References has one entry per reference explained.
	References []policy.Requirements
}

// RenderExplanation writes e as a table (a block per reference) or JSON.
func RenderExplanation(w io.Writer, f Format, e Explanation) error {
	if f == JSON {
		return renderExplanationJSON(w, e)
	}
	pr := &printer{w: w}
	source := "no policy file"
	if e.Policy != "" {
		source = fmt.Sprintf("%s (%s)", e.Policy, plural(e.Rules, "rule"))
	}
	if len(e.Overrides) > 0 {
		source += "; overridden by " + strings.Join(e.Overrides, ", ")
	}
	pr.line("Policy: " + source)
	for _, q := range e.References {
		pr.line("")
		pr.line(q.Ref.Written())
		field := func(name, value string) { pr.wrapped(fmt.Sprintf("  %-11s", name+":"), value) }
		if q.Ref.Written() != q.Ref.String() {
			field("reference", q.Ref.String())
		}
		field("rule", ruleText(q))
		for _, r := range q.ByTag {
			field("by tag", "tags matching "+r.Tags.String()+" get "+describeRule(r)+", requiring "+orNone(strings.ReplaceAll(platform.FormatList(r.Require), ",", ", ")))
		}
		field("require", orNone(strings.ReplaceAll(platform.FormatList(q.Require), ",", ", ")))
		if !q.Ref.IsImage() {
			field("tags", tagsText(q.Tags, q.ExcludeTags))
		}
		if len(q.PerArch) > 0 {
			field("per-arch", strings.Join(q.PerArch, ", "))
		}
		if len(q.Mirrors) > 0 {
			field("mirrors", refsText(q.Mirrors))
		}
		if len(q.Ignore) > 0 {
			field("ignore", codesText(q.Ignore))
		}
		if len(q.Severity) > 0 {
			field("severity", severityText(q.Severity))
		}
	}
	return pr.err
}

func ruleText(q policy.Requirements) string {
	switch {
	case q.Ref.IsRegistry():
		return "decided per repository of the registry; explain a repository to see it"
	case q.Rule == nil:
		return "none matches; the default applies"
	}
	return describeRule(q.Rule)
}

// describeRule names a rule as its file has it, and its canonical pattern
// when that reads differently.
func describeRule(r *policy.Rule) string {
	s := "repository " + r.Repository.Written()
	if r.Repository.Written() != r.Repository.String() {
		s += " (" + r.Repository.String() + ")"
	}
	if r.Tags != nil {
		s += ", tags " + r.Tags.String()
	}
	if r.Line > 0 {
		return fmt.Sprintf("line %d, rule %d: %s", r.Line, r.Index+1, s)
	}
	return fmt.Sprintf("rule %d: %s", r.Index+1, s)
}

func tagsText(include, exclude *regexp.Regexp) string {
	parts := []string{"every tag"}
	if include != nil {
		parts = []string{"those matching " + include.String()}
	}
	if exclude != nil {
		parts = append(parts, "but those matching "+exclude.String())
	}
	return strings.Join(parts, ", ") + " (cosign signature tags are skipped)"
}

func refsText(refs []ref.Ref) string {
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.String()
	}
	return strings.Join(names, ", ")
}

func codesText(codes []audit.Code) string {
	names := make([]string, len(codes))
	for i, c := range codes {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}

func severityText(m map[audit.Code]audit.Severity) string {
	var parts []string
	for c, s := range m {
		parts = append(parts, string(c)+" is "+s.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "nothing (only consistency is checked)"
	}
	return s
}

// explainedRule is a rule in the JSON explanation.
type explainedRule struct {
	Index      int      `json:"index"`
	Line       int      `json:"line,omitempty"`
	Repository string   `json:"repository"`
	Pattern    string   `json:"pattern"`
	Tags       string   `json:"tags,omitempty"`
	Require    []string `json:"require"`
}

type explainedRef struct {
	Ref         string                        `json:"ref"`
	Canonical   ref.Ref                       `json:"canonical"`
	Rule        *explainedRule                `json:"rule"`
	ByTag       []explainedRule               `json:"byTag,omitempty"`
	Require     []string                      `json:"require"`
	Tags        string                        `json:"tags,omitempty"`
	ExcludeTags string                        `json:"excludeTags,omitempty"`
	PerArch     []string                      `json:"perArch"`
	Mirrors     []ref.Ref                     `json:"mirrors"`
	Ignore      []audit.Code                  `json:"ignore"`
	Severity    map[audit.Code]audit.Severity `json:"severity"`
}

func renderExplanationJSON(w io.Writer, e Explanation) error {
	doc := struct {
		SchemaVersion int            `json:"schemaVersion"`
		Policy        string         `json:"policy"`
		Overrides     []string       `json:"overrides"`
		References    []explainedRef `json:"references"`
	}{SchemaVersion: SchemaVersion, Policy: e.Policy, Overrides: nonNil(e.Overrides), References: []explainedRef{}}
	for _, q := range e.References {
		x := explainedRef{
			Ref: q.Ref.Written(), Canonical: q.Ref, Require: formatEach(q.Require), PerArch: nonNil(q.PerArch),
			Mirrors: q.Mirrors, Ignore: q.Ignore, Severity: q.Severity,
		}
		if x.Mirrors == nil {
			x.Mirrors = []ref.Ref{}
		}
		if x.Ignore == nil {
			x.Ignore = []audit.Code{}
		}
		if x.Severity == nil {
			x.Severity = map[audit.Code]audit.Severity{}
		}
		if q.Rule != nil {
			r := explainRule(q.Rule)
			x.Rule = &r
		}
		for _, r := range q.ByTag {
			x.ByTag = append(x.ByTag, explainRule(r))
		}
		if q.Tags != nil {
			x.Tags = q.Tags.String()
		}
		if q.ExcludeTags != nil {
			x.ExcludeTags = q.ExcludeTags.String()
		}
		doc.References = append(doc.References, x)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

func explainRule(r *policy.Rule) explainedRule {
	x := explainedRule{Index: r.Index, Line: r.Line, Repository: r.Repository.Written(), Pattern: r.Repository.String(), Require: formatEach(r.Require)}
	if r.Tags != nil {
		x.Tags = r.Tags.String()
	}
	return x
}

func formatEach(list []platform.Platform) []string {
	out := make([]string, len(list))
	for i := range list {
		out[i] = platform.Format(&list[i])
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
