package repair_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/internal/treetest"
	"github.com/mlaudit/mlaudit/repair"
	"github.com/mlaudit/mlaudit/tree"
)

// compressed is img pushed with one layer of media type mt: the same
// config (so the same image), the layer's bytes differing with the
// compression, as podman pushes --compression-format zstd beside gzip.
func compressed(img *tree.Node, mt types.MediaType) *tree.Node {
	c := *img
	m := *img.Manifest
	m.Layers = []v1.Descriptor{{MediaType: mt, Size: 10, Digest: treetest.Digest("layer " + string(mt) + img.Descriptor.Digest.String())}}
	c.Manifest = &m
	c.Descriptor = v1.Descriptor{MediaType: img.Descriptor.MediaType}
	return treetest.Rehashed(&c)
}

// zstdEntry is n listed as containers/image lists its zstd variant.
func zstdEntry(n *tree.Node, p string) *tree.Node {
	e := treetest.Entry(n, p)
	e.Descriptor.Annotations = map[string]string{tree.AnnotationZstd: "true"}
	return e
}

// otherReference is an unknown/unknown entry BuildKit annotates with a
// reference type other than attestation-manifest, describing subject.
func otherReference(subject *tree.Node, kind string) *tree.Node {
	n := treetest.Attestation(subject)
	n.Descriptor.Annotations[tree.AnnotationReferenceType] = kind
	n.Descriptor.Digest = treetest.Digest(kind + subject.Descriptor.Digest.String())
	return n
}

// TestBuildKeepsCompressionVariantsAndReferences: repair --fix keeps an
// image's zstd variant beside its gzip original (one image, two
// compressions, not a duplicate), and keeps unknown/unknown entries of
// any vnd.docker.reference.type like attestations; it still drops a real
// duplicate.
func TestBuildKeepsCompressionVariantsAndReferences(t *testing.T) {
	amd := treetest.Image("amd", "linux/amd64")
	arm := treetest.Image("arm", "linux/arm64")
	gz, zst := compressed(amd, types.OCILayer), compressed(amd, types.OCILayerZStd)
	armGz, armZst := compressed(arm, types.OCILayer), compressed(arm, types.OCILayerZStd)
	rebuilt := compressed(treetest.Image("amd rebuilt", "linux/amd64"), types.OCILayerZStd)

	tests := []struct {
		name    string
		current *tree.Node
		rows    string
		codes   string
		changed bool
	}{
		{
			name: "gzip and zstd entries of two platforms are all kept",
			current: treetest.Index(types.OCIImageIndex,
				treetest.Entry(gz, "linux/amd64"), zstdEntry(zst, "linux/amd64"),
				treetest.Entry(armGz, "linux/arm64"), zstdEntry(armZst, "linux/arm64")),
			rows: "keep linux/amd64, keep linux/amd64, keep linux/arm64, keep linux/arm64",
		},
		{
			name: "a zstd entry of another build is a duplicate, and fixing drops it",
			current: treetest.Index(types.OCIImageIndex,
				treetest.Entry(gz, "linux/amd64"), zstdEntry(rebuilt, "linux/amd64"), treetest.Entry(arm, "linux/arm64")),
			rows:    "drop linux/amd64, keep linux/amd64, keep linux/arm64",
			changed: true,
		},
		{
			name: "an artifact entry is kept as it is, not given a platform nor dropped",
			current: treetest.Index(types.OCIImageIndex,
				treetest.Entry(amd, "linux/amd64"), treetest.Entry(arm, "linux/arm64"), sbomEntry(amd)),
			rows: "keep (artifact), keep linux/amd64, keep linux/arm64",
		},
		{
			name: "reference entries of any type are kept like attestations",
			current: treetest.Index(types.OCIImageIndex,
				treetest.Entry(amd, "linux/amd64"), treetest.Entry(arm, "linux/arm64"),
				otherReference(amd, "sbom-manifest"), otherReference(arm, "provenance"), treetest.Attestation(arm)),
			rows: "keep attestation, keep attestation, keep attestation, keep linux/amd64, keep linux/arm64",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := repair.Build(repair.Input{
				Target:  mustRef(t, at("app:1")),
				Current: tt.current,
				Fix:     true,
				Require: require(t, "linux/amd64,linux/arm64"),
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := planRows(p); got != tt.rows {
				t.Errorf("rows:\n got  %s\n want %s", got, tt.rows)
			}
			if got := findingCodes(p); got != tt.codes {
				t.Errorf("the plan's audit: %q, want %q", got, tt.codes)
			}
			if p.Changed != tt.changed {
				t.Errorf("changed = %v, want %v (rows %s)", p.Changed, tt.changed, fmt.Sprint(p.Rows))
			}
		})
	}
}

// sbomEntry is an OCI 1.1 SBOM artifact about subject, listed in an index
// with its artifactType and no platform.
func sbomEntry(subject *tree.Node) *tree.Node {
	m := &v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: "application/spdx+json",
		Config:  v1.Descriptor{MediaType: types.OCIEmptyJSON, Digest: treetest.Digest("{}"), Size: 2},
		Layers:  []v1.Descriptor{{MediaType: "application/spdx+json", Digest: treetest.Digest("sbom"), Size: 42}},
		Subject: &v1.Descriptor{MediaType: subject.Descriptor.MediaType, Digest: subject.Descriptor.Digest, Size: subject.Descriptor.Size},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	d, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		panic(err)
	}
	return &tree.Node{Descriptor: v1.Descriptor{MediaType: m.MediaType, Digest: d, Size: size, ArtifactType: m.ArtifactType}, Raw: raw, Manifest: m, Config: &v1.ConfigFile{}}
}
