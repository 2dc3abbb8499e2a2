package registry_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/registry"
)

// tarNames lists an archive's entries in order, failing on any that is
// not a regular file.
func tarNames(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			t.Errorf("%s is not a regular file (type %c)", h.Name, h.Typeflag)
		}
		names = append(names, h.Name)
	}
}

// onlyFile checks that dir holds the one file name: no temporary file or
// directory was left beside the archive.
func onlyFile(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != name {
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		t.Errorf("%s holds %q, want only %s", dir, got, name)
	}
}

// TestWriteArchiveNew: pushing to an archive that does not exist (in a
// directory that does not either) creates it, as buildx writes one:
// oci-layout, index.json, then the blobs in order, regular files only.
// The writing client and a new one read it back whole.
func TestWriteArchiveNew(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	file := filepath.Join(dir, "out.tar")
	r := mustRef(t, "oci-archive:"+file+":1.0")
	c := newClient(t)
	if err := c.CheckDestination(r); err != nil {
		t.Fatalf("a new archive is a destination: %v", err)
	}
	if got, err := c.Resolve(context.Background(), r); err != nil || got != "" {
		t.Fatalf("Resolve in an archive that does not exist = %q, %v; want nothing", got, err)
	}
	idx, _, _ := twoArchIndex(t)
	if err := c.Push(context.Background(), r, idx); err != nil {
		t.Fatal(err)
	}
	want := mustDigestIndex(t, idx)
	for name, client := range map[string]*registry.Client{"the writing client": c, "a new client": newClient(t)} {
		if got, err := client.Resolve(context.Background(), r); err != nil || got != want {
			t.Errorf("%s resolves %s to %q, %v; want %s", name, r, got, err, want)
		}
		n, err := client.Fetch(context.Background(), r)
		if err != nil || n.Err != nil || len(n.Children) != 2 {
			t.Fatalf("%s: Fetch = %v, %v", name, err, n)
		}
		for _, child := range n.Children {
			if child.Err != nil || child.Config == nil {
				t.Errorf("%s: child %s: %v", name, child.Descriptor.Platform, child.Err)
			}
		}
	}
	names := tarNames(t, file)
	if len(names) < 3 || names[0] != "oci-layout" || names[1] != "index.json" || !slices.IsSorted(names[2:]) {
		t.Errorf("entries %q: want oci-layout, index.json, then the blobs in order", names)
	}
	for _, n := range names[2:] {
		if !strings.HasPrefix(n, "blobs/sha256/") {
			t.Errorf("entry %s is not a blob", n)
		}
	}
	onlyFile(t, dir, "out.tar")
}

