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
// compares it, file by file, with testdata/layout: the generator is
// deterministic and the committed copy is what it writes.
func TestCommittedLayoutMatchesGenerator(t *testing.T) {
	c, err := registry.New()
	if err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(t.TempDir(), "layout")
	if err := stories.WriteReference(context.Background(), c, fresh); err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join("..", "..", "testdata", "layout")
	want := readTree(t, fresh)
	got := readTree(t, committed)
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s differs from the generator's output; run: go run ./testdata/gen testdata/layout", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s is committed but the generator does not write it", name)
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
