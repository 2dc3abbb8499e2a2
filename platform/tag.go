package platform

import (
	"sort"
	"strings"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// TagArch is the architecture a tag name names, as [FromTag] reads it.
type TagArch struct {
	// Token is the part of the tag that named it, as written ("aarch64").
	Token string
	// Architecture is the normalized architecture ("arm64").
	Architecture string
	// Variant is the ARM variant the token pins ("v7"), or "" when the token
	// does not say (plain "arm", "armel").
	Variant string
}

// Matches reports whether an image of platform p is what the tag promises.
// A tag that pins no variant accepts every variant of its architecture.
func (t TagArch) Matches(p specs.Platform) bool {
	if Empty(&p) {
		return false
	}
	n := Normalize(p)
	if n.Architecture != t.Architecture {
		return false
	}
	return t.Variant == "" || p.Variant == "" || n.Variant == t.Variant
}

// String writes the architecture as a platform path without the OS
// ("arm64", "arm/v7").
func (t TagArch) String() string {
	if t.Variant == "" {
		return t.Architecture
	}
	return t.Architecture + "/" + t.Variant
}

// archAliases maps a tag token to the architecture it names. It is written
// out here because no library maps tag spellings: containerd normalizes
// platform fields, but tags use docker-library prefixes (arm64v8, arm32v7)
// and Debian names (armhf, armel) that are not platform fields.
var archAliases = map[string]TagArch{
	"amd64":   {Architecture: "amd64"},
	"x86_64":  {Architecture: "amd64"},
	"x86-64":  {Architecture: "amd64"},
	"x64":     {Architecture: "amd64"},
	"arm64":   {Architecture: "arm64"},
	"aarch64": {Architecture: "arm64"},
	"arm64v8": {Architecture: "arm64"},
	"armv8":   {Architecture: "arm64"},
	"armv7":   {Architecture: "arm", Variant: "v7"},
	"armv7l":  {Architecture: "arm", Variant: "v7"},
	"armhf":   {Architecture: "arm", Variant: "v7"},
	"arm32v7": {Architecture: "arm", Variant: "v7"},
	"armv6":   {Architecture: "arm", Variant: "v6"},
	"armv6l":  {Architecture: "arm", Variant: "v6"},
	"arm32v6": {Architecture: "arm", Variant: "v6"},
	"arm32v5": {Architecture: "arm", Variant: "v5"},
	"armel":   {Architecture: "arm"},
	"arm":     {Architecture: "arm"},
	"386":     {Architecture: "386"},
	"i386":    {Architecture: "386"},
	"i686":    {Architecture: "386"},
	"ppc64le": {Architecture: "ppc64le"},
	"s390x":   {Architecture: "s390x"},
	"riscv64": {Architecture: "riscv64"},
}

// FromTag returns the architecture a tag's name names, reading the tag as
// tokens split on '-', '_' and '.' ("latest-aarch64", "arm64v8-1.2",
// "v2_x86_64"). It reports false when the tag names no architecture, or
// more than one, since such a tag promises nothing checkable.
func FromTag(tag string) (TagArch, bool) {
	tokens, seps := split(strings.ToLower(tag))
	var found []TagArch
	for i := 0; i < len(tokens); i++ {
		tok := tokens[i]
		// Two-token spellings: x86_64 and x86-64 split in two, as do
		// arm-v7 and arm64-v8.
		if i+1 < len(tokens) {
			pair := tok + tokens[i+1]
			if tok == "x86" && tokens[i+1] == "64" {
				found = append(found, TagArch{Token: tok + "_" + tokens[i+1], Architecture: "amd64"})
				i++
				continue
			}
			if a, ok := archAliases[pair]; ok && (tok == "arm" || tok == "arm64") && isVariantToken(tokens[i+1]) {
				a.Token = tok + "-" + tokens[i+1]
				found = append(found, a)
				i++
				continue
			}
		}
		a, ok := archAliases[tok]
		if !ok {
			continue
		}
		if tok == "386" && ((seps[i] == '.' && isNumber(prev(tokens, i))) || (seps[i+1] == '.' && isNumber(next(tokens, i)))) {
			// "1.386.0" is a version number, not i386; "1.0-386" is i386.
			continue
		}
		a.Token = tok
		found = append(found, a)
	}
	if len(found) == 0 {
		return TagArch{}, false
	}
	for _, a := range found[1:] {
		if a.Architecture != found[0].Architecture || a.Variant != found[0].Variant {
			return TagArch{}, false
		}
	}
	return found[0], true
}

// split cuts a tag into tokens at '-', '_' and '.'. seps[i] is the
// separator before tokens[i] (0 for none), and seps[len(tokens)] is 0.
func split(tag string) (tokens []string, seps []byte) {
	var sep byte
	start := 0
	for i := 0; i <= len(tag); i++ {
		if i < len(tag) && tag[i] != '-' && tag[i] != '_' && tag[i] != '.' {
			continue
		}
		if i > start {
			tokens = append(tokens, tag[start:i])
			seps = append(seps, sep)
		}
		if i < len(tag) {
			sep = tag[i]
		}
		start = i + 1
	}
	return tokens, append(seps, 0)
}

func isVariantToken(s string) bool {
	return len(s) == 2 && s[0] == 'v' && s[1] >= '5' && s[1] <= '8'
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func prev(tokens []string, i int) string {
	if i == 0 {
		return ""
	}
	return tokens[i-1]
}

func next(tokens []string, i int) string {
	if i+1 >= len(tokens) {
		return ""
	}
	return tokens[i+1]
}

// ArchTokens returns every tag spelling of an architecture that [FromTag]
// understands, sorted: per-arch tag templates ("{tag}-{arch}") are filled
// with each to find sibling tags.
func ArchTokens() []string {
	out := make([]string, 0, len(archAliases))
	for token := range archAliases {
		out = append(out, token)
	}
	sort.Strings(out)
	return out
}

// NamesArch reports whether a tag names one architecture, as a per-arch
// tag does ("latest-arm64", "arm32v7-1.2").
func NamesArch(tag string) bool {
	_, ok := FromTag(tag)
	return ok
}
