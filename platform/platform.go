package platform

import (
	"errors"
	"fmt"
	"strings"

	"github.com/containerd/platforms"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Platform is the OCI image spec's platform, named here so callers need
// not import the image spec for it (containerd's platforms does the same).
type Platform = specs.Platform

// ErrInvalid is wrapped by every error Parse and ParseList return, so callers
// can tell a bad platform apart from other failures with errors.Is.
var ErrInvalid = errors.New("invalid platform")

// Parse reads one platform written as OS/ARCH[/VARIANT], with an optional
// Windows version in parentheses: "linux/arm64", "linux/arm/v7",
// "windows(10.0.17763)/amd64". The result is normalized.
//
// Unlike containerd's platforms.Parse, a lone "arm64" or "linux" is refused:
// a required platform must not depend on the machine mlaudit runs on.
func Parse(s string) (specs.Platform, error) {
	s = strings.TrimSpace(s)
	if strings.Count(s, "/") < 1 || strings.Count(s, "/") > 2 {
		return specs.Platform{}, fmt.Errorf("%w %q: write OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm/v7", ErrInvalid, s)
	}
	p, err := platforms.Parse(s)
	if err != nil {
		return specs.Platform{}, fmt.Errorf("%w %q: %v", ErrInvalid, s, err)
	}
	if p.OS == "" || p.Architecture == "" {
		return specs.Platform{}, fmt.Errorf("%w %q: both OS and architecture are needed, e.g. linux/amd64", ErrInvalid, s)
	}
	return platforms.Normalize(p), nil
}

// ParseList reads a comma-separated list of platforms, as given to
// --require. Empty items are ignored; duplicates are removed.
func ParseList(s string) ([]specs.Platform, error) {
	var out []specs.Platform
	for _, item := range strings.Split(s, ",") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		p, err := Parse(item)
		if err != nil {
			return nil, err
		}
		if !containsSame(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

func containsSame(list []specs.Platform, p specs.Platform) bool {
	for _, q := range list {
		if Same(q, p) {
			return true
		}
	}
	return false
}

// Empty reports whether p lacks an OS or an architecture, as an index entry
// without a platform does. Such a platform must not be normalized: containerd
// fills an empty OS with the host's.
func Empty(p *specs.Platform) bool {
	return p == nil || p.OS == "" || p.Architecture == ""
}

// Normalize returns containerd's canonical form of p, as [Same] compares it.
// Call it only on a platform that is not [Empty].
func Normalize(p specs.Platform) specs.Platform {
	return platforms.Normalize(p)
}

// Format writes p in containerd's form after normalization ("linux/arm/v7"),
// with a Windows os.version in parentheses when it is set. An [Empty]
// platform is written "unknown".
func Format(p *specs.Platform) string {
	if Empty(p) {
		return "unknown"
	}
	return platforms.FormatAll(platforms.Normalize(*p))
}

// FormatList writes platforms as ParseList reads them, comma-separated
// ("linux/amd64,linux/arm64").
func FormatList(list []specs.Platform) string {
	names := make([]string, len(list))
	for i := range list {
		names[i] = Format(&list[i])
	}
	return strings.Join(names, ",")
}

// Same reports whether a and b name the same platform after normalization,
// with containerd's OnlyStrict semantics (arm/v7 never stands in for arm64,
// nor 386 for amd64). For Windows the os.version must agree as well; a
// version that is a dot-prefix of the other ("10.0.17763" and
// "10.0.17763.5458") agrees.
func Same(a, b specs.Platform) bool {
	if !platforms.OnlyStrict(a).Match(b) {
		return false
	}
	return osVersionAgrees(a, b, false)
}

// Agrees reports whether the platform an index entry claims agrees with the
// platform its image config states. It is [Same], except that a config that
// omits the variant or the os.version leaves that field unchecked: such a
// config is unspecific, not contradictory.
func Agrees(claimed, config specs.Platform) bool {
	if config.Variant == "" {
		claimed.Variant, config.Variant = "", ""
		cn, gn := platforms.Normalize(claimed), platforms.Normalize(config)
		return cn.OS == gn.OS && cn.Architecture == gn.Architecture && osVersionAgrees(claimed, config, true)
	}
	if !platforms.OnlyStrict(claimed).Match(config) {
		return false
	}
	return osVersionAgrees(claimed, config, true)
}

func osVersionAgrees(a, b specs.Platform, lenient bool) bool {
	if platforms.Normalize(a).OS != "windows" {
		return true
	}
	va, vb := a.OSVersion, b.OSVersion
	if va == "" || vb == "" {
		// A required platform without a version accepts any; an entry
		// without one does not satisfy a versioned requirement.
		return lenient || va == ""
	}
	return va == vb || strings.HasPrefix(vb, va+".") || strings.HasPrefix(va, vb+".")
}

// Noncanonical explains why p is spelled in a way other tools may not
// recognise ("architecture aarch64 is usually written arm64"), or returns ""
// when it is canonical. arm64 with or without the v8 variant is canonical, as
// Docker and containerd both write it; arm without a variant is not.
func Noncanonical(p specs.Platform) string {
	if Empty(&p) {
		return ""
	}
	n := platforms.Normalize(p)
	switch {
	case n.OS != p.OS:
		return fmt.Sprintf("OS %q is usually written %q", p.OS, n.OS)
	case n.Architecture != p.Architecture:
		arch := n.Architecture
		if n.Variant != "" {
			arch += "/" + n.Variant
		}
		return fmt.Sprintf("architecture %q is usually written %q", p.Architecture, arch)
	case n.Architecture == "arm" && p.Variant == "":
		return fmt.Sprintf("arm has no variant; write %s so clients can tell v6 from v7", Format(&n))
	case n.Architecture == "arm" && p.Variant != n.Variant:
		return fmt.Sprintf("variant %q is usually written %q", p.Variant, n.Variant)
	case n.Architecture == "arm64" && p.Variant != "" && p.Variant != "v8":
		return fmt.Sprintf("arm64 variant %q is usually written v8 or left out", p.Variant)
	}
	return ""
}

// Canonical returns p spelled as an index entry should spell it: names
// normalized (aarch64 is arm64, arm is arm/v7), but arm64 keeps a v8
// variant it was given, as Docker writes it. OS version and features are
// kept. Call it only on a platform that is not [Empty].
func Canonical(p specs.Platform) specs.Platform {
	n := platforms.Normalize(p)
	if n.Architecture == "arm64" && p.Variant != "" {
		n.Variant = "v8"
	}
	n.OSVersion, n.OSFeatures = p.OSVersion, p.OSFeatures
	return n
}
