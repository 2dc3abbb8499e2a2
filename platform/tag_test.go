package platform

import "testing"

func TestFromTag(t *testing.T) {
	tests := []struct {
		tag  string
		want string // "" means no single architecture
	}{
		{"latest-aarch64", "arm64"},
		{"latest-arm64", "arm64"},
		{"arm64v8-1.2.3", "arm64"},
		{"1.2-arm64-v8", "arm64"},
		{"latest-amd64", "amd64"},
		{"v2_x86_64", "amd64"},
		{"v2-x86-64", "amd64"},
		{"arm32v7-latest", "arm/v7"},
		{"latest-armhf", "arm/v7"},
		{"armv6-1.0", "arm/v6"},
		{"arm-v7", "arm/v7"},
		{"arm-firefox", "arm"},
		{"latest-armel", "arm"},
		{"i386-bookworm", "386"},
		{"386-latest", "386"},
		{"1.386.0", ""},
		{"2.386", ""},
		{"1.0-386", "386"},
		{"ppc64le", "ppc64le"},
		{"s390x-3.19", "s390x"},
		{"riscv64-edge", "riscv64"},
		{"latest", ""},
		{"v0.3.0-rc.2", ""},
		{"farm-1.0", ""},
		{"amd64-arm64", ""},
		{"aarch64-arm64", "arm64"},
		{"LATEST-AARCH64", "arm64"},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			got, ok := FromTag(tt.tag)
			if tt.want == "" {
				if ok {
					t.Fatalf("FromTag(%q) = %s, want none", tt.tag, got)
				}
				return
			}
			if !ok || got.String() != tt.want {
				t.Fatalf("FromTag(%q) = %s (%v), want %s", tt.tag, got, ok, tt.want)
			}
		})
	}
}

func TestTagArchMatches(t *testing.T) {
	arm, _ := FromTag("arm-firefox")
	if !arm.Matches(plat("linux", "arm", "v7", "")) || !arm.Matches(plat("linux", "arm", "v6", "")) {
		t.Error("a plain arm tag should accept every arm variant")
	}
	v7, _ := FromTag("latest-armv7")
	if v7.Matches(plat("linux", "arm", "v6", "")) {
		t.Error("an armv7 tag must not accept arm/v6")
	}
	if !v7.Matches(plat("linux", "arm", "", "")) {
		t.Error("an armv7 tag should accept arm without a variant (unspecific, not wrong)")
	}
	a64, _ := FromTag("latest-aarch64")
	if a64.Matches(plat("linux", "amd64", "", "")) {
		t.Error("latest-aarch64 must not accept amd64 (the Komodo story)")
	}
	if a64.Matches(plat("", "", "", "")) {
		t.Error("an empty platform matches nothing")
	}
}
