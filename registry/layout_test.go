package registry_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/registry"
)

// TestConcurrentPushesIntoANewLayout: pushes racing into one directory
// that does not exist yet all land, however the directory is spelled.
func TestConcurrentPushesIntoANewLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	rel, err := filepath.Rel(mustGetwd(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := dir
			if i%2 == 1 {
				d = rel // the same directory, written another way
			}
			errs[i] = c.Push(context.Background(), mustRef(t, "oci:"+d+":tag-"+string(rune('a'+i))), image(t, "linux/amd64"))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("push %d: %v", i, err)
		}
	}
	tags, err := c.Tags(context.Background(), mustRef(t, "oci:"+dir))
	if err != nil || len(tags) != n {
		t.Errorf("index.json lists %d tags (%v), want %d: an update was lost", len(tags), err, n)
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// TestLayoutDestinations: a directory an interrupted creation left is
// still a destination; one holding other files is refused, before and
// during a write.
func TestLayoutDestinations(t *testing.T) {
	c := newClient(t)
	interrupted := t.TempDir()
	if err := os.MkdirAll(filepath.Join(interrupted, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(interrupted, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustRef(t, "oci:"+interrupted+":1")
	if err := c.CheckDestination(r); err != nil {
		t.Fatalf("an interrupted creation is a destination: %v", err)
	}
	if err := c.Push(context.Background(), r, image(t, "linux/amd64")); err != nil {
		t.Fatal(err)
	}

	busy := t.TempDir()
	if err := os.WriteFile(filepath.Join(busy, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = mustRef(t, "oci:"+busy+":1")
	for name, err := range map[string]error{
		"CheckDestination": c.CheckDestination(r),
		"Push":             c.Push(context.Background(), r, image(t, "linux/amd64")),
	} {
		if !errors.Is(err, registry.ErrInvalidTarget) || !strings.Contains(err.Error(), "not empty") {
			t.Errorf("%s into a directory with other files: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(busy, "index.json")); err == nil {
		t.Error("a layout was written into a directory holding other files")
	}
}

// TestArtifactEntryIsRefusedNotPanicked: an index entry that is neither an
// image nor an index cannot be copied; the push says so, into a layout or
// a registry.
func TestArtifactEntryIsRefusedNotPanicked(t *testing.T) {
	img := image(t, "linux/amd64")
	src := mustRef(t, "oci:"+filepath.Join(t.TempDir(), "src")+":1")
	c := newClient(t)
	if err := c.Push(context.Background(), src, img); err != nil {
		t.Fatal(err)
	}
	d := mustDigest(t, img)
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	artifact := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
	index := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":` + strconv.Itoa(len(raw)) + `,"digest":"` + d.String() + `","platform":{"os":"linux","architecture":"amd64"}},` +
		`{"mediaType":"application/vnd.example.sbom+json","size":2,"digest":"` + artifact.String() + `"}]}`)
	from := func(v1.Hash) ref.Ref { return src }
	for _, dest := range []string{"oci:" + filepath.Join(t.TempDir(), "dest") + ":1", testregistry.InProcess(t, nil) + "/app:1"} {
		err := c.PushManifest(context.Background(), mustRef(t, dest), index, types.OCIImageIndex, from)
		if !errors.Is(err, registry.ErrUnsupported) || !strings.Contains(err.Error(), "application/vnd.example.sbom+json") {
			t.Errorf("pushing to %s: %v, want ErrUnsupported naming the media type", dest, err)
		}
	}
}
