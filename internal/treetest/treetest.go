// Package treetest builds trees by hand, as the registry package would
// fetch them, so that audit rules and repair plans are tested as pure
// functions: no registry, no HTTP, no disk.
//
//	amd := treetest.Image("app", "linux/amd64")
//	arm := treetest.Image("app", "linux/amd64") // an amd64 image...
//	idx := treetest.Index(types.OCIImageIndex,
//		treetest.Entry(amd, "linux/amd64"),
//		treetest.Entry(arm, "linux/arm64"))    // ...listed as arm64
package treetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/tree"
)

// Digest is a valid sha256 digest made from s, so that names give stable,
// distinct digests.
func Digest(s string) v1.Hash {
	sum := sha256.Sum256([]byte(s))
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// Image is an OCI image manifest whose config states cfg, written
// OS/ARCH[/VARIANT] as it appears in the config (so "linux/aarch64" can be
// built); "" states no platform. salt makes images of one platform differ.
func Image(salt, cfg string) *tree.Node {
	return image(types.OCIManifestSchema1, salt, cfg)
}

// DockerImage is Image with Docker schema 2 media types.
func DockerImage(salt, cfg string) *tree.Node {
	return image(types.DockerManifestSchema2, salt, cfg)
}

func image(mt types.MediaType, salt, cfg string) *tree.Node {
	config := &v1.ConfigFile{}
	if cfg != "" {
		p, err := v1.ParsePlatform(cfg)
		if err != nil {
			panic(fmt.Sprintf("treetest: platform %q: %v", cfg, err))
		}
		config.OS, config.Architecture, config.Variant, config.OSVersion = p.OS, p.Architecture, p.Variant, p.OSVersion
	}
	m := &v1.Manifest{SchemaVersion: 2, MediaType: mt, Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: Digest("config " + salt + cfg), Size: 2}}
	raw := marshal(m)
	return &tree.Node{
		Descriptor: v1.Descriptor{MediaType: mt, Digest: Digest(string(raw) + salt + cfg), Size: int64(len(raw))},
		Raw:        raw, Manifest: m, Config: config,
	}
}

// Entry is n as an index lists it, claiming platform p ("" for no
// platform field). n is copied.
func Entry(n *tree.Node, p string) *tree.Node {
	c := *n
	c.Descriptor.Platform = nil
	if p != "" {
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			panic(fmt.Sprintf("treetest: platform %q: %v", p, err))
		}
		c.Descriptor.Platform = plat
	}
	return &c
}

// Attestation is a BuildKit attestation manifest entry for subject (nil
// for one that names no subject).
func Attestation(subject *tree.Node) *tree.Node {
	n := Image("attestation", "unknown/unknown")
	n.Config = nil // attestations are listed, not fetched
	n.Descriptor.Platform = &v1.Platform{OS: "unknown", Architecture: "unknown"}
	n.Descriptor.Annotations = map[string]string{tree.AnnotationReferenceType: tree.AttestationManifest}
	if subject != nil {
		n.Descriptor.Annotations[tree.AnnotationReferenceDigest] = subject.Descriptor.Digest.String()
		n.Descriptor.Digest = Digest("attests " + subject.Descriptor.Digest.String())
	}
	return n
}

// Reference is an index entry of another BuildKit reference type (kind,
// not attestation-manifest) that names no subject: it belongs to the index,
// not to one of its images.
func Reference(kind string) *tree.Node {
	n := Image("reference "+kind, "unknown/unknown")
	n.Config = nil
	n.Descriptor.Platform = &v1.Platform{OS: "unknown", Architecture: "unknown"}
	n.Descriptor.Annotations = map[string]string{tree.AnnotationReferenceType: kind}
	return n
}

// Missing is n as an index lists it when the source does not have it:
// the descriptor only, as the registry package leaves it.
func Missing(n *tree.Node) *tree.Node {
	return &tree.Node{Descriptor: n.Descriptor, Err: fmt.Errorf("%w: %s is not in the registry", tree.ErrMissing, n.Descriptor.Digest)}
}

// Altered is n as fetched when its bytes do not match its digest: the
// bytes are kept, nothing is parsed from them.
func Altered(n *tree.Node) *tree.Node {
	return &tree.Node{Descriptor: n.Descriptor, Raw: n.Raw, Err: &tree.DigestMismatchError{What: "manifest", Want: n.Descriptor.Digest, Got: Digest("something else")}}
}

// Index is an index (or manifest list, by mt) of children, which keep the
// descriptors Entry gave them.
func Index(mt types.MediaType, children ...*tree.Node) *tree.Node {
	im := &v1.IndexManifest{SchemaVersion: 2, MediaType: mt}
	for _, c := range children {
		im.Manifests = append(im.Manifests, c.Descriptor)
	}
	return Rehashed(&tree.Node{Index: im, Children: children})
}

// Rehashed is n with its Raw bytes written anew from its Manifest or Index
// and its descriptor's digest and size made to match (its media type, when
// unset, taken from the manifest): a tree built by hand, changed, and
// hashed again, as a registry would store it.
func Rehashed(n *tree.Node) *tree.Node {
	c := *n
	var mt types.MediaType
	switch {
	case c.Manifest != nil:
		c.Raw, mt = marshal(c.Manifest), c.Manifest.MediaType
	case c.Index != nil:
		c.Raw, mt = marshal(c.Index), c.Index.MediaType
	default:
		panic("treetest.Rehashed: a node with neither manifest nor index")
	}
	d, size, err := v1.SHA256(bytes.NewReader(c.Raw))
	if err != nil {
		panic(err)
	}
	if c.Descriptor.MediaType == "" {
		c.Descriptor.MediaType = mt
	}
	c.Descriptor.Digest, c.Descriptor.Size = d, size
	return &c
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
