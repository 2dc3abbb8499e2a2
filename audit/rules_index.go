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
			case subject == "" && d.Annotations[tree.AnnotationReferenceType] != tree.AttestationManifest:
				// Another kind of reference entry (tree.IsAttestation)
				// need not name an image of the index.
			case subject == "":
				c.add(OrphanAttestation, d.Digest.String(), nil, "attestation %s names no subject (%s is not set)", ref.ShortDigest(d.Digest.String()), tree.AnnotationReferenceDigest)
			case !entries[subject]:
				c.add(OrphanAttestation, d.Digest.String(), nil, "attestation %s describes %s, which is not in the index", ref.ShortDigest(d.Digest.String()), ref.ShortDigest(subject))
			}
		}
	}
}

// checkMediaTypes reports a Docker manifest list holding OCI manifests or
// indexes (mixed-media-types), once per list. An OCI index holding Docker
// schema 2 manifests is not reported: it is what every Docker Official
// Image with Windows entries is, and clients accept it.
//
// The evidence, as found with the search tool (links to read it again):
//   - OCI index of Docker manifests: the OCI image spec lets an index list
//     media types it does not define, and an implementation meeting one
//     MUST NOT error (image-index.md, "manifests"; asked about exactly
//     this case in https://github.com/opencontainers/image-spec/issues/1150,
//     with Docker Hub's memcached as the example). containerd picks each
//     child by its own media type whatever the list's type
//     (core/images/image.go, Manifest and Children: one case for
//     Docker schema 2 and OCI manifests, one for Docker lists and OCI
//     indexes); Docker's pull asks the registry for each child and parses
//     it by the type served; buildx's `imagetools create` writes an OCI
//     index when it combines mixed sources
//     (https://github.com/docker/buildx/pull/1797). The registries that
//     refused it have fixed it: Quay (push of python:3.11 rejected,
//     https://github.com/docker-library/python/issues/953, fixed by
//     https://github.com/quay/quay/pull/6070) and Pulp
//     (https://github.com/pulp/pulp_container/pull/1293). Not reported.
//   - Docker manifest list of OCI manifests: Docker's manifest list spec
//     (manifest-v2-2.md) lists only Docker schema 2 and schema 1
//     manifests, so this list is outside its format. GCR refused mixed
//     lists (https://github.com/DataDog/rules_oci/pull/10), Quay answered
//     "manifest invalid" (https://github.com/containers/buildah/issues/3981),
//     and buildx stopped writing Docker lists around OCI manifests
//     (docker/buildx#1797 above). Clients that predate OCI manifest
//     support cannot pull those entries (which Docker release first
//     pulled OCI manifests was not verified here). Reported.
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
		c.add(MixedMediaTypes, idx.Descriptor.Digest.String(), nil, "the Docker manifest list %s holds %d OCI manifest(s) or index(es), which its format does not allow: %s",
			ref.ShortDigest(idx.Descriptor.Digest.String()), len(foreign), strings.Join(foreign, ", "))
	}
}

// isForeign reports whether a list of type list may not hold child: only
// OCI content in a Docker manifest list (see checkMediaTypes).
func isForeign(list, child types.MediaType) bool {
	return list == types.DockerManifestList && (child == types.OCIManifestSchema1 || child == types.OCIImageIndex)
}
