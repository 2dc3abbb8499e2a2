package storytest

import (
	"os"
	"testing"

	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// TarDir writes the regular files and directories below dir into the tar
// file out, each named prefix + its path relative to dir: an OCI layout
// turned into the archive buildx, skopeo or docker save would write.
func TarDir(t testing.TB, dir, prefix, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	err = testregistry.WriteTar(f, dir, prefix)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}
