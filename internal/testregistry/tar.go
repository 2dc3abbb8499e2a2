package testregistry

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
)

// WriteTar writes the regular files and directories below dir to w as a
// tar, each named prefix + its path relative to dir: an OCI layout turned
// into the archive buildx, skopeo, ctr export or docker save would write.
func WriteTar(w io.Writer, dir, prefix string) error {
	tw := tar.NewWriter(w)
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name = prefix + filepath.ToSlash(rel)
		if err := tw.WriteHeader(h); err != nil || info.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil {
			_, err = tw.Write(data)
		}
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
