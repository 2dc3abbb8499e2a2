package registry_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/tree"
)

// twoArchIndex is an OCI index of linux/amd64 and linux/arm64 images.
func twoArchIndex(t *testing.T) (v1.ImageIndex, v1.Image, v1.Image) {
	t.Helper()
	amd, arm := image(t, "linux/amd64"), image(t, "linux/arm64")
	idx, err := stories.Index(stories.OCI, stories.Entry{Image: amd, Platform: "linux/amd64"}, stories.Entry{Image: arm, Platform: "linux/arm64"})
	if err != nil {
		t.Fatal(err)
	}
	return idx, amd, arm
}

// writeLayoutTar writes idx as an OCI layout whose index.json entry carries
// annotations, removes the blobs of the images in drop (a partial export),
// and tars the layout (entries prefixed with prefix, "" or "./"). The
// containerd image store's `docker save` writes this shape: oci-layout,
// index.json pointing at the image's index annotated with
// io.containerd.image.name (the full name) and
// org.opencontainers.image.ref.name (the tag), blobs/sha256/, and a
// manifest.json for older clients listing the platform it holds.
func writeLayoutTar(t *testing.T, idx v1.ImageIndex, annotations map[string]string, prefix string, drop ...v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(annotations)); err != nil {
		t.Fatal(err)
	}
	for _, img := range drop {
		h := storytest.Digest(t, img)
		if err := os.Remove(filepath.Join(dir, "blobs", h.Algorithm, h.Hex)); err != nil {
			t.Fatal(err)
		}
	}
	return tarDir(t, dir, prefix)
}

// tarDir tars every file below dir, as buildx, skopeo and docker save do
// (regular files and directories).
func tarDir(t *testing.T, dir, prefix string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.tar")
	storytest.TarDir(t, dir, prefix, out)
	return out
}

func TestOCIArchive(t *testing.T) {
	idx, _, _ := twoArchIndex(t)
	for _, prefix := range []string{"", "./"} {
		file := writeLayoutTar(t, idx, map[string]string{"org.opencontainers.image.ref.name": "1.0"}, prefix)
		c := newClient(t)
		ctx := context.Background()
		if err := c.CheckTarget(mustRef(t, "oci-archive:"+file)); err != nil {
			t.Fatal(err)
		}
		refs, err := c.Expand(ctx, mustRef(t, "oci-archive:"+file))
		if err != nil || len(refs) != 1 || refs[0].String() != "oci-archive:"+file+":1.0" {
			t.Fatalf("Expand = %v, %v", refs, err)
		}
		n, err := c.Fetch(ctx, refs[0])
		if err != nil || n.Err != nil {
			t.Fatalf("Fetch: %v %v", err, n.Err)
		}
		if len(n.Children) != 2 {
			t.Fatalf("%d children, want 2", len(n.Children))
		}
		for _, child := range n.Children {
			if child.Err != nil || child.Config == nil || child.Config.Architecture != child.Descriptor.Platform.Architecture {
				t.Errorf("child %s: %v", child.Descriptor.Platform, child.Err)
			}
		}
		// A layer, streamed from the tar in place.
		rc, err := c.OpenLayer(ctx, refs[0], n.Children[0].Manifest.Layers[0])
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if got := sha256Hex(b); got != n.Children[0].Manifest.Layers[0].Digest.Hex {
			t.Errorf("the layer read has digest %s", got)
		}
	}
}

