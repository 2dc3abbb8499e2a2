package registry

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/mlaudit/mlaudit/tree"
)

// MaxStdinArchive is the most an archive read from standard input
// ("oci-archive:-") may hold: it is copied once to a temporary file, which
// is removed as soon as it is open, and read from there.
const MaxStdinArchive int64 = 32 << 30

// errNoArchive is an archive file that does not exist: an invalid target
// to read, and a destination that holds nothing yet (it is
// tree.ErrMissing too, so that resolving a tag in it finds nothing).
var errNoArchive error = noArchive{}

type noArchive struct{}

func (noArchive) Error() string        { return ErrInvalidTarget.Error() }
func (noArchive) Unwrap() error        { return ErrInvalidTarget }
func (noArchive) Is(target error) bool { return target == tree.ErrMissing }

// tarFile is a tar archive read in place: its entries are indexed by name
// once, and each is read through an io.SectionReader on the file, so
// nothing is unpacked to disk and blobs can be read in any order.
type tarFile struct {
	name    string // as the user wrote it, for messages
	f       *os.File
	entries map[string]tarEntry
}

type tarEntry struct {
	off, size int64
}

// openTar opens and indexes the archive at p ("-" is standard input,
// copied to a temporary file first), keeping the file open in files. The
// file's identity (see sameFile) is what was opened, even when it is not
// an archive; nil for standard input.
func openTar(p string, stdin io.Reader, files *fileSet) (*tarFile, os.FileInfo, error) {
	var f *os.File
	var err error
	name := p
	if p == "-" {
		name = "standard input"
		f, err = spool(stdin, files)
	} else {
		f, err = os.Open(p)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w: the archive %s does not exist", errNoArchive, name)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("opening the archive %s: %w", name, err)
	}
	var info os.FileInfo
	if p != "-" {
		if info, err = f.Stat(); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("opening the archive %s: %w", name, err)
		}
	}
	t, err := indexTar(f, name)
	if err != nil {
		f.Close()
		return nil, info, err
	}
	if err := files.keep(f); err != nil {
		return nil, info, err
	}
	return t, info, nil
}

// sameFile reports whether now is the file was (os.SameFile: device and
// inode on Unix, volume and file index on Windows), with the same size
// and modification time: a file replaced by a rename, or written in
// place, is not.
func sameFile(was, now os.FileInfo) bool {
	return os.SameFile(was, now) && was.Size() == now.Size() && was.ModTime().Equal(now.ModTime())
}

// spool copies r, at most MaxStdinArchive bytes, to a temporary file that
// is already removed (on Unix: it lives as long as the open file; where an
// open file cannot be removed, files removes it when the Client is
// closed).
func spool(r io.Reader, files *fileSet) (*os.File, error) {
	f, err := files.temp("mlaudit-stdin-*.tar")
	if err != nil {
		return nil, fmt.Errorf("copying standard input to a temporary file: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(r, MaxStdinArchive+1))
	if err == nil && n > MaxStdinArchive {
		err = fmt.Errorf("%w: standard input holds more than %d bytes; write the archive to a file and name it", ErrInvalidTarget, MaxStdinArchive)
	}
	if err != nil {
		discard(f)
		return nil, fmt.Errorf("reading the archive from standard input: %w", err)
	}
	return f, nil
}

// indexTar reads f's headers once. After tar.Reader.Next the file is at
// the entry's first byte (the reader reads headers in whole blocks, and
// skips entry data with Seek), which is the entry's offset.
func indexTar(f *os.File, name string) (*tarFile, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("reading the archive %s: %w", name, err)
	}
	magic := make([]byte, 4)
	if n, _ := io.ReadFull(f, magic); n >= 2 && (bytes.HasPrefix(magic, []byte{0x1f, 0x8b}) || bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd})) {
		return nil, fmt.Errorf("%w: the archive %s is compressed; decompress it first (gunzip or zstd -d) and audit the .tar", ErrInvalidTarget, name)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("reading the archive %s: %w", name, err)
	}
	t := &tarFile{name: name, f: f, entries: map[string]tarEntry{}}
	links := map[string]string{} // entry name → the name it links to
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not a tar archive (%v); give the file buildx --output type=oci,dest=out.tar, skopeo or docker save wrote", ErrInvalidTarget, name, err)
		}
		if len(t.entries)+len(links) >= maxArchiveEntries {
			return nil, fmt.Errorf("%w: the archive %s has more than %d files", ErrBadResponse, name, maxArchiveEntries)
		}
		switch h.Typeflag {
		case tar.TypeSymlink:
			// docker save (Docker 25 and later) writes the classic
			// <id>/layer.tar as a symlink to blobs/sha256/<hex>,
			// relative to the link's directory.
			target := h.Linkname
			if !strings.HasPrefix(target, "/") {
				target = path.Join(path.Dir(cleanEntry(h.Name)), target)
			}
			links[cleanEntry(h.Name)] = cleanEntry(target)
			continue
		case tar.TypeLink:
			links[cleanEntry(h.Name)] = cleanEntry(h.Linkname) // named from the archive's root
			continue
		case tar.TypeReg:
		default:
			continue // directories and the rest: a layout's content is in files
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, fmt.Errorf("reading the archive %s: %w", name, err)
		}
		t.entries[cleanEntry(h.Name)] = tarEntry{off: off, size: h.Size}
	}
	t.resolve(links)
	if len(t.entries) == 0 {
		return nil, fmt.Errorf("%w: the archive %s is empty", ErrInvalidTarget, name)
	}
	return t, nil
}

// maxArchiveEntries bounds the index of one archive's files and links.
const maxArchiveEntries = 1 << 20

// maxLinkHops bounds a chain of links, so that a loop ends.
const maxLinkHops = 8

// resolve indexes each link as the file it leads to, through at most
// maxLinkHops links. Links are names inside the archive only (cleanEntry
// keeps "../" from leaving it); one to nothing, or a loop, stays out of the
// index, so reading it is "not found", as a missing file is.
func (t *tarFile) resolve(links map[string]string) {
	for name, target := range links {
		for range maxLinkHops {
			if e, ok := t.entries[target]; ok {
				t.entries[name] = e
				break
			}
			next, ok := links[target]
			if !ok {
				break
			}
			target = next
		}
	}
}

// cleanEntry is the name an entry is looked up by: "./blobs/x" and
// "blobs/x" are one file.
func cleanEntry(n string) string {
	return strings.TrimPrefix(path.Clean("/"+n), "/")
}

// has reports whether the archive holds the file n.
func (t *tarFile) has(n string) bool {
	_, ok := t.entries[cleanEntry(n)]
	return ok
}

// open returns the file n, or an error wrapping fs.ErrNotExist.
func (t *tarFile) open(n string) (*io.SectionReader, error) {
	e, ok := t.entries[cleanEntry(n)]
	if !ok {
		return nil, fmt.Errorf("%s in the archive %s: %w", n, t.name, fs.ErrNotExist)
	}
	return io.NewSectionReader(t.f, e.off, e.size), nil
}

// readFile reads the whole of the file n, at most limit bytes.
func (t *tarFile) readFile(n string, limit int64) ([]byte, error) {
	r, err := t.open(n)
	if err != nil {
		return nil, err
	}
	return readLimited(bufio.NewReader(r), limit, n+" in the archive "+t.name)
}

// readHead reads the first n bytes of the file name (fewer if it is
// shorter).
func (t *tarFile) readHead(name string, n int) ([]byte, error) {
	r, err := t.open(name)
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	k, err := io.ReadFull(r, b)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return b[:k], err
}
