package tree

import (
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// IsImageConfig reports whether mt is the media type of an image config:
// OCI's or Docker's. A manifest whose config is of another type is an
// artifact (an SBOM, a signature, a Helm chart), not an image.
func IsImageConfig(mt types.MediaType) bool {
	return mt == types.OCIConfigJSON || mt == types.DockerConfigJSON
}

// IsArtifact reports whether n is an artifact or a referrer rather than an
// image or an index of images: an OCI 1.1 manifest with an artifactType, a
// config that is not an image config, a subject, or layers none of which
// is a tar (a cosign signature); an index with an
// artifactType or a subject, or whose every entry is an artifact (the
// referrers tag sha256-<hex> that clients write where the registry has no
// referrers API). An entry that could not be read is judged by the
// artifactType its descriptor carries. Artifacts have no platform: audits
// check only their integrity.
func (n *Node) IsArtifact() bool {
	if isArtifactType(n.Descriptor.ArtifactType) {
		return true
	}
	switch {
	case n.Manifest != nil:
		m := n.Manifest
		return isArtifactType(m.ArtifactType) || m.Subject != nil || (m.Config.MediaType != "" && !IsImageConfig(m.Config.MediaType)) || noTarLayers(m)
	case n.Index != nil:
		idx := n.Index
		if isArtifactType(idx.ArtifactType) || idx.Subject != nil {
			return true
		}
		return len(idx.Manifests) > 0 && allArtifacts(n)
	}
	return false
}

// noTarLayers reports whether m has layers and none is a tar: what cosign
// writes as a signature (simplesigning layers) or an attestation (DSSE
// envelopes) under an image config, and no image is.
func noTarLayers(m *v1.Manifest) bool {
	for _, l := range m.Layers {
		if Compression(l.MediaType) != "" {
			return false
		}
	}
	return len(m.Layers) > 0
}

// allArtifacts reports whether every entry of the index n is an artifact,
// by its fetched node where there is one, else by its descriptor.
func allArtifacts(n *Node) bool {
	for i, d := range n.Index.Manifests {
		if i < len(n.Children) && n.Children[i] != nil && n.Children[i].Index == nil {
			if !n.Children[i].IsArtifact() {
				return false
			}
			continue
		}
		if !isArtifactType(d.ArtifactType) {
			return false
		}
	}
	return true
}

// isArtifactType reports whether an artifactType field names an artifact.
// go-containerregistry fills a descriptor's artifactType from the config's
// media type for every image it lists, so an image config type there
// says "image", not "artifact".
func isArtifactType(s string) bool {
	return s != "" && !IsImageConfig(types.MediaType(s))
}

// Subject is the digest of the manifest n refers to (an OCI 1.1 subject),
// or the zero hash when it names none.
func (n *Node) Subject() v1.Hash {
	switch {
	case n.Manifest != nil && n.Manifest.Subject != nil:
		return n.Manifest.Subject.Digest
	case n.Index != nil && n.Index.Subject != nil:
		return n.Index.Subject.Digest
	}
	return v1.Hash{}
}

// AnnotationZstd is what containers/image (podman, buildah, skopeo) writes
// on the index entry of an image pushed again with zstd layers beside its
// gzip original ("true"), so that old clients keep the gzip one.
const AnnotationZstd = "io.github.containers.compression.zstd"

// Compression names how a layer media type is compressed: "gzip", "zstd",
// "none" (a plain tar), or "" for a type that is not a layer tar.
func Compression(mt types.MediaType) string {
	s := string(mt)
	switch {
	case strings.HasSuffix(s, "+zstd"), strings.HasSuffix(s, ".zstd"):
		return "zstd"
	case strings.HasSuffix(s, "+gzip"), strings.HasSuffix(s, ".gzip"):
		return "gzip"
	case strings.HasSuffix(s, ".tar"), strings.HasSuffix(s, "/tar"):
		return "none"
	}
	return ""
}

// CompressionVariants reports whether a and b are one image pushed twice
// with its layers compressed differently, as podman and buildah push
// `--compression-format zstd` beside gzip: both manifests read, the same
// config (the config names uncompressed layers, so it does not change),
// as many layers, and at least one layer compressed another way. Such
// entries claim one platform on purpose: clients that read zstd pick the
// annotated entry, the others the gzip one.
func CompressionVariants(a, b *Node) bool {
	if a == nil || b == nil || a.Manifest == nil || b.Manifest == nil || a.Descriptor.Digest == b.Descriptor.Digest {
		return false
	}
	ma, mb := a.Manifest, b.Manifest
	if ma.Config.Digest != mb.Config.Digest || len(ma.Layers) != len(mb.Layers) || len(ma.Layers) == 0 {
		return false
	}
	differ := false
	for i := range ma.Layers {
		ca, cb := Compression(ma.Layers[i].MediaType), Compression(mb.Layers[i].MediaType)
		if ca == "" || cb == "" {
			return false
		}
		if ca != cb {
			differ = true
		} else if ma.Layers[i].Digest != mb.Layers[i].Digest {
			// Same compression, other bytes: another build, not a variant.
			return false
		}
	}
	return differ
}
