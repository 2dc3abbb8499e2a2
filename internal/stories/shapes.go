package stories

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Shapes of real exports and repositories that nobody here wrote, rebuilt
// by the project's generator (go run ./testdata/gen testdata) and
// committed under testdata/shapes, one OCI layout each. They are written
// with go-containerregistry's layout package directly, not through
// registry.Client: a partial export and a hand-written artifact manifest
// are exactly what mlaudit must read, not what it writes.
const (
	// ShapeContainerdExport is what `ctr export --platform linux/amd64`
	// (or `docker save --platform`) writes for an image of eleven
	// platforms: the whole index, and the blobs of one platform only.
	ShapeContainerdExport = "containerd-export"
	// ShapeArtifacts is a repository with OCI 1.1 artifacts and
	// referrers, shaped like regclient's test repository: a two-arch
	// index, an SBOM attached to it (artifactType, empty config, subject)
	// listed in the referrers fallback tag sha256-<hex>, a cosign
	// signature tag, and a standalone artifact with a non-image config.
	ShapeArtifacts = "artifacts"
	// ShapeZstd is what podman and buildah push with --compression-format
	// zstd and gzip both: one entry per compression of each platform, the
	// zstd one annotated io.github.containers.compression.zstd.
	ShapeZstd = "zstd-variants"
	// ShapeOfficial is a Docker Official Image index: an OCI index of
	// Linux OCI manifests with their BuildKit attestations, and Windows
	// entries that are Docker schema 2 manifests whose base layer is a
	// foreign layer (a URL at Microsoft, not stored).
	ShapeOfficial = "official-windows"
)

// Shapes lists the shapes WriteShapes writes, in order.
var Shapes = []string{ShapeContainerdExport, ShapeArtifacts, ShapeZstd, ShapeOfficial}

// Shape details the tests check against.
var (
	// ExportPlatforms are the eleven platforms of ShapeContainerdExport's
	// index; ExportedPlatform is the one whose blobs are in the export.
	ExportPlatforms = []string{
		"linux/amd64", "linux/arm/v5", "linux/arm/v7", "linux/arm64/v8", "linux/386", "linux/mips64le",
		"linux/ppc64le", "linux/riscv64", "linux/s390x",
		"windows/amd64:10.0.17763.6893", "windows/amd64:10.0.20348.3207",
	}
	ExportedPlatform = "linux/amd64"
	// OfficialPlatforms are ShapeOfficial's image entries.
	OfficialPlatforms = []string{"linux/amd64", "linux/arm64/v8", "windows/amd64:10.0.20348.3207", "windows/amd64:10.0.17763.6893"}
)

// Annotations the shapes carry as their writers do.
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationZstd           = "io.github.containers.compression.zstd"
)

// WriteShapes writes every shape as an OCI layout under dir/NAME.
func WriteShapes(dir string) error {
	for name, write := range map[string]func(string) error{
		ShapeContainerdExport: writeContainerdExport,
		ShapeArtifacts:        writeArtifacts,
		ShapeZstd:             writeZstd,
		ShapeOfficial:         writeOfficial,
	} {
		if err := write(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("writing the %s shape: %w", name, err)
		}
	}
	return nil
}

// writeContainerdExport writes an eleven-platform index and removes the
// blobs of every image but ExportedPlatform's, as a one-platform export
// leaves them out.
func writeContainerdExport(dir string) error {
	var entries []Entry
	var left []v1.Image
	for _, p := range ExportPlatforms {
		img, err := Image(p, OCI, "export")
		if err != nil {
			return err
		}
		entries = append(entries, Entry{Image: img, Platform: p})
		if p != ExportedPlatform {
			left = append(left, img)
		}
	}
	idx, err := Index(OCI, entries...)
	if err != nil {
		return err
	}
	if _, err := newLayout(dir, idx, map[string]string{
		annotationContainerdName: "docker.io/library/app:1.0",
		specs.AnnotationRefName:  "1.0",
	}); err != nil {
		return err
	}
	for _, img := range left {
		if err := removeImageBlobs(dir, img); err != nil {
			return err
		}
	}
	return nil
}

