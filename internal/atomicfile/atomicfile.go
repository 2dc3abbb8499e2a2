// Package atomicfile replaces a file so that readers in other processes
// see the old content or the new, never half of it, and a failed or killed
// write leaves the old file alone: the content goes to a temporary file
// beside the target, is synced, and is renamed over it.
//
// It is the one place mlaudit does this (reports for node exporter's
// textfile collector, the cache, a layout's index.json). Fifteen lines do
// not justify a dependency such as google/renameio.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write replaces path with what write writes, with permissions perm.
func Write(path string, perm os.FileMode, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	for _, step := range []func() error{func() error { return tmp.Chmod(perm) }, tmp.Sync, tmp.Close} {
		if err := step(); err != nil {
			tmp.Close()
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return os.Rename(tmp.Name(), path)
}

// WriteBytes replaces path with b, with permissions perm.
func WriteBytes(path string, perm os.FileMode, b []byte) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}
