package stories

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/tree"
)

// Format chooses Docker or OCI media types.
type Format int

// Formats.
const (
	OCI Format = iota
	Docker
)

// Image builds a small image whose config states the platform p, written
// OS/ARCH[/VARIANT] exactly as it should appear in the config (so
// non-canonical spellings such as linux/aarch64 can be built). salt makes
// images of the same platform differ.
func Image(p string, f Format, salt string) (v1.Image, error) {
	plat, err := v1.ParsePlatform(p)
	if err != nil {
		return nil, fmt.Errorf("story platform %q: %w", p, err)
	}
	layerType, manifestType, configType := types.OCILayer, types.OCIManifestSchema1, types.OCIConfigJSON
	if f == Docker {
		layerType, manifestType, configType = types.DockerLayer, types.DockerManifestSchema2, types.DockerConfigJSON
	}
	content := fmt.Sprintf("mlaudit story image for %s (%s)\n", p, salt)
	layer, err := tarLayer("etc/mlaudit-story", content, layerType)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, manifestType)
	img = mutate.ConfigMediaType(img, configType)
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		return nil, err
	}
	return withConfig(img, plat, func(c *v1.Config) { c.Cmd = []string{"/bin/true"} })
}

// withConfig states plat in img's config and lets set fill the rest.
func withConfig(img v1.Image, plat *v1.Platform, set func(*v1.Config)) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = plat.OS, plat.Architecture, plat.Variant, plat.OSVersion
	set(&cf.Config)
	return mutate.ConfigFile(img, cf)
}

// tarLayer is a gzip'd tar holding one file.
func tarLayer(name, content string, mt types.MediaType) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := io.WriteString(tw, content); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(mt))
}

// Attestation builds a BuildKit-style attestation manifest for subject: an
// OCI manifest with an in-toto layer and an unknown/unknown config.
func Attestation(subject v1.Hash) (v1.Image, error) {
	statement := fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2","subject":[{"digest":{"sha256":%q}}],"predicate":{}}`, subject.Hex)
	layer := static.NewLayer([]byte(statement), "application/vnd.in-toto+json")
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.Append(img, mutate.Addendum{Layer: layer, Annotations: map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "unknown", "unknown"
	return mutate.ConfigFile(img, cf)
}

// Entry is one entry of an index being built.
type Entry struct {
	// Image is the image (or nested index) to list.
	Image mutate.Appendable
	// Platform is what the index claims, written OS/ARCH[/VARIANT]; empty
	// leaves the entry without a platform.
	Platform string
	// Attests, when set, makes the entry an attestation for the image with
	// that digest.
	Attests *v1.Hash
	// Annotations are the entry's own (an attestation's are set by
	// Attests).
	Annotations map[string]string
}

// Index builds an index of the entries, as a Docker manifest list or an
// OCI index.
func Index(f Format, entries ...Entry) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	if f == Docker {
		idx = mutate.IndexMediaType(empty.Index, types.DockerManifestList)
	}
	var adds []mutate.IndexAddendum
	for _, e := range entries {
		add := mutate.IndexAddendum{Add: e.Image}
		add.Descriptor.Annotations = e.Annotations
		if e.Platform != "" {
			p, err := v1.ParsePlatform(e.Platform)
			if err != nil {
				return nil, fmt.Errorf("story platform %q: %w", e.Platform, err)
			}
			add.Descriptor.Platform = p
		}
		if e.Attests != nil {
			add.Descriptor.Platform = &v1.Platform{OS: "unknown", Architecture: "unknown"}
			add.Descriptor.Annotations = map[string]string{
				tree.AnnotationReferenceType:   tree.AttestationManifest,
				tree.AnnotationReferenceDigest: e.Attests.String(),
			}
		}
		adds = append(adds, add)
	}
	return mutate.AppendManifests(idx, adds...), nil
}

// emptyOCI is an empty image with an OCI config media type.
func emptyOCI() v1.Image {
	return mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON)
}

// Signature is shaped as cosign writes a signature of subject to its tag
// sha256-<hex>.sig: an OCI manifest with an image config and one
// simplesigning layer (not a tar), annotated with the signature.
func Signature(subject v1.Hash) (v1.Image, error) {
	payload := `{"critical":{"identity":{"docker-reference":""},"image":{"docker-manifest-digest":"` + subject.String() + `"},"type":"cosign container image signature"},"optional":null}`
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return mutate.Append(img, mutate.Addendum{
		Layer:       static.NewLayer([]byte(payload), "application/vnd.dev.cosign.simplesigning.v1+json"),
		Annotations: map[string]string{"dev.cosignproject.cosign/signature": "MEUCIQDstorysignature"},
	})
}
