package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/registry"
)

// Repairs that read from and write to OCI layouts whose children sit below
// an index, as every multi-arch layout's do, and to layouts that do not
// exist yet. Each result is read back with skopeo, an independent client.

// layoutPlatform is what skopeo resolves in a layout entry for a platform.
func layoutPlatform(t *testing.T, layoutRef, arch string) string {
	t.Helper()
	var got struct{ Os, Architecture string }
	if err := json.Unmarshal(skopeo(t, "--override-os", "linux", "--override-arch", arch, "inspect", layoutRef), &got); err != nil {
		t.Fatal(err)
	}
	return got.Os + "/" + got.Architecture
}

// indexEntries reads a layout's index.json entries.
func indexEntries(t *testing.T, dir string) []v1.Descriptor {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := v1.ParseIndexManifest(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return idx.Manifests
}

// containerdExport writes a layout shaped as `ctr export` and `docker save`
// with the containerd image store write one: index.json's one entry is the
// image's index, named by io.containerd.image.name and a ref name; below
// it, linux/amd64, an arm64 image listed without a platform, and an s390x
// image whose blobs were not exported (a partial export). It returns the
// index's digest.
func containerdExport(t *testing.T, dir string) string {
	t.Helper()
	env := storytest.NewEnv(t, "unused.invalid")
	s390x := env.Image("linux/s390x", stories.OCI, "export")
	idx := env.Index(stories.OCI,
		stories.Entry{Image: env.Image("linux/amd64", stories.OCI, "export"), Platform: "linux/amd64"},
		stories.Entry{Image: env.Image("linux/arm64", stories.OCI, "export")},
		stories.Entry{Image: s390x, Platform: "linux/s390x"})
	c, err := registry.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Push(context.Background(), storytest.Parse(t, "oci:"+dir+":1.0"), idx); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "index.json")
	var doc map[string]any
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &doc)
	}
	if err != nil {
		t.Fatal(err)
	}
	entry := doc["manifests"].([]any)[0].(map[string]any)
	entry["annotations"].(map[string]any)["io.containerd.image.name"] = "docker.io/library/app:1.0"
	if b, err = json.Marshal(doc); err == nil {
		err = os.WriteFile(path, b, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	gone := storytest.Digest(t, s390x)
	if err := os.Remove(filepath.Join(dir, "blobs", "sha256", gone.Hex)); err != nil {
		t.Fatal(err)
	}
	return storytest.Digest(t, idx).String()
}

// TestRepairContainerdExportInPlace: --fix --apply on a containerd export
// writes the mended index into the same layout, moves its entry (keeping
// containerd's name), deletes nothing, and skopeo reads every platform.
func TestRepairContainerdExportInPlace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "export")
	old := containerdExport(t, dir)
	target := "oci:" + dir + ":1.0"

	audited := mlaudit(t, "", "audit", "--format", "json", "--require", "linux/amd64,linux/arm64", target)
	if audited.code != 1 || !strings.Contains(audited.stdout, "partial export") {
		t.Errorf("the audit should find the entry without a platform and explain the missing child as a partial export: exit %d\n%s", audited.code, audited.stdout)
	}

	r := mlaudit(t, "", "repair", "--fix", "--require", "linux/amd64,linux/arm64", "--apply", target)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, old) {
		t.Errorf("the output should name the old digest %s:\n%s", old, r.stdout)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		if got := layoutPlatform(t, target, arch); got != "linux/"+arch {
			t.Errorf("skopeo resolves linux/%s in the repaired layout to %s", arch, got)
		}
	}
	entries := indexEntries(t, dir)
	if len(entries) != 1 || entries[0].Annotations["io.containerd.image.name"] != "docker.io/library/app:1.0" || entries[0].Annotations["org.opencontainers.image.ref.name"] != "1.0" {
		t.Errorf("the entry should be replaced in place, keeping its names: %+v", entries)
	}
	if entries[0].Digest.String() == old {
		t.Error("the entry still points at the old index")
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(old, "sha256:"))); err != nil {
		t.Errorf("the old index must stay in the layout: %v", err)
	}
	raw := string(skopeo(t, "inspect", "--raw", target))
	if strings.Contains(raw, "s390x") || !strings.Contains(raw, `"architecture":"arm64"`) {
		t.Errorf("--fix drops the unexported s390x and labels arm64 from its config:\n%s", raw)
	}
}

// TestRepairFromLayoutIndexIntoRegistry: a buildx layout's entry is an
// index; its images (below that index) are copied into a registry.
func TestRepairFromLayoutIndexIntoRegistry(t *testing.T) {
	host := testregistry.Distribution(t)
	dest := stories.Dest{Registry: host, LayoutDir: t.TempDir()}
	c, err := registry.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stories.All() {
		if s.Name == "buildx" {
			if _, err := s.Seed(context.Background(), c, dest); err != nil {
				t.Fatal(err)
			}
		}
	}
	source := "oci:" + filepath.Join(dest.LayoutDir, "buildx-out") + ":app-1.0"
	// The layout's arm64 entry is an amd64 image: only amd64 is usable,
	// so arm64 comes from a registry image.
	env := storytest.NewEnv(t, host)
	arm := env.Push("buildx/app:1.0-arm64", env.Image("linux/arm64", stories.OCI, "from a registry")).String()
	target := host + "/buildx/app:1.0"
	r := mlaudit(t, "", "repair", "--from", source, "--from", arm, "--require", "linux/amd64,linux/arm64", "--apply", target)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		if got := pulledPlatform(t, target, "linux", arch, ""); got != "linux/"+arch {
			t.Errorf("skopeo resolves linux/%s to %s", arch, got)
		}
	}
	// The amd64 image and its layers came from the layout: skopeo can copy
	// the whole list out of the registry.
	skopeo(t, "copy", "--all", "--src-tls-verify=false", "docker://"+target, "oci:"+filepath.Join(t.TempDir(), "copy")+":1.0")
}

// TestRepairToNewLayout: --to a layout directory that does not exist yet
// creates it; the target is left alone.
func TestRepairToNewLayout(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	env := storytest.NewEnv(t, host)
	target := env.Push("app:1", env.Image("linux/amd64", stories.OCI, "new layout"))
	arm := env.Push("app:1-arm64", env.Image("linux/arm64", stories.OCI, "new layout"))
	dir := filepath.Join(t.TempDir(), "does", "not", "exist")
	to := "oci:" + dir + ":1.0"
	r := mlaudit(t, "", "repair", "--from", arm.String(), "--require", "linux/amd64,linux/arm64", "--to", to, "--apply", target.String())
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		if got := layoutPlatform(t, to, arch); got != "linux/"+arch {
			t.Errorf("skopeo resolves linux/%s in the new layout to %s", arch, got)
		}
	}
	after := mlaudit(t, "", "audit", "--format", "json", target.String())
	if rep := decode(t, after.stdout); rep.Images[0].MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("--to must leave the target alone; it holds %s", rep.Images[0].MediaType)
	}

	// A directory that holds other files is not made into a layout.
	busy := t.TempDir()
	if err := os.WriteFile(filepath.Join(busy, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = mlaudit(t, "", "repair", "--from", arm.String(), "--require", "linux/amd64,linux/arm64", "--to", "oci:"+busy+":1.0", "--apply", target.String())
	if r.code != 2 || !strings.Contains(r.stderr, "--to") || !strings.Contains(r.stderr, "not empty") || r.stdout != "" {
		t.Errorf("writing a layout into a directory with other files should be refused before any plan, exit 2: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
