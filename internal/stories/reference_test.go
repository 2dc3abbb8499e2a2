package stories_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/registry"
)

// TestCommittedLayoutMatchesGenerator rebuilds the reference layout and
// the shapes and compares them, file by file, with testdata/layout and
// testdata/shapes: the generator is deterministic and the committed copy
// is what it writes.
func TestCommittedLayoutMatchesGenerator(t *testing.T) {
	c, err := registry.New()
	if err != nil {
		t.Fatal(err)
	}
	fresh := t.TempDir()
	if err := stories.WriteReference(context.Background(), c, filepath.Join(fresh, "layout")); err != nil {
		t.Fatal(err)
	}
	if err := stories.WriteShapes(filepath.Join(fresh, "shapes")); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"layout", "shapes"} {
		want := readTree(t, filepath.Join(fresh, dir))
		got := readTree(t, filepath.Join("..", "..", "testdata", dir))
		for name, b := range want {
			if !bytes.Equal(got[name], b) {
				t.Errorf("testdata/%s/%s differs from the generator's output; run: make testdata", dir, name)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("testdata/%s/%s is committed but the generator does not write it", dir, name)
			}
		}
	}
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[rel], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