// TestWriteArchiveKeepsContent: writing into an archive that exists keeps
// every entry and blob it held; a by-digest push moves no name, a tag
// move adds one and replaces only its own.
func TestWriteArchiveKeepsContent(t *testing.T) {
	idx, _, _ := twoArchIndex(t)
	file := writeLayoutTar(t, idx, map[string]string{"org.opencontainers.image.ref.name": "old"}, "./")
	ctx := context.Background()
	c := newClient(t)
	img := image(t, "linux/s390x")
	d := mustDigest(t, img)
	if err := c.CheckDestination(mustRef(t, "oci-archive:"+file+":new")); err != nil {
		t.Fatal(err)
	}
	if err := c.Push(ctx, mustRef(t, "oci-archive:"+file+"@"+d.String()), img); err != nil {
		t.Fatal(err)
	}
	if tags, err := c.Tags(ctx, mustRef(t, "oci-archive:"+file)); err != nil || !slices.Equal(tags, []string{"old"}) {
		t.Errorf("after a push by digest, Tags = %v, %v; want only old", tags, err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"new", "old"} {
		if err := c.MoveTag(ctx, mustRef(t, "oci-archive:"+file+":"+tag), raw, types.OCIManifestSchema1); err != nil {
			t.Fatalf("MoveTag %s: %v", tag, err)
		}
	}
	if err := c.MoveTag(ctx, mustRef(t, "oci-archive:"+file+":keep"), mustRaw(t, idx), types.OCIImageIndex); err != nil {
		t.Fatal(err)
	}
	fresh := newClient(t)
	tags, err := fresh.Tags(ctx, mustRef(t, "oci-archive:"+file))
	if err != nil || !slices.Equal(tags, []string{"old", "new", "keep"}) {
		t.Errorf("Tags = %v, %v; want old, new, keep", tags, err)
	}
	for tag, want := range map[string]string{"old": d.String(), "new": d.String(), "keep": mustDigestIndex(t, idx)} {
		r := mustRef(t, "oci-archive:"+file+":"+tag)
		if got, err := fresh.Resolve(ctx, r); err != nil || got != want {
			t.Errorf("%s holds %q, %v; want %s", tag, got, err, want)
		}
		n, err := fresh.Fetch(ctx, r)
		if err != nil || n.Err != nil {
			t.Errorf("Fetch %s: %v %v", tag, err, n.Err)
		}
		for _, child := range n.Children {
			if child.Err != nil {
				t.Errorf("%s: the old index's child %s was lost: %v", tag, child.Descriptor.Digest, child.Err)
			}
		}
	}
	onlyFile(t, filepath.Dir(file), filepath.Base(file))
}

// TestWriteArchiveRefusals: standard input and docker saves are not
// written, and say what to write instead; nothing is written.
func TestWriteArchiveRefusals(t *testing.T) {
	idx, _, _ := twoArchIndex(t)
	file := writeLayoutTar(t, idx, map[string]string{"io.containerd.image.name": "docker.io/library/app:1.0"}, "")
	before, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	ctx := context.Background()
	for dest, want := range map[string]string{
		"oci-archive:-:1.0":                   "standard input",
		"docker-archive:" + file + ":app:2.0": "oci-archive:",
	} {
		r := mustRef(t, dest)
		for name, err := range map[string]error{
			"CheckDestination": c.CheckDestination(r),
			"Push":             c.Push(ctx, r, idx),
			"MoveTag":          c.MoveTag(ctx, r, mustRaw(t, idx), types.OCIImageIndex),
		} {
			if !errors.Is(err, registry.ErrInvalidTarget) || !strings.Contains(err.Error(), want) {
				t.Errorf("%s %s = %v, want ErrInvalidTarget saying %q", name, dest, err, want)
			}
		}
	}
	notTar := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notTar, []byte(strings.Repeat("not a tar ", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckDestination(mustRef(t, "oci-archive:"+notTar+":1")); !errors.Is(err, registry.ErrInvalidTarget) || !strings.Contains(err.Error(), "not a tar") {
		t.Errorf("a file that is not an archive as a destination: %v", err)
	}
	if err := c.Push(ctx, mustRef(t, "oci-archive:"+notTar+":1"), idx); !errors.Is(err, registry.ErrInvalidTarget) {
		t.Errorf("pushing over a file that is not an archive: %v", err)
	}
	if after, err := os.ReadFile(file); err != nil || string(after) != string(before) {
		t.Errorf("a refused write changed the archive (%v)", err)
	}
}

func mustRaw(t *testing.T, m interface{ RawManifest() ([]byte, error) }) []byte {
	t.Helper()
	raw, err := m.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func mustDigestIndex(t *testing.T, m interface{ RawManifest() ([]byte, error) }) string {
	t.Helper()
	return "sha256:" + sha256Hex(mustRaw(t, m))
}

// TestWriteArchiveChangedBehind: an archive another program rewrote
// after the Client read it is not overwritten from what the Client read:
// the write is refused (ErrArchiveChanged, nothing written) and the other
// writer's content is intact. A lookup by tag reads the new file, and a
// write after it keeps what the other writer wrote.
func TestWriteArchiveChangedBehind(t *testing.T) {
	idx, _, _ := twoArchIndex(t)
	file := writeLayoutTar(t, idx, map[string]string{"org.opencontainers.image.ref.name": "1.0"}, "")
	ctx := context.Background()
	r := mustRef(t, "oci-archive:"+file+":1.0")
	c := newClient(t)
	defer c.Close()
	if got, err := c.Resolve(ctx, r); err != nil || got != mustDigestIndex(t, idx) {
		t.Fatalf("Resolve = %q, %v", got, err)
	}
	// Another writer moves 1.0 and adds a tag.
	other := image(t, "linux/s390x")
	theirs := newClient(t)
	for _, tag := range []string{"1.0", "theirs"} {
		if err := theirs.MoveTag(ctx, mustRef(t, "oci-archive:"+file+":"+tag), mustRaw(t, other), types.OCIManifestSchema1); err != nil {
			t.Fatal(err)
		}
	}
	theirs.Close()
	before, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	mine := image(t, "linux/ppc64le")
	err = c.MoveTag(ctx, mustRef(t, "oci-archive:"+file+":mine"), mustRaw(t, mine), types.OCIManifestSchema1)
	if !errors.Is(err, registry.ErrArchiveChanged) || !strings.Contains(err.Error(), "again") {
		t.Errorf("MoveTag over an archive changed behind the Client = %v, want ErrArchiveChanged saying to run again", err)
	}
	if after, err := os.ReadFile(file); err != nil || string(after) != string(before) {
		t.Errorf("the refused write changed the archive (%v)", err)
	}
	onlyFile(t, filepath.Dir(file), filepath.Base(file))
	// The re-read before a move sees the other writer's tag.
	if got, err := c.Resolve(ctx, r); err != nil || got != mustDigest(t, other).String() {
		t.Errorf("Resolve after the archive changed = %q, %v; want %s, what the other writer tagged", got, err, mustDigest(t, other))
	}
	if err := c.MoveTag(ctx, mustRef(t, "oci-archive:"+file+":mine"), mustRaw(t, mine), types.OCIManifestSchema1); err != nil {
		t.Fatalf("MoveTag after reading the new archive: %v", err)
	}
	tags, err := newClient(t).Tags(ctx, mustRef(t, "oci-archive:"+file))
	if err != nil || !slices.Equal(tags, []string{"1.0", "theirs", "mine"}) {
		t.Errorf("Tags = %v, %v; want 1.0, theirs (the other writer's) and mine", tags, err)
	}
}

// openFiles counts the process's open descriptors (Linux).
func openFiles(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(entries)
}

// TestArchiveCloseReleasesFiles: each version of an archive a Client
// read keeps at most one descriptor, and Close releases them all.
func TestArchiveCloseReleasesFiles(t *testing.T) {
	idx, _, _ := twoArchIndex(t)
	file := writeLayoutTar(t, idx, map[string]string{"org.opencontainers.image.ref.name": "1.0"}, "")
	ctx := context.Background()
	raw := mustRaw(t, image(t, "linux/s390x"))
	start := openFiles(t)
	c := newClient(t)
	const writes = 20
	for i := range writes {
		r := mustRef(t, "oci-archive:"+file+":1.0")
		if _, err := c.Resolve(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := c.MoveTag(ctx, mustRef(t, "oci-archive:"+file+":t"+strconv.Itoa(i)), raw, types.OCIManifestSchema1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Resolve(ctx, mustRef(t, "oci-archive:"+file+":1.0")); err != nil {
		t.Fatal(err)
	}
	if open := openFiles(t) - start; open > writes+1 {
		t.Errorf("%d descriptors open after %d writes, want at most one per version (%d)", open, writes, writes+1)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if open := openFiles(t) - start; open > 0 {
		t.Errorf("%d descriptors still open after Close", open)
	}
}
