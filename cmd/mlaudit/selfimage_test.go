package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestSelfImage builds mlaudit's own image the way make image does
// (internal/cmd/mkimage) and audits it with --deep: every platform present,
// each binary built for the platform its entry claims. Then it relabels the
// arm64 image as amd64, as a broken release pipeline would, and expects
// binary-arch-mismatch.
func TestSelfImage(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles mlaudit")
	}
	start := time.Now()
	dir := filepath.Join(t.TempDir(), "image")
	// Two platforms, not make image's six: each one is a full cross-compile
	// of mlaudit (and, on a cold build cache, of the standard library for
	// that architecture: minutes each on a CI runner), and two platforms
	// whose binaries differ already exercise everything mkimage does per
	// platform and the deep check's comparison.
	build := exec.Command("go", "run", "./internal/cmd/mkimage",
		"-platforms", "linux/amd64,linux/arm64", "-o", dir, "-tag", "test")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("mkimage: %v\n%s", err, out)
	}
	t.Logf("mkimage: %s", time.Since(start).Round(time.Millisecond))

	res := auditJSON(t, 0, "oci:"+dir+":test")
	if len(res.Findings) != 0 || len(res.Errors) != 0 {
		t.Fatalf("findings %v, errors %v; want none", res.Findings, res.Errors)
	}
	if len(res.Images) != 1 {
		t.Fatalf("%d images audited, want 1", len(res.Images))
	}
	got := map[string]string{} // platform -> arch of /mlaudit
	for _, p := range res.Images[0].Platforms {
		if p.Status != "ok" {
			t.Errorf("%s: status %s, want ok", p.Platform, p.Status)
		}
		for _, b := range p.Binaries {
			if b.Path == "/mlaudit" {
				got[p.Platform] = b.Arch
			}
		}
	}
	want := map[string]string{"linux/amd64": "amd64", "linux/arm64": "arm64"}
	if len(got) != len(want) || got["linux/amd64"] != "amd64" || got["linux/arm64"] != "arm64" {
		t.Fatalf("deep check read /mlaudit as %v, want %v", got, want)
	}

	// The arm64 image, its config and its index entry saying amd64.
	src, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	outer, err := src.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := outer.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("layout index.json: %v, %d entries", err, len(im.Manifests))
	}
	idx, err := outer.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	arm64 := v1.Platform{OS: "linux", Architecture: "arm64"}
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	var img v1.Image
	children, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range children.Manifests {
		if d.Platform != nil && d.Platform.Equals(arm64) {
			if img, err = idx.Image(d.Digest); err != nil {
				t.Fatal(err)
			}
		}
	}
	if img == nil {
		t.Fatal("no linux/arm64 entry in the built index")
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	bad := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &amd64}})
	badDir := filepath.Join(t.TempDir(), "mislabelled")
	l, err := layout.Write(badDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.AppendIndex(bad, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "test"})); err != nil {
		t.Fatal(err)
	}
	res = auditJSON(t, -1, "oci:"+badDir+":test")
	var mismatch bool
	for _, f := range res.Findings {
		if f.Code == "binary-arch-mismatch" && f.Platform == "linux/amd64" {
			mismatch = true
		}
	}
	if !mismatch {
		t.Fatalf("no binary-arch-mismatch for linux/amd64 in %+v", res.Findings)
	}
	t.Logf("TestSelfImage: %s", time.Since(start).Round(time.Millisecond))
}

// selfAudit is the part of mlaudit's JSON report TestSelfImage reads.
type selfAudit struct {
	Images []struct {
		Platforms []struct {
			Platform string `json:"platform"`
			Status   string `json:"status"`
			Binaries []struct {
				Path string `json:"path"`
				Arch string `json:"arch"`
			} `json:"binaries"`
		} `json:"platforms"`
	} `json:"images"`
	Findings []struct {
		Code     string `json:"code"`
		Platform string `json:"platform"`
		Message  string `json:"message"`
	} `json:"findings"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

// auditJSON runs a deep audit of target requiring linux/amd64 and
// linux/arm64, checks the exit code (any non-zero when code is -1) and
// decodes the report.
func auditJSON(t *testing.T, code int, target string) selfAudit {
	t.Helper()
	r := mlaudit(t, "", "audit", "--deep", "--require", "linux/amd64,linux/arm64", "--format", "json", target)
	if (code >= 0 && r.code != code) || (code < 0 && r.code == 0) {
		t.Fatalf("audit %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", target, r.code, code, r.stdout, r.stderr)
	}
	var res selfAudit
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("audit %s: decoding report: %v\n%s", target, err, r.stdout)
	}
	return res
}
