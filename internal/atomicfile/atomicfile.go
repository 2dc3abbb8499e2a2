// Package atomicfile replaces a file so that readers in other processes
// see the old content or the new, never half of it, and a failed or killed
// write leaves the old file alone: the content goes to a temporary file
// beside the target, is synced, and is renamed over it.
//
// It is the one place mlaudit does this (reports for node exporter's
// textfile collector, the cache, a layout's index.json). Fifteen lines do
// not justify a dependency such as google/renameio.
//
// [Write] replaces whatever is at the path, a symbolic link included: right
// for files mlaudit owns (the cache, a layout's index.json). [WriteThrough]
// and [Check] are for a path a user named (--output), where a symbolic
// link, a device or a FIFO must stay what it is.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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

// WriteThrough writes to path as a user named it, which is what a shell's
// redirection would write to, without ever leaving half a file:
//
//   - a symbolic link stays a link: the file it points to (following every
//     link in the chain) is replaced as [Write] does, in that file's
//     directory; a dangling link's target is created;
//   - a character or block device, a FIFO or a socket is opened and written
//     directly (a rename would replace /dev/null with a regular file); a
//     FIFO's open waits for its reader;
//   - a regular file is replaced as [Write] does, keeping its permissions;
//     a path that does not exist is created with perm.
//
// A directory is an error.
func WriteThrough(path string, perm os.FileMode, write func(io.Writer) error) error {
	if special(path) {
		// Opened by its own name, so that the kernel follows /proc's
		// links (/dev/stdout to "pipe:[123]"), which have no path.
		return writeDirect(path, write)
	}
	dest, fi, err := resolve(path)
	if err != nil {
		return err
	}
	switch {
	case fi == nil:
		return Write(dest, perm, write)
	case fi.Mode().IsRegular():
		return Write(dest, fi.Mode().Perm(), write)
	case fi.IsDir():
		return fmt.Errorf("%s is a directory; name a file in it", path)
	}
	return writeDirect(dest, write)
}

// special reports whether path (its links followed) is there and is
// neither a regular file nor a directory: a device, a FIFO, a socket.
func special(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.Mode().IsRegular() && !fi.IsDir()
}

// writeDirect opens path for writing, without creating or truncating it,
// and writes to it.
func writeDirect(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// Check reports, without writing anything or opening the file, whether
// [WriteThrough] could write path: the directory a new or regular file
// would be renamed in exists and may be written, or the device or FIFO
// may be written. The error says why not. Where permissions are not
// checkable without writing (not on Unix), a directory's existence is.
func Check(path string) error {
	if strings.HasSuffix(path, string(filepath.Separator)) || strings.HasSuffix(path, "/") {
		return fmt.Errorf("%s names a directory; name a file in it", path)
	}
	if special(path) {
		if err := writable(path, false); err != nil {
			return fmt.Errorf("%s cannot be written: %w", path, unwrapPath(err))
		}
		return nil
	}
	dest, fi, err := resolve(path)
	if err != nil {
		return err
	}
	if fi != nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory; name a file in it", path)
	}
	dir := filepath.Dir(dest)
	di, err := os.Stat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("the directory %s cannot be used: %w", dir, unwrapPath(err))
	case !di.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	if err := writable(dir, true); err != nil {
		return fmt.Errorf("the directory %s cannot be written (the file is replaced by a rename there): %w", dir, unwrapPath(err))
	}
	return nil
}

// maxLinks is how many symbolic links resolve follows, as Linux does.
const maxLinks = 40

// resolve follows symbolic links from path to what they finally name, and
// returns that path with its information, or nil information when nothing
// is there (a new file, or a dangling link's target). Each directory on the
// way is resolved first, so a relative link is read from where it really is.
func resolve(path string) (string, fs.FileInfo, error) {
	for range maxLinks {
		dir, err := filepath.EvalSymlinks(filepath.Dir(path))
		if err != nil {
			return "", nil, fmt.Errorf("the directory %s cannot be used: %w", filepath.Dir(path), unwrapPath(err))
		}
		path = filepath.Join(dir, filepath.Base(path))
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, nil, nil
		}
		if err != nil {
			return "", nil, fmt.Errorf("%s cannot be used: %w", path, unwrapPath(err))
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return path, fi, nil
		}
		link, err := os.Readlink(path)
		if err != nil {
			return "", nil, err
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(dir, link)
		}
		path = link
	}
	return "", nil, fmt.Errorf("%s: more than %d symbolic links", path, maxLinks)
}

// unwrapPath drops a *fs.PathError's operation and path, which the
// callers' messages already say, keeping its reason ("permission denied").
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