// writeArtifacts writes the artifacts-and-referrers repository. The SBOM
// and the standalone artifact are written as JSON by hand, as oras and
// regctl write them.
func writeArtifacts(dir string) error {
	amd, err := Image("linux/amd64", OCI, "artifacts")
	if err != nil {
		return err
	}
	arm, err := Image("linux/arm64", OCI, "artifacts")
	if err != nil {
		return err
	}
	idx, err := Index(OCI, Entry{Image: amd, Platform: "linux/amd64"}, Entry{Image: arm, Platform: "linux/arm64"})
	if err != nil {
		return err
	}
	p, err := newLayout(dir, idx, map[string]string{specs.AnnotationRefName: "v1"})
	if err != nil {
		return err
	}
	subject, err := descriptorOf(idx)
	if err != nil {
		return err
	}

	emptyConfig, err := writeBlob(p, types.MediaType(specs.MediaTypeEmptyJSON), []byte("{}"))
	if err != nil {
		return err
	}
	sbomLayer, err := writeBlob(p, "application/spdx+json", []byte(`{"spdxVersion":"SPDX-2.3","name":"app","packages":[]}`))
	if err != nil {
		return err
	}
	sbomLayer.Annotations = map[string]string{specs.AnnotationTitle: "sbom.spdx.json"}
	sbom, err := writeJSON(p, specs.MediaTypeImageManifest, specs.Manifest{
		Versioned:    versioned,
		MediaType:    specs.MediaTypeImageManifest,
		ArtifactType: "application/spdx+json",
		Config:       emptyConfig,
		Layers:       []specs.Descriptor{sbomLayer},
		Subject:      &subject,
		Annotations:  map[string]string{specs.AnnotationCreated: "1970-01-01T00:00:00Z"},
	})
	if err != nil {
		return err
	}
	sbom.ArtifactType = "application/spdx+json"
	sbom.Annotations = map[string]string{specs.AnnotationCreated: "1970-01-01T00:00:00Z"}
	// The referrers fallback tag, as a client writes it where the
	// registry has no referrers API.
	referrers, err := writeJSON(p, specs.MediaTypeImageIndex, specs.Index{Versioned: versioned, MediaType: specs.MediaTypeImageIndex, Manifests: []specs.Descriptor{sbom}})
	if err != nil {
		return err
	}
	if err := tag(p, referrers, "sha256-"+subject.Digest.Encoded()); err != nil {
		return err
	}

	h, err := idx.Digest()
	if err != nil {
		return err
	}
	sig, err := Signature(h)
	if err != nil {
		return err
	}
	if err := p.AppendImage(sig, layout.WithAnnotations(map[string]string{specs.AnnotationRefName: "sha256-" + h.Hex + ".sig"})); err != nil {
		return err
	}

	config, err := writeBlob(p, "application/vnd.example.config.v1+json", []byte(`{"version":"1.0"}`))
	if err != nil {
		return err
	}
	data, err := writeBlob(p, "application/vnd.example.data.v1+json", []byte(`{"message":"not an image"}`))
	if err != nil {
		return err
	}
	artifact, err := writeJSON(p, specs.MediaTypeImageManifest, specs.Manifest{
		Versioned:    versioned,
		MediaType:    specs.MediaTypeImageManifest,
		ArtifactType: "application/vnd.example.data.v1+json",
		Config:       config,
		Layers:       []specs.Descriptor{data},
	})
	if err != nil {
		return err
	}
	return tag(p, artifact, "artifact")
}

// writeZstd writes one index with a gzip and a zstd entry per platform.
// Both entries of a platform share its config (the same diff IDs), as
// containers/image writes them.
func writeZstd(dir string) error {
	var entries []Entry
	for _, plat := range []string{"linux/amd64", "linux/arm64"} {
		gz, err := Image(plat, OCI, "zstd")
		if err != nil {
			return err
		}
		zst, err := Recompressed(gz, types.OCILayerZStd)
		if err != nil {
			return err
		}
		entries = append(entries, Entry{Image: gz, Platform: plat},
			Entry{Image: zst, Platform: plat, Annotations: map[string]string{annotationZstd: "true"}})
	}
	idx, err := Index(OCI, entries...)
	if err != nil {
		return err
	}
	_, err = newLayout(dir, idx, map[string]string{specs.AnnotationRefName: "1.0"})
	return err
}

