package stories

import (
	"context"
	"fmt"

	"github.com/mlaudit/mlaudit/ref"
)

// Reference layout entries: healthy indexes shaped like real published ones.
const (
	// ReferenceDockerList is shaped like an official-image manifest list:
	// many Linux platforms and arm variants, and two Windows versions.
	ReferenceDockerList = "official-like"
	// ReferenceOCIIndex is shaped like buildx output: an OCI index with an
	// attestation manifest per image.
	ReferenceOCIIndex = "buildx-like"
)

// ReferencePlatforms are the platforms of ReferenceDockerList, as written
// in its index; ReferenceOCIPlatforms are ReferenceOCIIndex's.
var (
	ReferencePlatforms = []string{
		"linux/amd64", "linux/arm64/v8", "linux/arm/v7", "linux/arm/v6", "linux/386",
		"linux/ppc64le", "linux/s390x", "linux/riscv64",
		"windows/amd64:10.0.17763.5458", "windows/amd64:10.0.20348.2227",
	}
	ReferenceOCIPlatforms = []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}
)

// WriteReference writes the reference layout (both entries) to the OCI
// layout directory dir. testdata/layout is this, committed; go run
// ./testdata/gen rebuilds it.
func WriteReference(ctx context.Context, w Writer, dir string) error {
	b := &builder{ctx: ctx, w: w}
	var docker []Entry
	for _, p := range ReferencePlatforms {
		docker = append(docker, Entry{Image: b.image(p, Docker, "reference"), Platform: p})
	}
	b.pushTo(b.parse(ref.Parse, "oci:"+dir+":"+ReferenceDockerList), b.index(Docker, docker...))

	var oci, attestations []Entry
	for _, p := range ReferenceOCIPlatforms {
		img := b.image(p, OCI, "reference")
		oci = append(oci, Entry{Image: img, Platform: p})
		attestations = append(attestations, b.attestation(img))
	}
	b.pushTo(b.parse(ref.Parse, "oci:"+dir+":"+ReferenceOCIIndex), b.index(OCI, append(oci, attestations...)...))
	if b.err != nil {
		return fmt.Errorf("writing the reference layout: %w", b.err)
	}
	return nil
}
