package policy

import (
	"errors"
	"testing"

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
