package deep_test

import (
	"context"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/deep"
	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
)

func TestIsTar(t *testing.T) {
	tests := []struct {
		mediaType types.MediaType
		read      bool
	}{
		// OCI image layers, plain, gzip and zstd, and nondistributable.
		{types.OCIUncompressedLayer, true},
		{types.OCILayer, true},
		{types.OCILayerZStd, true},
		{types.OCIUncompressedRestrictedLayer, true},
		{types.OCIRestrictedLayer, true},
		{"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", true},
		// Docker schema 2.
		{types.DockerLayer, true},
		{types.DockerForeignLayer, true},
		{types.DockerUncompressedLayer, true},
		// Artifacts whose layers are tars.
		{"application/vnd.cncf.helm.chart.content.v1.tar+gzip", true},
		{"application/vnd.example.model.v1+tar", true},
		{"application/vnd.example.weights.v1.tar+zstd", true},
		{"application/x-tar", true},
		{"application/tar+gzip", true},
		// Parameters and case do not change what the bytes are.
		{"application/vnd.oci.image.layer.v1.tar+gzip; foo=bar", true},
		{"Application/VND.OCI.Image.Layer.v1.TAR+GZIP", true},
		// No media type: read, as before (the magic bytes pick the codec).
		{"", true},
		// Artifacts' JSON and the like.
		{"application/spdx+json", false},
		{"application/vnd.in-toto+json", false},
		{"application/json", false},
		{types.OCIConfigJSON, false},
		{"application/vnd.oci.empty.v1+json", false},
		{"application/vnd.cyclonedx+json", false},
		{"application/vnd.dev.cosign.simplesigning.v1+json", false},
		{"application/vnd.cncf.helm.config.v1+json", false},
		{"application/vnd.oci.image.layer.v1.tar+gzip+encrypted", false},
		{"application/octet-stream", false},
		{"text/plain", false},
		{"application/gzip", false},
		{"application/vnd.example.tarball+json", false},
		{"tar", false},
	}
	for _, tt := range tests {
		if got := deep.IsTar(tt.mediaType); got != tt.read {
			t.Errorf("IsTar(%q) = %v, want %v", tt.mediaType, got, tt.read)
		}
	}
}

// ggcrImage is what Inspect takes from an image built with
// go-containerregistry, with an opener that counts which layers it opened.
func ggcrImage(t *testing.T, img v1.Image) (*v1.Manifest, *v1.ConfigFile, deep.Opener, map[v1.Hash]int) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	opened := map[v1.Hash]int{}
	open := func(_ context.Context, d v1.Descriptor) (io.ReadCloser, error) {
		opened[d.Digest]++
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return nil, err
		}
		return l.Compressed()
	}
	return m, cf, open, opened
}

// TestArtifactLayersAreSkipped: an image with an SBOM-like JSON layer over
// a real tar layer is checked from the tar alone; the JSON layer is listed
// as skipped, never opened, and is no error.
func TestArtifactLayersAreSkipped(t *testing.T) {
	sbom := []byte(`{"spdxVersion":"SPDX-2.3","name":"app"}`)
	tarball := layer(t, "gzip", exe("usr/local/bin/app", goBinaries["amd64"]), exe("bin/sh", stories.ELF("amd64")))
	img, err := stories.ImageWithLayers("linux/arm64", "/usr/local/bin/app",
		static.NewLayer(tarball, types.OCILayer),
		static.NewLayer(sbom, "application/spdx+json"),
		static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json"),
	)
	if err != nil {
		t.Fatal(err)
	}
	m, cf, open, opened := ggcrImage(t, img)
	r, err := (&deep.Inspector{Limits: deep.DefaultLimits}).Inspect(context.Background(), m, cf, open)
	if err != nil {
		t.Fatalf("a JSON layer is not an error: %v", err)
	}
	want := []deep.SkippedLayer{
		{Digest: m.Layers[1].Digest, MediaType: "application/spdx+json"},
		{Digest: m.Layers[2].Digest, MediaType: "application/vnd.oci.empty.v1+json"},
	}
	if len(r.Skipped) != len(want) || r.Skipped[0] != want[0] || r.Skipped[1] != want[1] {
		t.Errorf("skipped %+v, want %+v", r.Skipped, want)
	}
	if opened[m.Layers[1].Digest] != 0 || opened[m.Layers[2].Digest] != 0 || opened[m.Layers[0].Digest] != 1 {
		t.Errorf("layers opened %v: want the tar once and the JSON never", opened)
	}
	if len(r.Inspected) != 2 || r.Entrypoint != "/usr/local/bin/app" || !r.Mismatch {
		t.Errorf("the tar layer should be inspected: %d binaries, entrypoint %q, mismatch %v", len(r.Inspected), r.Entrypoint, r.Mismatch)
	}
	if r.Bytes != int64(len(tarball)) {
		t.Errorf("bytes %d, want the tar layer's %d alone", r.Bytes, len(tarball))
	}
}

