package policy

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/audit"
)

// wrongFor lists values of the wrong YAML kind for each shape, written in
// flow style so that each sits on its key's line.
var wrongFor = map[shape][]string{
	text: {
		"~", "", "null", "[]", "[x]", "[[x]]", "{a: b}", "[{a: b}]", "true", "false",
		"!!binary eA==", "!custom x", "!!null ''", "!!bool true",
	},
	number: {
		"~", "", "'1'", "\"1\"", "v1", "!!str 1", "[1]", "[]", "{a: 1}", "true", "!!binary MQ==", "!custom 1", "2024-01-01",
	},
	list: {
		"~", "", "x", "'x'", "5", "true", "{a: b}", "[[x]]", "[[]]", "[{a: b}]", "[~]", "[true]", "[x, [y]]",
		"[x, {y: z}]", "[x, ~]", "[!!binary eA==]", "[!custom x]", "!!binary eA==",
	},
	textOrList: {
		"~", "", "null", "true", "{a: b}", "{linux/amd64: true}", "[[linux/amd64, linux/arm64]]", "[[]]", "[{a: b}]",
		"[~]", "[true]", "[linux/amd64, [linux/arm64]]", "[linux/amd64, {linux/arm64: x}]", "[linux/amd64, ~]",
		"!!binary eA==", "!custom linux/amd64", "[!custom linux/amd64]",
	},
	textMap: {
		"~", "", "error", "5", "true", "[]", "[mixed-media-types]", "[{mixed-media-types: error}]",
		"{mixed-media-types: [error]}", "{mixed-media-types: {a: b}}", "{mixed-media-types: ~}",
		"{mixed-media-types: true}", "{[mixed-media-types]: error}", "{{a: b}: error}", "{~: error}",
		"{mixed-media-types: !custom error}",
	},
}

// rulesWrong are wrong values for rules, a list of maps.
var rulesWrong = []string{
	"~", "", "x", "5", "true", "{repository: a/*}", "[a/*]", "[[a/*]]", "[~]", "[true]",
	"[{repository: a/*}, x]", "[{repository: a/*}, [x]]", "!custom x",
}

// TestWrongTypes: every key refuses a value of every wrong YAML kind with
// an error that names the file, the line and the key, says what the key
// takes with an example, and what it got.
func TestWrongTypes(t *testing.T) {
	type tc struct{ name, yaml, key string }
	var cases []tc
	for _, f := range policySchema.keys {
		values := wrongFor[f.shape]
		if f.name == "rules" {
			values = rulesWrong
		}
		for _, v := range values {
			// The key is on line 3; version is given first unless it is the key.
			doc := "version: 1\n# line 2\n" + f.name + ": " + v + "\n"
			if f.name == "version" {
				doc = "# line 1\n# line 2\nversion: " + v + "\n"
			}
			cases = append(cases, tc{f.name + ": " + v, doc, f.name})
		}
	}
	for _, f := range ruleSchema.keys {
		for _, v := range wrongFor[f.shape] {
			// The key is on line 4, in a rule that is otherwise valid.
			other := "repository: ghcr.io/org/*"
			if f.name == "repository" {
				other = "require: [linux/amd64]"
			}
			doc := "version: 1\nrules:\n  - " + other + "\n    " + f.name + ": " + v + "\n"
			cases = append(cases, tc{"rules[0]." + f.name + ": " + v, doc, f.name})
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			line := 3
			if strings.HasPrefix(c.name, "rules[0].") {
				line = 4
			}
			p, err := Parse([]byte(c.yaml), "policy.yaml")
			if err == nil {
				t.Fatalf("%q parsed as %+v; want an error", c.yaml, p)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, not ErrInvalid", err)
			}
			var ke *KeyError
			if !errors.As(err, &ke) {
				t.Fatalf("err = %v, not a *KeyError", err)
			}
			if ke.File != "policy.yaml" || ke.Line != line || ke.Key != c.key || ke.Want == "" || ke.Example == "" || ke.Got == "" {
				t.Errorf("KeyError %+v; want policy.yaml line %d, key %q, and what it takes and got", ke, line, c.key)
			}
			want := fmt.Sprintf("policy.yaml:%d: key %q must be ", line, c.key)
			if msg := err.Error(); !strings.Contains(msg, want) || !strings.Contains(msg, ", e.g. ") || !strings.Contains(msg, "; got ") {
				t.Errorf("err = %v\nwant it to say %s..., e.g. ...; got ...", err, want)
			}
		})
	}
}

