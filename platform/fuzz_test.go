package platform

import (
	"errors"
	"testing"
)

// FuzzParse: whatever Parse accepts formats and parses back to the same
// platform; whatever it refuses is an ErrInvalid, never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"linux/amd64", "linux/arm/v7", "windows(10.0.17763.5458)/amd64", "linux/aarch64", "arm64", "", "linux/*", "a/b/c/d", "linux(/amd64"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) error %v is not ErrInvalid", s, err)
			}
			return
		}
		again, err := Parse(Format(&p))
		if err != nil || Format(&again) != Format(&p) || !Same(p, again) {
			t.Fatalf("Parse(%q) = %s, which does not parse back (%v)", s, Format(&p), err)
		}
		_ = Noncanonical(p)
	})
}

// FuzzFromTag: a tag either names one known architecture or none.
func FuzzFromTag(f *testing.F) {
	for _, s := range []string{"latest-aarch64", "arm64v8-1.2", "v2_x86_64", "1.386.0", "arm-v7", "x86-64", "amd64-arm64", "-.-_", "arm"} {
		f.Add(s)
	}
	known := map[string]bool{}
	for _, tok := range ArchTokens() {
		a, _ := FromTag(tok)
		known[a.Architecture] = true
	}
	f.Fuzz(func(t *testing.T, tag string) {
		a, ok := FromTag(tag)
		if ok && (!known[a.Architecture] || a.Token == "") {
			t.Fatalf("FromTag(%q) = %+v: not a known architecture", tag, a)
		}
	})
}
