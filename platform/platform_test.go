package platform

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "linux/amd64", want: "linux/amd64"},
		{in: "linux/x86_64", want: "linux/amd64"},
		{in: "linux/aarch64", want: "linux/arm64"},
		{in: "linux/arm64/v8", want: "linux/arm64"},
		{in: "linux/arm", want: "linux/arm/v7"},
		{in: "linux/arm/v6", want: "linux/arm/v6"},
		{in: "linux/armhf", want: "linux/arm/v7"},
		{in: " linux/s390x ", want: "linux/s390x"},
		{in: "windows(10.0.17763)/amd64", want: "windows(10.0.17763)/amd64"},
		{in: "arm64", wantErr: true},
		{in: "linux", wantErr: true},
		{in: "", wantErr: true},
		{in: "linux/arm/v7/extra", wantErr: true},
		{in: "linux/*", wantErr: true},
		{in: "linux/am d64", wantErr: true},
		{in: "/amd64", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := Parse(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Parse(%q) error = %v, want ErrInvalid", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := Format(&p); got != tt.want {
				t.Errorf("Parse(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseList(t *testing.T) {
	got, err := ParseList("linux/amd64, linux/arm64,,linux/aarch64,linux/arm/v7")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, Format(&p))
	}
	want := []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}
	if len(names) != len(want) {
		t.Fatalf("ParseList = %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("ParseList = %v, want %v", names, want)
		}
	}
	if _, err := ParseList("linux/amd64,arm64"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ParseList with a bare arch: err = %v, want ErrInvalid", err)
	}
}

func plat(os, arch, variant, osVersion string) specs.Platform {
	return specs.Platform{OS: os, Architecture: arch, Variant: variant, OSVersion: osVersion}
}

func TestSame(t *testing.T) {
	tests := []struct {
		name string
		a, b specs.Platform
		want bool
	}{
		{"identical", plat("linux", "amd64", "", ""), plat("linux", "amd64", "", ""), true},
		{"aarch64 is arm64", plat("linux", "arm64", "", ""), plat("linux", "aarch64", "", ""), true},
		{"arm64/v8 is arm64", plat("linux", "arm64", "", ""), plat("linux", "arm64", "v8", ""), true},
		{"arm is arm/v7", plat("linux", "arm", "v7", ""), plat("linux", "arm", "", ""), true},
		{"arm/v7 is not arm64", plat("linux", "arm64", "", ""), plat("linux", "arm", "v7", ""), false},
		{"arm/v6 is not arm/v7", plat("linux", "arm", "v7", ""), plat("linux", "arm", "v6", ""), false},
		{"386 is not amd64", plat("linux", "amd64", "", ""), plat("linux", "386", "", ""), false},
		{"os differs", plat("linux", "amd64", "", ""), plat("windows", "amd64", "", ""), false},
		{"windows any version", plat("windows", "amd64", "", ""), plat("windows", "amd64", "", "10.0.17763.5458"), true},
		{"windows version prefix", plat("windows", "amd64", "", "10.0.17763"), plat("windows", "amd64", "", "10.0.17763.5458"), true},
		{"windows version differs", plat("windows", "amd64", "", "10.0.17763"), plat("windows", "amd64", "", "10.0.20348.2227"), false},
		{"windows version required", plat("windows", "amd64", "", "10.0.17763"), plat("windows", "amd64", "", ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Same(tt.a, tt.b); got != tt.want {
				t.Errorf("Same(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestAgrees(t *testing.T) {
	tests := []struct {
		name            string
		claimed, config specs.Platform
		want            bool
	}{
		{"same", plat("linux", "arm64", "v8", ""), plat("linux", "arm64", "", ""), true},
		{"amd64 listed as arm64", plat("linux", "arm64", "", ""), plat("linux", "amd64", "", ""), false},
		{"config omits arm variant", plat("linux", "arm", "v6", ""), plat("linux", "arm", "", ""), true},
		{"config names another variant", plat("linux", "arm", "v6", ""), plat("linux", "arm", "v7", ""), false},
		{"config spells x86_64", plat("linux", "amd64", "", ""), plat("linux", "x86_64", "", ""), true},
		{"windows config omits version", plat("windows", "amd64", "", "10.0.17763.1"), plat("windows", "amd64", "", ""), true},
		{"windows versions differ", plat("windows", "amd64", "", "10.0.17763.1"), plat("windows", "amd64", "", "10.0.20348.1"), false},
		{"os differs", plat("linux", "amd64", "", ""), plat("windows", "amd64", "", ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Agrees(tt.claimed, tt.config); got != tt.want {
				t.Errorf("Agrees(%v, %v) = %v, want %v", tt.claimed, tt.config, got, tt.want)
			}
		})
	}
}

func TestNoncanonical(t *testing.T) {
	tests := []struct {
		p    specs.Platform
		want bool
	}{
		{plat("linux", "amd64", "", ""), false},
		{plat("linux", "arm64", "v8", ""), false},
		{plat("linux", "arm64", "", ""), false},
		{plat("linux", "arm", "v7", ""), false},
		{plat("linux", "aarch64", "", ""), true},
		{plat("linux", "x86_64", "", ""), true},
		{plat("linux", "arm", "", ""), true},
		{plat("linux", "arm", "7", ""), true},
		{plat("Linux", "amd64", "", ""), true},
		{plat("", "", "", ""), false},
	}
	for _, tt := range tests {
		why := Noncanonical(tt.p)
		if (why != "") != tt.want {
			t.Errorf("Noncanonical(%v) = %q, want noncanonical=%v", tt.p, why, tt.want)
		}
	}
}

func TestEmptyIsNotNormalizedToHost(t *testing.T) {
	p := specs.Platform{Architecture: "amd64"}
	if !Empty(&p) {
		t.Fatal("a platform without OS must be Empty")
	}
	if got := Format(&p); got != "unknown" {
		t.Fatalf("Format(no OS) = %q, want unknown (containerd would fill in the host OS)", got)
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		in   specs.Platform
		want string
	}{
		{plat("linux", "aarch64", "", ""), "linux/arm64"},
		{plat("linux", "arm64", "v8", ""), "linux/arm64/v8"},
		{plat("linux", "arm", "", ""), "linux/arm/v7"},
		{plat("linux", "x86_64", "", ""), "linux/amd64"},
		{plat("windows", "amd64", "", "10.0.17763.5458"), "windows(10.0.17763.5458)/amd64"},
	}
	for _, tt := range tests {
		c := Canonical(tt.in)
		got := c.OS + "/" + c.Architecture
		if c.Variant != "" {
			got += "/" + c.Variant
		}
		if c.OSVersion != "" {
			got = c.OS + "(" + c.OSVersion + ")/" + c.Architecture
		}
		if got != tt.want || Noncanonical(c) != "" {
			t.Errorf("Canonical(%v) = %s (noncanonical: %q), want %s", tt.in, got, Noncanonical(c), tt.want)
		}
	}
}

func TestArchTokensAreAllRecognised(t *testing.T) {
	for _, tok := range ArchTokens() {
		if _, ok := FromTag("1.0-" + tok); !ok {
			t.Errorf("FromTag does not read its own token %q", tok)
		}
	}
}