// TestWrongTypesMessages pins the wording of a few, including the ones
// that used to pass: a nested require, at the top and in a rule, and
// tag patterns given as a list or a map.
func TestWrongTypesMessages(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"version: 1\nrequire: [[linux/amd64, linux/arm64]]\n",
			`invalid policy: policy.yaml:2: key "require" must be a list of platforms, e.g. [linux/amd64, linux/arm64]; got a list of lists`},
		{"version: 1\nrules:\n  - repository: ghcr.io/org/*\n    require:\n      - [linux/amd64, linux/arm64]\n",
			`invalid policy: policy.yaml:5: key "require" must be a list of platforms, e.g. [linux/amd64, linux/arm64]; got a list of lists`},
		{"version: 1\nexclude-tags: [rc]\n",
			`policy.yaml:2: key "exclude-tags" must be one regular expression over tags, e.g. 'rc|nightly'; got a list`},
		{"version: 1\ntags:\n  a: b\n",
			`policy.yaml:2: key "tags" must be one regular expression over tags, e.g. '^v\d'; got a map`},
		{"version: 1\nrequire:\n",
			`policy.yaml:2: key "require" must be a list of platforms, e.g. [linux/amd64, linux/arm64]; got null (nothing)`},
		{"version: 1\nignore: [true]\n",
			`policy.yaml:2: key "ignore" must be a list of finding codes, e.g. [noncanonical-platform]; got a list of booleans, true (quote it if you mean the text)`},
		{"version: '1'\n",
			`policy.yaml:1: key "version" must be a number, e.g. version: 1; got a string, "1"`},
		{"version: 1\nseverity:\n  mixed-media-types:\n    - error\n",
			`policy.yaml:4: key "severity" must be a map from finding codes to warning or error, e.g. {mixed-media-types: error}; got "mixed-media-types": a list`},
		{"version: 1\nrules: [ghcr.io/org/*]\n",
			`policy.yaml:2: key "rules" must be a list of rules, e.g. [{repository: ghcr.io/org/*, require: [linux/amd64]}]; got a list of strings`},
		{"- version: 1\n",
			`policy.yaml:1: a policy must be a map of keys, e.g. "version: 1" on the first line; got a list`},
		{"version: 1\nseverity: {<<: [error]}\n",
			`policy.yaml:2: key "<<" must be a map or a list of maps to merge`},
		{"version: 1\nseverity: {<<: {mixed-media-types: [error]}}\n",
			`policy.yaml:2: key "severity" must be a map from finding codes to warning or error, e.g. {mixed-media-types: error}; got "mixed-media-types": a list`},
		{"version: 1\n<<: [linux/amd64]\n",
			`policy.yaml:2: key "<<" must be a map or a list of maps to merge`},
		// Every problem is reported, unknown keys with the others, in file order.
		{"version: 1\nrequire: [[linux/amd64]]\nrequires: [linux/amd64]\nrules:\n  - repository: a/*\n    tags: [x]\n",
			"invalid policy:\n  policy.yaml:2: key \"require\" must be a list of platforms, e.g. [linux/amd64, linux/arm64]; got a list of lists\n  policy.yaml:3: unknown key \"requires\"; the keys are version, targets, require, require-signatures, rules (repository, tags, require), tags, exclude-tags, per-arch, mirrors, ignore, severity\n  policy.yaml:6: key \"tags\" must be one regular expression over tags, e.g. '^v\\d'; got a list"},
	} {
		_, err := Parse([]byte(tt.yaml), "policy.yaml")
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v\nwant it to say %s", tt.yaml, err, tt.want)
		}
	}
}

