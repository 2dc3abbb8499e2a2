package policy

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file is the one place that knows what YAML kind each key of a
// policy file takes. check walks the parsed document against policySchema
// before any value is decoded, so that a value of the wrong kind (a list of
// lists where a list of platforms belongs, a list where a regular expression
// belongs, null) is refused with its line instead of decoding to nothing.
// The types in yaml.go then check the values themselves.

// shape is the YAML kind a key takes.
type shape int

const (
	// text is one scalar read as the text written: a string, or a number
	// or date, which keep their spelling. true, false, null and binary
	// are refused.
	text shape = iota
	// number is one integer scalar.
	number
	// list is a sequence whose items have the shape item.
	list
	// textOrList is one text or a list of texts.
	textOrList
	// fields is a map with the keys in keys.
	fields
	// textMap is a map from texts to texts.
	textMap
)

// schema says what one key takes.
type schema struct {
	shape shape
	// want and example complete "key K must be WANT, e.g. EXAMPLE".
	want, example string
	// item is the shape of a list's items; nil means text.
	item *schema
	// keys are a map's keys, in the order the help lists them.
	keys []field
}

type field struct {
	name string
	*schema
}

var (
	platformsSchema = &schema{shape: textOrList, want: "a list of platforms", example: "[linux/amd64, linux/arm64]"}
	tagsSchema      = &schema{shape: text, want: "one regular expression over tags", example: `'^v\d'`}

	ruleSchema = &schema{shape: fields, want: "a rule", example: "{repository: ghcr.io/org/*, require: [linux/amd64]}", keys: []field{
		{"repository", &schema{shape: text, want: "one repository glob", example: "ghcr.io/org/*"}},
		{"tags", tagsSchema},
		{"require", platformsSchema},
	}}

	// policySchema is the shape of a policy file; file in yaml.go has a
	// field for each of its keys (TestSchemaMatchesFile).
	policySchema = &schema{shape: fields, want: "a map of keys", example: "version: 1", keys: []field{
		{"version", &schema{shape: number, want: "a number", example: "version: 1"}},
		{"targets", &schema{shape: list, want: "a list of references", example: "[ghcr.io/org/runtime, alpine:3]"}},
		{"require", platformsSchema},
		{"require-signatures", &schema{shape: text, want: "which manifests must be signed: index, children or all", example: "require-signatures: all"}},
		{"rules", &schema{shape: list, want: "a list of rules", example: "[{repository: ghcr.io/org/*, require: [linux/amd64]}]", item: ruleSchema}},
		{"tags", tagsSchema},
		{"exclude-tags", &schema{shape: text, want: "one regular expression over tags", example: `'rc|nightly'`}},
		{"per-arch", &schema{shape: list, want: "a list of per-arch tag templates", example: `["{tag}-{arch}"]`}},
		{"mirrors", &schema{shape: list, want: "a list of mirror prefixes", example: "[registry.internal/mirror]"}},
		{"ignore", &schema{shape: list, want: "a list of finding codes", example: "[noncanonical-platform]"}},
		{"severity", &schema{shape: textMap, want: "a map from finding codes to warning or error", example: "{mixed-media-types: error}"}},
	}}

	// knownKeys lists the keys for "unknown key" errors:
	// "version, targets, require, rules (repository, tags, require), ...".
	knownKeys = keyList(policySchema)
)

func keyList(s *schema) string {
	names := make([]string, 0, len(s.keys))
	for _, f := range s.keys {
		name := f.name
		if f.item != nil && f.item.shape == fields {
			name += " (" + keyList(f.item) + ")"
		}
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}

func (s *schema) key(name string) *schema {
	for _, f := range s.keys {
		if f.name == name {
			return f.schema
		}
	}
	return nil
}

// KeyError is a key a policy file must not have, or one whose value is of
// the wrong YAML kind. It wraps ErrInvalid.
type KeyError struct {
	// File and Line say where the key or value is.
	File string
	Line int
	Key  string
	// Want and Example say what the key takes and Got what the file
	// gives; all three are empty for a key that policy files do not have.
	Want, Example, Got string
}

func (e *KeyError) Error() string {
	if e.Want == "" {
		return fmt.Sprintf("%s:%d: unknown key %q; the keys are %s", e.File, e.Line, e.Key, knownKeys)
	}
	return fmt.Sprintf("%s:%d: key %q must be %s, e.g. %s; got %s", e.File, e.Line, e.Key, e.Want, e.Example, e.Got)
}

func (e *KeyError) Unwrap() error { return ErrInvalid }

// keyErrors are every KeyError of one file, in file order.
type keyErrors []error

func (es keyErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	if len(lines) == 1 {
		return ErrInvalid.Error() + ": " + lines[0]
	}
	return ErrInvalid.Error() + ":\n  " + strings.Join(lines, "\n  ")
}

func (es keyErrors) Unwrap() []error { return es }

// check walks a parsed document against policySchema and returns a
// keyErrors, or nil when every key is known and of the right kind. It
// visits each node once per schema, so aliases cannot make it do more
// work than the document's size.
func check(name string, doc *yaml.Node) error {
	c := &checker{file: name, seen: map[visit]bool{}}
	root := doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	root = resolve(root)
	if root == nil || isNull(root) {
		return nil // Parse says the version is missing
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%w: %s:%d: a policy must be a map of keys, e.g. \"version: 1\" on the first line; got %s", ErrInvalid, name, root.Line, describe(root))
	}
	c.mapping("", root, policySchema)
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs
}

type checker struct {
	file string
	errs keyErrors
	seen map[visit]bool
}

type visit struct {
	n *yaml.Node
	s *schema
}