// Recompressed is img with every layer's tar compressed as mt (zstd or
// gzip) instead: the same config, so the same image.
func Recompressed(img v1.Image, mt types.MediaType) (v1.Image, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	out := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	out = mutate.ConfigMediaType(out, types.OCIConfigJSON)
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		nl, err := compressedLayer(b, mt)
		if err != nil {
			return nil, err
		}
		if out, err = mutate.AppendLayers(out, nl); err != nil {
			return nil, err
		}
	}
	return mutate.ConfigFile(out, cf.DeepCopy())
}

// writeOfficial writes a Docker Official Image index: Linux OCI images
// with attestations, Windows Docker schema 2 images whose base layer is
// foreign (its blob is not in the layout, as no registry stores it).
func writeOfficial(dir string) error {
	var images, atts []Entry
	var foreign []v1.Hash
	for _, plat := range OfficialPlatforms {
		var img v1.Image
		var err error
		if strings.HasPrefix(plat, "windows/") {
			var base v1.Hash
			img, base, err = windowsImage(plat)
			foreign = append(foreign, base)
		} else {
			img, err = Image(plat, OCI, "official")
		}
		if err != nil {
			return err
		}
		images = append(images, Entry{Image: img, Platform: plat})
		if strings.HasPrefix(plat, "linux/") {
			h, err := img.Digest()
			if err != nil {
				return err
			}
			att, err := Attestation(h)
			if err != nil {
				return err
			}
			atts = append(atts, Entry{Image: att, Attests: &h})
		}
	}
	idx, err := Index(OCI, append(images, atts...)...)
	if err != nil {
		return err
	}
	if _, err := newLayout(dir, idx, map[string]string{specs.AnnotationRefName: "latest"}); err != nil {
		return err
	}
	for _, h := range foreign {
		if err := os.Remove(filepath.Join(dir, "blobs", h.Algorithm, h.Hex)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// windowsImage is a Docker schema 2 Windows image: a foreign base layer
// (Microsoft's nanoserver, by URL) and a small layer of its own. It
// returns the foreign layer's digest.
func windowsImage(plat string) (v1.Image, v1.Hash, error) {
	p, err := v1.ParsePlatform(plat)
	if err != nil {
		return nil, v1.Hash{}, err
	}
	base, err := tarLayer("Files/nanoserver", "nanoserver "+p.OSVersion+"\n", types.DockerForeignLayer)
	if err != nil {
		return nil, v1.Hash{}, err
	}
	own, err := tarLayer("Files/hello.txt", "hello from "+plat+"\n", types.DockerLayer)
	if err != nil {
		return nil, v1.Hash{}, err
	}
	baseDigest, err := base.Digest()
	if err != nil {
		return nil, v1.Hash{}, err
	}
	img := mutate.MediaType(empty.Image, types.DockerManifestSchema2)
	img = mutate.ConfigMediaType(img, types.DockerConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.DockerForeignLayer, URLs: []string{"https://mcr.microsoft.com/v2/windows/nanoserver/blobs/" + baseDigest.String()}},
		mutate.Addendum{Layer: own, MediaType: types.DockerLayer})
	if err != nil {
		return nil, v1.Hash{}, err
	}
	img, err = withConfig(img, p, func(c *v1.Config) { c.Cmd = []string{"cmd", "/C", "type", "C:\\hello.txt"} })
	return img, baseDigest, err
}

// compressedLayer is a tar's bytes as a layer of media type mt, zstd or
// gzip compressed to match.
func compressedLayer(tarBytes []byte, mt types.MediaType) (v1.Layer, error) {
	comp := compression.GZip
	if mt == types.OCILayerZStd {
		comp = compression.ZStd
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarBytes)), nil
	}, tarball.WithMediaType(mt), tarball.WithCompression(comp))
}
