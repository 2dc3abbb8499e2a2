package ref_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/ref"
)

// FuzzParse: any string is a reference or an ErrInvalid, and a reference's
// canonical form parses back to the same reference.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"ghcr.io/org/app:1.0", "localhost:5000/app@sha256:" + strings.Repeat("a", 64), "oci:./out:tag",
		"oci:out:docker.io/library/app:1.0", "registry.example.com/", "UPPER/case", "a:b:c/d", "", "oci:", "@", "::/", "docker://alpine",
		"docker-daemon:app", "docker-daemon:app:1.0", "docker-daemon:ghcr.io/org/app@sha256:" + strings.Repeat("b", 64), "docker-daemon:", "docker-daemon:x/"} {
		f.Add(s)
	}
	// Hostile strings: look-alike and invisible characters, zones, ports
	// out of range, escapes and control characters.
	for _, h := range hostile {
		f.Add(h.in)
	}
	for _, s := range []string{"localhost:5000/app:1\x1b[31m", "localhost:5000/app\r\n:1", "oci:out\x00:tag", "oci:\ufeffout:1",
		"%EF%BB%BF127.0.0.2:5200/app:1", "[::ffff:127.0.0.1]:5000/app:1", "docker://\ufefflocalhost:5000/", "localhost:5000/app:1@sha256:" + strings.Repeat("g", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ref.Parse(s)
		if err != nil {
			if !errors.Is(err, ref.ErrInvalid) {
				t.Fatalf("Parse(%q) error %v is not ErrInvalid", s, err)
			}
			return
		}
		again, err := ref.Parse(r.String())
		if err != nil || !again.Equal(r) {
			t.Fatalf("Parse(%q) = %q, which parses back as %#v, %v", s, r, again, err)
		}
	})
}

// FuzzParsePattern: any string is a pattern or an ErrInvalid, and matching
// never panics.
func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"ghcr.io/org/*", "docker.io/library/*", "alpine", "oci:out*", "[", "ghcr.io/", "*.dkr.ecr.*.amazonaws.com/app", "Upper/case"} {
		f.Add(s)
	}
	r, err := ref.Parse("index.docker.io/library/alpine:3")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ref.ParsePattern(s)
		if err != nil {
			if !errors.Is(err, ref.ErrInvalid) {
				t.Fatalf("ParsePattern(%q) error %v is not ErrInvalid", s, err)
			}
			return
		}
		_ = p.Match(r)
	})
}