// TestDockerArchiveContainerdStore: a containerd image store's docker save
// of an image the engine holds only linux/amd64 of: arm64 is reported as
// not exported, with the --platform hint, whichever way the name is
// written.
func TestDockerArchiveContainerdStore(t *testing.T) {
	idx, _, arm := twoArchIndex(t)
	file := writeLayoutTar(t, idx, map[string]string{
		"io.containerd.image.name":          "docker.io/library/app:1.0",
		"org.opencontainers.image.ref.name": "1.0",
	}, "", arm)
	c := newClient(t)
	ctx := context.Background()
	tags, err := c.Tags(ctx, mustRef(t, "docker-archive:"+file))
	if err != nil || len(tags) != 1 || tags[0] != "docker.io/library/app:1.0" {
		t.Fatalf("Tags = %v, %v", tags, err)
	}
	for _, name := range []string{"app:1.0", "docker.io/library/app:1.0", "library/app:1.0"} {
		n, err := c.Fetch(ctx, mustRef(t, "docker-archive:"+file+":"+name))
		if err != nil || n.Err != nil {
			t.Fatalf("Fetch %s: %v %v", name, err, n.Err)
		}
		var missing int
		for _, child := range n.Children {
			if child.Err == nil {
				continue
			}
			missing++
			if !errors.Is(child.Err, tree.ErrMissing) || !strings.Contains(child.Err.Error(), "not exported") || !strings.Contains(child.Err.Error(), "--platform") {
				t.Errorf("the missing child's error should say it was not exported, with the --platform hint: %v", child.Err)
			}
		}
		if missing != 1 {
			t.Errorf("%d children missing, want 1 (arm64)", missing)
		}
	}
	if _, err := c.Fetch(ctx, mustRef(t, "docker-archive:"+file+":other:1")); !errors.Is(err, tree.ErrMissing) || !strings.Contains(err.Error(), "docker.io/library/app:1.0") {
		t.Errorf("a name the save does not hold: %v, want ErrMissing listing the names it has", err)
	}
}

// TestDockerArchiveClassic: the classic docker save form (manifest.json,
// one config and uncompressed layer tars per image), as skopeo and older
// engines write it, is read as a single-platform image.
func TestDockerArchiveClassic(t *testing.T) {
	dir := t.TempDir()
	layer := tarBytes(t, map[string]string{"etc/hello": "hi"})
	diffID := sha256Hex(layer)
	cfg, _ := json.Marshal(v1.ConfigFile{OS: "linux", Architecture: "arm64", RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{{Algorithm: "sha256", Hex: diffID}}}})
	cfgHex := sha256Hex(cfg)
	write := func(name string, b []byte) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(cfgHex+".json", cfg)
	write(diffID+"/layer.tar", layer)
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgHex + ".json", "RepoTags": []string{"localhost:5000/app:1"}, "Layers": []string{diffID + "/layer.tar"}}})
	write("manifest.json", manifest)
	file := tarDir(t, dir, "")

	c := newClient(t)
	ctx := context.Background()
	r := mustRef(t, "docker-archive:"+file+":localhost:5000/app:1")
	n, err := c.Fetch(ctx, r)
	if err != nil || n.Err != nil {
		t.Fatalf("Fetch: %v %v", err, n.Err)
	}
	if n.IsIndex() || n.Config == nil || n.Config.Architecture != "arm64" || n.Manifest.Layers[0].MediaType != types.DockerUncompressedLayer {
		t.Fatalf("want a single arm64 image with an uncompressed layer: %+v", n.Manifest)
	}
	rc, err := c.OpenLayer(ctx, r, n.Manifest.Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, layer) {
		t.Error("the layer read is not the saved layer")
	}
	if err := c.CheckTarget(mustRef(t, "oci-archive:"+file)); !errors.Is(err, registry.ErrInvalidTarget) || !strings.Contains(err.Error(), "docker-archive:") {
		t.Errorf("a classic save read as an OCI archive: %v, want a hint to read it as docker-archive:", err)
	}
}

