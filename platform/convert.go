package platform

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The conversions between go-containerregistry's platform and config types,
// which manifests and configs are parsed into, and the OCI spec's platform,
// which containerd's matchers take. Every package converts here.

// FromV1 converts an index entry's platform. It returns nil for nil.
func FromV1(p *v1.Platform) *Platform {
	if p == nil {
		return nil
	}
	return &Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures}
}

// ToV1 converts a platform for an index entry.
func ToV1(p Platform) *v1.Platform {
	return &v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures}
}

// OfConfig is the platform an image config states, or nil when there is no
// config. The result may be [Empty]: a config may leave os or architecture
// out.
func OfConfig(c *v1.ConfigFile) *Platform {
	if c == nil {
		return nil
	}
	return &Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant, OSVersion: c.OSVersion, OSFeatures: c.OSFeatures}
}