func (c *checker) fail(line int, key string, s *schema, got string) {
	c.errs = append(c.errs, &KeyError{File: c.file, Line: line, Key: key, Want: s.want, Example: s.example, Got: got})
}

// mapping checks a map that is the value of key against s, a fields or
// textMap schema, with the maps it merges with "<<".
func (c *checker) mapping(key string, n *yaml.Node, s *schema) {
	if c.seen[visit{n, s}] {
		return
	}
	c.seen[visit{n, s}] = true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			c.merge(key, k, resolve(v), s)
			continue
		}
		if s.shape == textMap {
			switch rk, rv := resolve(k), resolve(v); {
			case rk == nil || !isText(rk):
				c.fail(k.Line, key, s, describe(rk)+" as a key")
			case rv == nil || !isText(rv):
				c.fail(v.Line, key, s, fmt.Sprintf("%q: %s", short(rk.Value), describe(rv)))
			}
			continue
		}
		sub := s.key(k.Value)
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" || sub == nil {
			c.errs = append(c.errs, &KeyError{File: c.file, Line: k.Line, Key: keyName(k)})
			continue
		}
		c.value(k.Line, k.Value, v, sub)
	}
}

// merge checks the maps that "<<" merges into a map checked against s.
func (c *checker) merge(key string, k, v *yaml.Node, s *schema) {
	mergeSchema := &schema{want: "a map or a list of maps to merge", example: "<<: *defaults"}
	if v == nil {
		c.fail(k.Line, k.Value, mergeSchema, "nothing")
		return
	}
	maps := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		maps = v.Content
	}
	for _, m := range maps {
		if m := resolve(m); m != nil && m.Kind == yaml.MappingNode {
			c.mapping(key, m, s)
		} else {
			c.fail(k.Line, k.Value, mergeSchema, describe(v))
			return
		}
	}
}

// value checks the value v of key, on line, against s.
func (c *checker) value(line int, key string, v *yaml.Node, s *schema) {
	v = resolve(v)
	if v == nil {
		c.fail(line, key, s, "nothing")
		return
	}
	switch s.shape {
	case text:
		if !isText(v) {
			c.fail(line, key, s, describe(v))
		}
	case number:
		if tag := v.ShortTag(); v.Kind != yaml.ScalarNode || tag != "!!int" && tag != "!!float" {
			c.fail(line, key, s, describe(v))
		}
	case textOrList, list:
		if s.shape == textOrList && isText(v) {
			return
		}
		if v.Kind != yaml.SequenceNode {
			c.fail(line, key, s, describe(v))
			return
		}
		if c.seen[visit{v, s}] {
			return
		}
		c.seen[visit{v, s}] = true
		for _, item := range v.Content {
			r := resolve(item)
			switch {
			case s.item == nil && r != nil && isText(r):
			case s.item != nil && r != nil && r.Kind == yaml.MappingNode:
				c.mapping(key, r, s.item)
			default:
				c.fail(item.Line, key, s, "a list of "+plural(r))
				return
			}
		}
	case fields, textMap:
		if v.Kind != yaml.MappingNode {
			c.fail(line, key, s, describe(v))
			return
		}
		c.mapping(key, v, s)
	}
}

// isText reports whether n is one scalar whose text is its value: a
// string, number or date. true, false, null, binary data and values with
// other tags are not.
func isText(n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!timestamp":
		return true
	}
	return false
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// isMerge is yaml's own test for a merge key ("<<").
func isMerge(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "<<" && (n.Tag == "" || n.Tag == "!" || n.Tag == "!!merge" || n.Tag == "tag:yaml.org,2002:merge")
}

// resolve follows an alias to the node it names; nil for a dangling one.
func resolve(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode {
		return n.Alias
	}
	return n
}

// describe says what n is, for "got ...".
func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return "an empty list"
		}
		if r := resolve(n.Content[0]); r == nil || r.Kind != yaml.ScalarNode || !isText(r) {
			return "a list of " + plural(r)
		}
		return "a list"
	case yaml.MappingNode:
		return "a map"
	case yaml.ScalarNode:
		switch tag := n.ShortTag(); tag {
		case "!!null":
			return "null (nothing)"
		case "!!bool":
			return "a boolean, " + short(n.Value) + " (quote it if you mean the text)"
		case "!!int", "!!float":
			return "a number, " + short(n.Value)
		case "!!str":
			return fmt.Sprintf("a string, %q", short(n.Value))
		case "!!timestamp":
			return "a date, " + short(n.Value)
		case "!!binary":
			return "binary data"
		default:
			return fmt.Sprintf("a value tagged %q", short(tag))
		}
	}
	return "a value yaml cannot read"
}

// plural names the items of a list like n, for "got a list of ...".
func plural(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.SequenceNode:
		return "lists"
	case yaml.MappingNode:
		return "maps"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nulls (an empty item)"
		case "!!bool":
			return "booleans, " + short(n.Value) + " (quote it if you mean the text)"
		case "!!binary":
			return "binary data"
		case "!!str":
			return "strings"
		case "!!int", "!!float":
			return "numbers"
		case "!!timestamp":
			return "dates"
		default:
			return fmt.Sprintf("values tagged %q", short(n.ShortTag()))
		}
	}
	return "values yaml cannot read"
}

// keyName shows a key that is not a plain string.
func keyName(k *yaml.Node) string {
	switch {
	case isNull(k):
		return describe(k)
	case k.Kind == yaml.ScalarNode:
		return short(k.Value)
	case k.Kind == yaml.AliasNode:
		return "*" + short(k.Value)
	}
	return describe(k)
}

// short keeps a value from the file short enough for one message.
func short(s string) string {
	const max = 40
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "..."
	}
	return s
}