// TestDockerArchiveLinks: docker save from Docker 25 on writes the classic
// <id>/layer.tar as a symlink to blobs/sha256/<hex>; a hard link names its
// target from the archive's root. Both are read as the file they lead to;
// a link loop and a link out of the archive are not found.
func TestDockerArchiveLinks(t *testing.T) {
	layer := tarBytes(t, map[string]string{"etc/hello": "hi"})
	diffID := sha256Hex(layer)
	cfg, _ := json.Marshal(v1.ConfigFile{OS: "linux", Architecture: "arm64", RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{{Algorithm: "sha256", Hex: diffID}}}})
	cfgHex := sha256Hex(cfg)
	// save writes a docker save whose image's config is at configPath,
	// with the blobs stored once under blobs/ and reached through links.
	save := func(configPath string) string {
		manifest, _ := json.Marshal([]map[string]any{{"Config": configPath, "RepoTags": []string{"localhost:5000/app:1"}, "Layers": []string{diffID + "/layer.tar"}}})
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		file := func(name string, content []byte) {
			tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
			tw.Write(content)
		}
		link := func(name, target string, kind byte) {
			tw.WriteHeader(&tar.Header{Name: name, Linkname: target, Mode: 0o777, Typeflag: kind})
		}
		file("blobs/sha256/"+diffID, layer)
		file("blobs/sha256/"+cfgHex, cfg)
		link(diffID+"/layer.tar", "../blobs/sha256/"+diffID, tar.TypeSymlink)
		link(cfgHex+".json", "blobs/sha256/"+cfgHex, tar.TypeLink)
		link("loop/a.json", "b.json", tar.TypeSymlink)
		link("loop/b.json", "../loop/a.json", tar.TypeSymlink)
		link("escape.json", "../../../../blobs/sha256/"+cfgHex+"/../../../../etc/passwd", tar.TypeSymlink)
		file("manifest.json", manifest)
		tw.Close()
		p := filepath.Join(t.TempDir(), "save.tar")
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	c := newClient(t)
	ctx := context.Background()
	r := mustRef(t, "docker-archive:"+save(cfgHex+".json")+":localhost:5000/app:1")
	n, err := c.Fetch(ctx, r)
	if err != nil {
		t.Fatalf("Fetch through links: %v", err)
	}
	if n.Err != nil || n.Config == nil || n.Config.Architecture != "arm64" {
		t.Fatalf("the config read through a hard link: %v %+v", n.Err, n.Config)
	}
	rc, err := c.OpenLayer(ctx, r, n.Manifest.Layers[0])
	if err != nil {
		t.Fatalf("the layer read through a symlink: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, layer) {
		t.Error("the layer read through a symlink is not the saved layer")
	}

	for _, config := range []string{"loop/a.json", "escape.json"} {
		_, err := newClient(t).Fetch(ctx, mustRef(t, "docker-archive:"+save(config)+":localhost:5000/app:1"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a config behind the link %s: %v, want it not found", config, err)
		}
	}
}

func TestArchiveRefusals(t *testing.T) {
	dir := t.TempDir()
	notTar := filepath.Join(dir, "notes.txt")
	os.WriteFile(notTar, bytes.Repeat([]byte("not a tar "), 100), 0o644)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarBytes(t, map[string]string{"index.json": "{}"}))
	zw.Close()
	gzFile := filepath.Join(dir, "out.tar.gz")
	os.WriteFile(gzFile, gz.Bytes(), 0o644)
	noLayout := filepath.Join(dir, "files.tar")
	os.WriteFile(noLayout, tarBytes(t, map[string]string{"hello": "hi"}), 0o644)
	c := newClient(t)
	for file, want := range map[string]string{
		filepath.Join(dir, "missing.tar"): "does not exist",
		notTar:                            "not a tar archive",
		gzFile:                            "decompress it first",
		noLayout:                          "neither index.json nor manifest.json",
		dir:                               "is a directory",
	} {
		err := c.CheckTarget(mustRef(t, "oci-archive:"+file))
		if !errors.Is(err, registry.ErrInvalidTarget) || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckTarget(oci-archive:%s) = %v, want ErrInvalidTarget saying %q", file, err, want)
		}
	}
	idx, _, _ := twoArchIndex(t)
	file := writeLayoutTar(t, idx, nil, "")
	// OCI archives are written (TestWriteArchive); a docker save is not.
	if err := c.Push(context.Background(), mustRef(t, "docker-archive:"+file+":x"), idx); !errors.Is(err, registry.ErrInvalidTarget) {
		t.Errorf("pushing to a docker save: %v, want ErrInvalidTarget", err)
	}
}

func tarBytes(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(content))
	}
	tw.Close()
	return b.Bytes()
}

func sha256Hex(b []byte) string {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h.Hex
}
