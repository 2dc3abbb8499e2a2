package audit

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// checkAttestations reports attestation manifests whose subject is not an
// entry of their index (orphan-attestation). Attestations are never judged
// on their platform, which is unknown/unknown by design.
func checkAttestations(c *checker) {
	for _, idx := range c.root.Indexes() {
		entries := map[string]bool{}
		for _, d := range idx.Index.Manifests {
			if !tree.IsAttestation(d) {
				entries[d.Digest.String()] = true
			}
		}
		for _, d := range idx.Index.Manifests {
			if !tree.IsAttestation(d) {
				continue
			}
			subject := d.Annotations[tree.AnnotationReferenceDigest]
			switch {
			case subject == "":
				c.add(OrphanAttestation, d.Digest.String(), nil, "attestation %s names no subject (%s is not set)", ref.ShortDigest(d.Digest.String()), tree.AnnotationReferenceDigest)
			case !entries[subject]:
				c.add(OrphanAttestation, d.Digest.String(), nil, "attestation %s describes %s, which is not in the index", ref.ShortDigest(d.Digest.String()), ref.ShortDigest(subject))
			}
		}
	}
}

// checkMediaTypes reports a Docker manifest list holding OCI manifests or
// an OCI index holding Docker manifests (mixed-media-types), once per index.
func checkMediaTypes(c *checker) {
	for _, idx := range c.root.Indexes() {
		listType := idx.MediaType()
		var foreign []string
		for _, d := range idx.Index.Manifests {
			if isForeign(listType, d.MediaType) {
				foreign = append(foreign, fmt.Sprintf("%s (%s)", ref.ShortDigest(d.Digest.String()), d.MediaType))
			}
		}
		if len(foreign) == 0 {
			continue
		}
		kind := "Docker manifest list"
		if listType == types.OCIImageIndex {
			kind = "OCI index"
		}
		c.add(MixedMediaTypes, idx.Descriptor.Digest.String(), nil, "the %s %s holds %d manifest(s) of the other format: %s",
			kind, ref.ShortDigest(idx.Descriptor.Digest.String()), len(foreign), strings.Join(foreign, ", "))
	}
}

func isForeign(list, child types.MediaType) bool {
	switch list {
	case types.DockerManifestList:
		return child == types.OCIManifestSchema1 || child == types.OCIImageIndex
	case types.OCIImageIndex:
		return child == types.DockerManifestSchema2 || child == types.DockerManifestList
	}
	return false
}
