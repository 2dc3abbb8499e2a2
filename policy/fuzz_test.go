package policy

import (
	"bytes"
	"errors"
	"regexp"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/ref"
)

var fuzzRefs = func() []ref.Ref {
	var out []ref.Ref
	for _, s := range []string{"registry.example.com/org/app:1.0", "alpine:3", "oci:out:1"} {
		r, err := ref.Parse(s)
		if err != nil {
			panic(err)
		}
		out = append(out, r)
	}
	return out
}()

// FuzzParse: a policy either parses or is refused with ErrInvalid.
func FuzzParse(f *testing.F) {
	f.Add([]byte(full))
	for _, s := range []string{"version: 1\n", "", "version: [1\n", "version: 1\nrules:\n  - repository: 'a/['\n", "version: 1\nseverity:\n  x: y\n", "version: 1\nrequire: {a: b}\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		for _, r := range fuzzRefs {
			_ = p.For(r)
		}
	})
}

// FuzzParseTyped: a policy with values of any YAML kind either is refused
// with ErrInvalid (a KeyError naming a line of the file) or is accepted and
// says what the source says: a non-empty require, at the top or in a rule,
// requires something; a tag pattern is the text written; every rule,
// target, mirror, template, ignored code and severity is kept.
func FuzzParseTyped(f *testing.F) {
	f.Add([]byte(full))
	for _, s := range []string{
		"version: 1\nrequire: [[linux/amd64, linux/arm64]]\n",
		"version: 1\nrules:\n  - repository: a/*\n    require: [[linux/amd64]]\n",
		"version: 1\nexclude-tags: [rc]\n",
		"version: 1\ntags: {a: b}\n",
		"version: 1\nrequire: ['']\n",
		"version: 1\nrequire: &p [linux/amd64]\nrules:\n  - &r {repository: a/*, require: *p, tags: x}\n  - <<: *r\n    repository: b/*\n",
		"version: 1\nseverity: {mixed-media-types: [error]}\nignore: [true]\n",
		"version: 1\ntargets: [1, 2024-01-01]\nper-arch: [!!binary eA==]\nmirrors: ~\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			var ke *KeyError
			if errors.As(err, &ke) && (ke.File != "fuzz.yaml" || ke.Line < 1 || ke.Line > lineBreaks(data)+1 || ke.Want != "" && ke.Key == "") {
				t.Fatalf("KeyError %+v does not name the file, a line of it and its key", ke)
			}
			return
		}
		var doc yaml.Node
		if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
			t.Fatalf("accepted a policy yaml cannot parse: %v", err)
		}
		root := resolve(doc.Content[0])
		if root == nil || root.Kind != yaml.MappingNode {
			t.Fatalf("accepted a policy that is not a map")
		}
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := root.Content[i], resolve(root.Content[i+1])
			if isMerge(k) {
				continue // explicit keys win over merged ones; these are checked where they are explicit
			}
			if policySchema.key(k.Value) == nil {
				t.Fatalf("accepted unknown key %q", k.Value)
			}
			switch k.Value {
			case "require":
				if (v.Kind == yaml.ScalarNode || len(v.Content) > 0) && len(p.Require) == 0 {
					t.Fatalf("require %q requires nothing", data)
				}
			case "tags":
				sameRegexp(t, "tags", v, p.Tags)
			case "exclude-tags":
				sameRegexp(t, "exclude-tags", v, p.ExcludeTags)
			case "targets":
				sameLen(t, k.Value, v, len(p.Targets))
			case "mirrors":
				sameLen(t, k.Value, v, len(p.Mirrors))
			case "per-arch":
				sameLen(t, k.Value, v, len(p.PerArch))
			case "ignore":
				for _, c := range v.Content {
					if !p.Ignore[audit.Code(resolve(c).Value)] {
						t.Fatalf("ignore %q: %q is not ignored", data, resolve(c).Value)
					}
				}
			case "severity":
				for j := 0; j < len(v.Content); j += 2 {
					if isMerge(v.Content[j]) {
						continue
					}
					if _, ok := p.Severity[audit.Code(resolve(v.Content[j]).Value)]; !ok {
						t.Fatalf("severity %q: %q has none", data, resolve(v.Content[j]).Value)
					}
				}
			case "rules":
				sameLen(t, k.Value, v, len(p.Rules))
				for j, item := range v.Content {
					checkRule(t, resolve(item), p.Rules[j])
				}
			}
		}
		for _, r := range fuzzRefs {
			_ = p.For(r)
		}
	})
}

func checkRule(t *testing.T, n *yaml.Node, r Rule) {
	t.Helper()
	if n == nil || n.Kind != yaml.MappingNode {
		t.Fatalf("accepted a rule that is not a map")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		switch {
		case isMerge(k):
		case k.Value == "require":
			if (v.Kind == yaml.ScalarNode || len(v.Content) > 0) && len(r.Require) == 0 {
				t.Fatalf("rule %d at line %d: a non-empty require requires nothing", r.Index, r.Line)
			}
		case k.Value == "tags":
			sameRegexp(t, "rule tags", v, r.Tags)
		case ruleSchema.key(k.Value) == nil:
			t.Fatalf("accepted unknown rule key %q", k.Value)
		}
	}
}

func sameRegexp(t *testing.T, key string, v *yaml.Node, re *regexp.Regexp) {
	t.Helper()
	switch {
	case v.Kind != yaml.ScalarNode:
		t.Fatalf("%s: accepted a %v", key, v.Kind)
	case v.Value == "" && re != nil, v.Value != "" && (re == nil || re.String() != v.Value):
		t.Fatalf("%s: %q became %v", key, v.Value, re)
	}
}

func sameLen(t *testing.T, key string, v *yaml.Node, n int) {
	t.Helper()
	if v.Kind != yaml.SequenceNode || len(v.Content) != n {
		t.Fatalf("%s: %d items became %d", key, len(v.Content), n)
	}
}

// lineBreaks bounds the number of line breaks yaml sees in data: \n, \r
// (\r\n counts twice here), and NEL, LS and PS.
func lineBreaks(data []byte) int {
	n := 0
	for _, b := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
		n += bytes.Count(data, []byte(b))
	}
	return n
}