// TestForeignLayersAreSkipped: a Windows image on a foreign base layer
// (a tar that lives at Microsoft's URL, stored by no registry) is judged
// from its own layers; the foreign one is listed as skipped and never
// opened, so no URL a registry wrote is ever dialled.
func TestForeignLayersAreSkipped(t *testing.T) {
	base := layer(t, "gzip", exe("Windows/System32/cmd.exe", stories.PE("amd64")))
	own := layer(t, "gzip", exe("app/app.exe", stories.PE("arm64")))
	img, err := stories.ImageWithLayers("windows/amd64", "/app/app.exe",
		static.NewLayer(base, types.DockerForeignLayer),
		static.NewLayer(own, types.DockerLayer),
	)
	if err != nil {
		t.Fatal(err)
	}
	m, cf, open, opened := ggcrImage(t, img)
	m.Layers[0].URLs = []string{"https://mcr.microsoft.com/v2/windows/nanoserver/blobs/" + m.Layers[0].Digest.String()}
	r, err := (&deep.Inspector{Limits: deep.DefaultLimits}).Inspect(context.Background(), m, cf, open)
	if err != nil {
		t.Fatalf("a foreign layer is not an error: %v", err)
	}
	want := deep.SkippedLayer{Digest: m.Layers[0].Digest, MediaType: types.DockerForeignLayer, Foreign: true}
	if len(r.Skipped) != 1 || r.Skipped[0] != want {
		t.Errorf("skipped %+v, want %+v", r.Skipped, want)
	}
	if opened[m.Layers[0].Digest] != 0 || opened[m.Layers[1].Digest] != 1 {
		t.Errorf("layers opened %v: want the image's own layer once and the foreign one never", opened)
	}
	if !r.Mismatch {
		t.Errorf("the arm64 app.exe in a windows/amd64 image should be a mismatch: %+v", r)
	}

	// The same layer without URLs is stored in the registry: it is read.
	m.Layers[0].URLs = nil
	clear(opened)
	if _, err := (&deep.Inspector{Limits: deep.DefaultLimits}).Inspect(context.Background(), m, cf, open); err != nil {
		t.Fatal(err)
	}
	if opened[m.Layers[0].Digest] != 1 {
		t.Errorf("a foreign media type without URLs should be read from the registry: opened %v", opened)
	}
}

// TestOnlyArtifactLayers: an image none of whose layers is a tar has
// nothing to judge: no mismatch, no error, nothing opened.
func TestOnlyArtifactLayers(t *testing.T) {
	img, err := stories.ImageWithLayers("linux/arm64", "/usr/local/bin/app",
		static.NewLayer([]byte(`{"_type":"https://in-toto.io/Statement/v1"}`), "application/vnd.in-toto+json"),
		static.NewLayer([]byte(`{"a":1}`), "application/json"),
	)
	if err != nil {
		t.Fatal(err)
	}
	m, cf, open, opened := ggcrImage(t, img)
	r, err := (&deep.Inspector{Limits: deep.DefaultLimits}).Inspect(context.Background(), m, cf, open)
	if err != nil {
		t.Fatal(err)
	}
	if r.Mismatch || len(r.Inspected) != 0 || len(r.Skipped) != 2 || len(opened) != 0 || r.Bytes != 0 {
		t.Errorf("mismatch %v, inspected %d, skipped %d, opened %v, bytes %d: want nothing read, both skipped", r.Mismatch, len(r.Inspected), len(r.Skipped), opened, r.Bytes)
	}
}

// TestArtifactLayersThroughTheAudit: the case the issue reported (exit 3,
// "reading the layer's tar: unexpected EOF") run through audit.Run against
// a registry: no error, and the tar layer still finds the mismatch.
func TestArtifactLayersThroughTheAudit(t *testing.T) {
	env := storytest.NewEnv(t, testregistry.InProcess(t, nil))
	for _, tt := range []struct {
		tag      string
		binArch  string
		findings int
	}{{"wrong", "amd64", 1}, {"right", "arm64", 0}} {
		img, err := stories.ImageWithLayers("linux/arm64", "/usr/local/bin/app",
			static.NewLayer(layer(t, "gzip", exe("usr/local/bin/app", stories.ELF(tt.binArch))), types.OCILayer),
			static.NewLayer([]byte(`{"spdxVersion":"SPDX-2.3"}`), "application/spdx+json"),
		)
		if err != nil {
			t.Fatal(err)
		}
		r := env.Push("app:"+tt.tag, img)
		res := audit.Run(context.Background(), testregistry.Client(t), []audit.Target{{Ref: r, Deep: true}}, audit.Options{Deep: &deep.Inspector{Limits: deep.DefaultLimits}})
		if len(res.Errors) != 0 {
			t.Errorf("%s: errors %+v, want none", tt.tag, res.Errors)
		}
		got := 0
		for _, f := range res.Findings {
			if f.Code == audit.BinaryArchMismatch {
				got++
			} else if strings.Contains(f.Message, "tar") {
				t.Errorf("%s: %s", tt.tag, f.Message)
			}
		}
		if got != tt.findings {
			t.Errorf("%s: %d binary-arch-mismatch findings, want %d (%+v)", tt.tag, got, tt.findings, res.Findings)
		}
	}
}