// TestEmptyValues: an item that names no platform is refused, so a
// requirement that looks non-empty never requires nothing; an empty tag
// pattern sets no filter, as the flags' empty values do, instead of
// excluding every tag.
func TestEmptyValues(t *testing.T) {
	for _, s := range []string{"require: ''", "require: ['']", "require: [linux/amd64, ' , ']", "rules: [{repository: a/*, require: ''}]"} {
		if _, err := Parse([]byte("version: 1\n"+s+"\n"), "policy.yaml"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "names no platform") {
			t.Errorf("%s: err = %v; want it to say the item names no platform", s, err)
		}
	}
	p, err := Parse([]byte("version: 1\nrequire: []\ntags: ''\nexclude-tags: \"\"\nrules: [{repository: a/*, tags: ''}]\n"), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Require) != 0 || p.Tags != nil || p.ExcludeTags != nil || p.Rules[0].Tags != nil {
		t.Errorf("require %v, tags %v, exclude-tags %v, rule tags %v; want no requirement and no filters", p.Require, p.Tags, p.ExcludeTags, p.Rules[0].Tags)
	}
}

// TestRightTypesStillParse: what the checks allow. Numbers and dates are
// read as written where text is expected, aliases and merges work, and
// require takes one comma-separated string as well as a list.
func TestRightTypesStillParse(t *testing.T) {
	p, err := Parse([]byte(`version: 1
x-defaults: &defaults
  require: [linux/amd64, linux/arm64]
`), "policy.yaml")
	if err == nil {
		t.Fatalf("an unknown key (even one holding an anchor) is refused: %+v", p)
	}
	p, err = Parse([]byte(`version: 1
require: &both [linux/amd64, &arm linux/arm64]
targets: [1, 2024-01-01, ghcr.io/org/app]
tags: 2024
exclude-tags: 1.10
rules:
  - &edge
    repository: ghcr.io/org/edge-*
    require: linux/amd64, linux/arm/v7
  - <<: *edge
    repository: ghcr.io/org/other
  - <<: [*edge]
    repository: ghcr.io/org/third
    require: *both
  - repository: ghcr.io/org/arm
    require: [*arm]
severity: {<<: {noncanonical-platform: error}, mixed-media-types: !!str error}
`), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Targets) != 3 || p.Targets[0].String() != "index.docker.io/library/1" || p.Tags.String() != "2024" || p.ExcludeTags.String() != "1.10" {
		t.Errorf("targets %v, tags %v, exclude-tags %v: want the text as written", p.Targets, p.Tags, p.ExcludeTags)
	}
	if len(p.Rules) != 4 || formats(t, p.Rules[1].Require) != "linux/amd64,linux/arm/v7" || formats(t, p.Rules[2].Require) != "linux/amd64,linux/arm64" || formats(t, p.Rules[3].Require) != "linux/arm64" {
		t.Errorf("rules %+v: want the merged requirement, and the aliases' (not their names)", p.Rules)
	}
	if p.Severity[audit.NoncanonicalPlatform] != audit.Error || p.Severity[audit.MixedMediaTypes] != audit.Error {
		t.Errorf("severity %v: want the merged one and the one given", p.Severity)
	}
}

// TestSchemaMatchesFile: the schema and the structs decoded after it have
// the same keys, so a key added to one cannot skip the checks.
func TestSchemaMatchesFile(t *testing.T) {
	for _, c := range []struct {
		s *schema
		v any
	}{{policySchema, file{}}, {ruleSchema, rule{}}} {
		var keys, tags []string
		for _, f := range c.s.keys {
			keys = append(keys, f.name)
		}
		typ := reflect.TypeOf(c.v)
		for i := 0; i < typ.NumField(); i++ {
			tags = append(tags, typ.Field(i).Tag.Get("yaml"))
		}
		if fmt.Sprint(keys) != fmt.Sprint(tags) {
			t.Errorf("%s: schema keys %v, struct keys %v", typ, keys, tags)
		}
	}
}

// TestAliasesDoNotMultiplyWork: a document that names one list many times
// over is checked in time linear in its size.
func TestAliasesDoNotMultiplyWork(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nrequire: &p [")
	for i := 0; i < 1000; i++ {
		b.WriteString("[linux/amd64], ")
	}
	b.WriteString("]\nrules:\n")
	for i := 0; i < 1000; i++ {
		b.WriteString("  - {repository: a/*, require: *p}\n")
	}
	_, err := Parse([]byte(b.String()), "policy.yaml")
	var es keyErrors
	if !errors.As(err, &es) || len(es) != 1 {
		t.Fatalf("err = %v; want one error, for the list the alias names", err)
	}
}
