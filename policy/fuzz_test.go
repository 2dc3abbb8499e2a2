package policy

import (
	"errors"
	"testing"
)

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
		_ = p.RequireFor("registry.example.com/org/app:1.0")
	})
}
