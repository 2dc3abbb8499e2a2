package registry

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/internal/atomicfile"
	"github.com/mlaudit/mlaudit/ref"
)

// Writing an OCI archive (oci-archive:FILE) is rewriting it whole: a tar
// cannot be changed in place. Each write (push, pushIndex, moveTag) is one
// rewrite:
//
//  1. a layout is made in a temporary directory beside FILE and seeded
//     with the archive's index.json and blobs, if FILE exists;
//  2. the write goes into that layout, as into any layout (layout_write.go);
//  3. the layout is written as a tar (oci-layout, index.json, then
//     blobs/ALG/HEX in order, regular files with zero times, as buildx
//     writes them) to a temporary file beside FILE, synced and renamed
//     over it (internal/atomicfile); the directory is removed;
//  4. later reads read the new file.
//
// A rewrite seeds from the version of FILE mlaudit last read; if FILE was
// replaced since (buildx, skopeo, another mlaudit), the write is refused
// with [ErrArchiveChanged] rather than lose what the other program wrote.
// Repair's re-read of the tag before moving it reads FILE anew (lookups by
// name check it is the version read), so a repair run again sees it.
//
// So FILE is whole after every step of a repair (children and index by
// digest, backup tag, tag) and nothing it held is lost; no temporary
// directory outlives a write, whichever step fails. The price is a
// rewrite per step (two per repair, three with a backup tag); a repair's
// Writer has no last step to wait for. A docker save (docker-archive:)
// and standard input are never written.

// writable says why the archive cannot be written, or nil.
func (a *archiveRepo) writable() error {
	switch {
	case a.base.Scheme == ref.DockerArchive:
		return errors.New("mlaudit does not write docker save archives (docker-archive:); write an OCI archive (oci-archive:FILE:TAG) or a layout (oci:DIR:TAG) instead")
	case a.base.Path == "-":
		return errors.New("standard input cannot be written; name a file (oci-archive:FILE:TAG)")
	}
	return nil
}

func (a *archiveRepo) push(ctx context.Context, id string, t remote.Taggable) error {
	return a.rewrite(func(l *layoutRepo) error { return l.push(ctx, id, t) })
}

func (a *archiveRepo) pushIndex(ctx context.Context, idx v1.ImageIndex) error {
	return a.rewrite(func(l *layoutRepo) error { return l.pushIndex(ctx, idx) })
}

func (a *archiveRepo) moveTag(ctx context.Context, tag string, raw []byte, mt types.MediaType) error {
	return a.rewrite(func(l *layoutRepo) error { return l.moveTag(ctx, tag, raw, mt) })
}

func (a *archiveRepo) delete(context.Context, string) error {
	return fmt.Errorf("%w %s: mlaudit does not delete from archives", ErrInvalidTarget, a.base)
}

// rewrite writes the archive anew with write's change (see the top of
// this file). Rewrites of one archive are one at a time; reads go on
// reading the file as it was until the new one is in place.
func (a *archiveRepo) rewrite(write func(*layoutRepo) error) error {
	if err := a.writable(); err != nil {
		return fmt.Errorf("%w %s: %v", ErrInvalidTarget, a.base, err)
	}
	a.wmu.Lock()
	defer a.wmu.Unlock()
	file := a.base.Path
	if info, err := os.Stat(file); err == nil && info.IsDir() {
		return fmt.Errorf("%w %s: %s is a directory; write a layout there as oci:%s", ErrInvalidTarget, a.base, file, file)
	}
	r, c, err := a.version()
	if err != nil && !errors.Is(err, errNoArchive) {
		return err
	}
	// What is written is what was read, changed: a file another program
	// replaced since would lose what it wrote. (One that replaces it
	// while this rewrite runs is not seen: a file has no conditional
	// rename.)
	if !r.tar.current() {
		return fmt.Errorf("%w: %s was written by another program after mlaudit read it; nothing was written, so that its content is kept: run the repair (or the write) again, to read it anew", ErrArchiveChanged, a.where)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", a.where, err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(file), "."+filepath.Base(file)+".mlaudit-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", a.where, err)
	}
	defer os.RemoveAll(dir)
	if c != nil {
		if err := seed(c, dir); err != nil {
			return fmt.Errorf("writing %s: copying what it holds: %w", a.where, err)
		}
	}
	if err := write(newLayoutRepo(ref.Ref{Scheme: ref.Layout, Path: dir})); err != nil {
		return fmt.Errorf("writing %s: %w", a.where, err)
	}
	if err := atomicfile.WriteThrough(file, 0o644, func(w io.Writer) error { return tarLayout(w, dir) }); err != nil {
		return fmt.Errorf("writing %s: %w", a.where, err)
	}
	// The version replaced stays open until Client.Close: a reader may
	// still be streaming from it.
	a.mu.Lock()
	a.cur = &archiveRead{tar: &lazyTar{path: file, files: r.tar.files}}
	a.mu.Unlock()
	return nil
}

// layoutBlobName reports whether name is a blob's file, blobs/ALG/HEX.
func layoutBlobName(name string) bool {
	parts := strings.Split(name, "/")
	if len(parts) != 3 || parts[0] != "blobs" {
		return false
	}
	_, err := v1.NewHash(parts[1] + ":" + parts[2])
	return err == nil
}

// seed writes an OCI archive's layout into the empty directory dir: its
// oci-layout, index.json and blobs (as they are: readers check them).
func seed(c *archiveContent, dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		return err
	}
	for name := range c.t.entries {
		if name != "index.json" && !layoutBlobName(name) {
			continue
		}
		if err := seedFile(c.t, name, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			return err
		}
	}
	return nil
}

func seedFile(t *tarFile, name, dest string) error {
	r, err := t.open(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// tarLayout writes the layout in dir as a tar: oci-layout, index.json,
// then every blob in order of name, regular files with zero times, so that
// one layout always gives the same bytes.
func tarLayout(w io.Writer, dir string) error {
	names := []string{"oci-layout", "index.json"}
	var blobs []string
	err := filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if name := filepath.ToSlash(rel); err == nil && layoutBlobName(name) {
			blobs = append(blobs, name)
		}
		return err
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	sort.Strings(blobs)
	tw := tar.NewWriter(w)
	for _, name := range append(names, blobs...) {
		if err := tarFileFrom(tw, name, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			return err
		}
	}
	return tw.Close()
}

func tarFileFrom(tw *tar.Writer, name, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: info.Size(), ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return err
	}
	return nil
}
