package audit_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
)

// TestReferenceLayout audits the committed layout, shaped like published
// indexes: many platforms, arm variants, Windows versions, attestations.
// It is healthy, so every platform must be found and nothing reported.
func TestReferenceLayout(t *testing.T) {
	dir := filepath.Join("..", "testdata", "layout")
	require, err := platform.ParseList("linux/amd64,linux/arm64,linux/arm/v7,linux/arm/v6,linux/386,windows(10.0.17763)/amd64,windows(10.0.20348)/amd64")
	if err != nil {
		t.Fatal(err)
	}
	r := audit.Run(context.Background(), newClient(t), []audit.Target{{Ref: storytest.Parse(t, "oci:"+dir+":"+stories.ReferenceDockerList), Require: require}}, audit.Options{})
	if len(r.Errors) > 0 || len(r.Findings) > 0 {
		t.Fatalf("the reference layout should be clean: errors %v, findings %v", r.Errors, r.Findings)
	}
	img := r.Images[0]
	if len(img.Platforms) != len(stories.ReferencePlatforms) {
		t.Fatalf("%d platform rows, want %d", len(img.Platforms), len(stories.ReferencePlatforms))
	}
	if got := img.Platforms[8].Platform; got != "windows(10.0.17763.5458)/amd64" {
		t.Errorf("the Windows row should carry its os.version, got %q", got)
	}

	// Every entry of index.json, when no ref name is given.
	r = audit.Run(context.Background(), newClient(t), []audit.Target{{Ref: storytest.Parse(t, "oci:"+dir)}}, audit.Options{})
	if len(r.Images) != 2 || len(r.Findings) != 0 || len(r.Errors) != 0 {
		t.Fatalf("oci:DIR should audit both entries cleanly: %d images, findings %v, errors %v", len(r.Images), r.Findings, r.Errors)
	}
	attestations := 0
	for _, p := range r.Images[1].Platforms {
		if p.Attestation {
			attestations++
		}
	}
	if attestations != len(stories.ReferenceOCIPlatforms) {
		t.Errorf("%d attestation rows, want %d", attestations, len(stories.ReferenceOCIPlatforms))
	}
}

// TestLayoutRefNameWithColons audits a layout entry named like buildx
// names them: a full reference, colons included.
func TestLayoutRefNameWithColons(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	name := "docker.io/library/app:1.0"
	img, err := stories.Image("linux/arm64", stories.OCI, "colons")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	if err := c.Push(context.Background(), storytest.Parse(t, "oci:"+dir+":"+name), img); err != nil {
		t.Fatal(err)
	}
	r := audit.Run(context.Background(), c, []audit.Target{{Ref: storytest.Parse(t, "oci:"+dir+":"+name)}}, audit.Options{})
	if len(r.Errors) > 0 || len(r.Images) != 1 {
		t.Fatalf("errors %v, images %d", r.Errors, len(r.Images))
	}
	if got := r.Images[0].Ref.String(); got != "oci:"+dir+":"+name {
		t.Errorf("ref = %q", got)
	}
}

// TestLayoutWithMirrorsIsAudited: a layout has no copy in a mirror, so a
// policy's mirrors do not make a layout target "not audited".
func TestLayoutWithMirrorsIsAudited(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	img, err := stories.Image("linux/amd64", stories.OCI, "mirrors")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	at := storytest.Parse(t, "oci:"+dir+":1")
	if err := c.Push(context.Background(), at, img); err != nil {
		t.Fatal(err)
	}
	mirror, err := ref.ParsePrefix("registry.internal/mirror")
	if err != nil {
		t.Fatal(err)
	}
	r := audit.Run(context.Background(), c, []audit.Target{{Ref: at, Mirrors: []ref.Ref{mirror}}}, audit.Options{})
	if len(r.Errors) != 0 || len(r.Images) != 1 || len(r.Findings) != 0 {
		t.Errorf("errors %v, images %d, findings %v; want one clean image", r.Errors, len(r.Images), r.Findings)
	}
}
