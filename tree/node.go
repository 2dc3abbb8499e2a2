package tree

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/platform"
)

// Annotation keys BuildKit writes on attestation manifests in an index. No
// library exports them: they are Docker's, not OCI's.
const (
	// AnnotationReferenceType marks an index entry as something that
	// refers to an image rather than being one: [AttestationManifest]
	// today, other values as BuildKit adds kinds. Any value on an entry
	// without a runnable platform (unknown/unknown, or none) makes it an
	// attestation for [IsAttestation].
	AnnotationReferenceType = "vnd.docker.reference.type"
	// AnnotationReferenceDigest names the digest of the image an
	// attestation describes.
	AnnotationReferenceDigest = "vnd.docker.reference.digest"
	// AttestationManifest is the value of [AnnotationReferenceType] on
	// attestation manifests.
	AttestationManifest = "attestation-manifest"
)

// Node is one manifest reached while walking a target, and what hangs below
// it.
type Node struct {
	// Descriptor is how the node was reached: the parent index's entry for
	// a child (with the platform the index claims), or the resolved
	// descriptor for a root.
	Descriptor v1.Descriptor
	// Raw holds the manifest bytes as fetched.
	Raw []byte
	// Index is set when the node is an image index or manifest list.
	Index *v1.IndexManifest
	// Manifest is set when the node is an image manifest.
	Manifest *v1.Manifest
	// Config is the image's config, when the node is an image whose config
	// was fetched.
	Config *v1.ConfigFile
	// Children are the index's entries, in index order; attestation entries
	// are present but not fetched. Entries that list the same digest may
	// share their content and children (the registry package reads each
	// distinct manifest once), so below an index the nodes form a DAG:
	// walk it with [Node.Walk], [Node.Images] or [Node.Indexes], which
	// visit each distinct nested index once, not by plain recursion.
	Children []*Node
	// Err says why the node (or, for an image, its config) could not be
	// read. It wraps [ErrMissing] or a [*DigestMismatchError] for the
	// failures audits report as findings.
	Err error
}

// IsIndex reports whether the node is an image index or manifest list,
// judged by its descriptor's media type when it could not be fetched.
func (n *Node) IsIndex() bool {
	if n.Index != nil {
		return true
	}
	return n.Manifest == nil && n.Descriptor.MediaType.IsIndex()
}

// IsAttestation reports whether the node is an attestation manifest entry
// (BuildKit's provenance and SBOM), which has no runnable platform.
func (n *Node) IsAttestation() bool {
	return IsAttestation(n.Descriptor)
}

// IsAttestation reports whether an index entry is an attestation manifest:
// one annotated [AnnotationReferenceType] [AttestationManifest], or
// annotated [AnnotationReferenceType] with any other value and listed
// without a runnable platform (unknown/unknown, or no platform). BuildKit
// writes other reference types beside attestation-manifest; none of them
// is an image a client runs, so none counts as a platform. An entry with a
// real platform and an unknown reference type is still judged as an
// image: the annotation alone does not hide a runnable image.
func IsAttestation(d v1.Descriptor) bool {
	kind, ok := d.Annotations[AnnotationReferenceType]
	switch {
	case !ok:
		return false
	case kind == AttestationManifest:
		return true
	}
	p := d.Platform
	return p == nil || (p.OS == "unknown" && p.Architecture == "unknown") || (p.OS == "" && p.Architecture == "")
}

// Claimed is the platform the parent index claims for n, or nil (a root,
// or an entry without one).
func (n *Node) Claimed() *platform.Platform { return platform.FromV1(n.Descriptor.Platform) }

// ConfigPlatform is the platform n's image config states, or nil when no
// config was read. It may be [platform.Empty].
func (n *Node) ConfigPlatform() *platform.Platform { return platform.OfConfig(n.Config) }

// MediaType is the node's media type: the manifest's own mediaType field
// when it has one, else the descriptor's.
func (n *Node) MediaType() types.MediaType {
	switch {
	case n.Index != nil && n.Index.MediaType != "":
		return n.Index.MediaType
	case n.Manifest != nil && n.Manifest.MediaType != "":
		return n.Manifest.MediaType
	}
	return n.Descriptor.MediaType
}

// Images returns the image manifests below n, walking nested indexes, in
// index order: the entries whose platforms count for n. For an image, it is
// n itself. Attestation and artifact entries are left out (an artifact
// holds no images: see [Node.IsArtifact]), and so are the entries of a
// nested index listed again (see [Node.Walk]): each image entry of each
// distinct index is returned once.
func (n *Node) Images() []*Node {
	if n.IsArtifact() {
		return nil
	}
	if !n.IsIndex() {
		return []*Node{n}
	}
	var out []*Node
	n.Walk(func(_, c *Node, _ bool) {
		if !c.IsAttestation() && !c.IsIndex() && !c.IsArtifact() {
			out = append(out, c)
		}
	})
	return out
}

// Indexes returns n and every distinct index nested below it that was
// read (whose Index is set), parents first. An index that could not be
// read has nothing to walk; its error is on the node.
func (n *Node) Indexes() []*Node {
	if n.Index == nil {
		return nil
	}
	out := []*Node{n}
	n.Walk(func(_, c *Node, again bool) {
		if c.Index != nil && !again {
			out = append(out, c)
		}
	})
	return out
}

// Walk calls fn for every entry below n, depth first in index order, a
// nested index before its own entries, with the index that lists it.
//
// Nodes may share sub-trees: the registry package gives every entry of one
// digest the same children, so an index listing one sub-index many times,
// levels deep, is a small DAG with a huge number of paths. Walk goes into
// each distinct nested index (by digest; by identity when it has none)
// once: an entry for an index already walked into is passed with again set
// and its entries are not visited again. So Walk visits each entry of each
// distinct index once, and ends even on a cycle.
func (n *Node) Walk(fn func(parent, entry *Node, again bool)) {
	seen := map[walkKey]bool{n.walkKey(): true}
	n.walk(fn, seen)
}

func (n *Node) walk(fn func(parent, entry *Node, again bool), seen map[walkKey]bool) {
	for _, c := range n.Children {
		if c.Index == nil {
			fn(n, c, false)
			continue
		}
		k := c.walkKey()
		again := seen[k]
		seen[k] = true
		fn(n, c, again)
		if !again {
			c.walk(fn, seen)
		}
	}
}

// walkKey names an index's content: its digest, or for a node built
// without one, its parsed manifest.
type walkKey struct {
	digest v1.Hash
	index  *v1.IndexManifest
}

func (n *Node) walkKey() walkKey {
	if n.Descriptor.Digest != (v1.Hash{}) {
		return walkKey{digest: n.Descriptor.Digest}
	}
	return walkKey{index: n.Index}
}
