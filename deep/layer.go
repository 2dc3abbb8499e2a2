package deep

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// ErrLimit is wrapped by errors for a layer or image past a cap.
var ErrLimit = errors.New("over the limit")

// Limits bound what one image's deep check reads. A hostile layer (a gzip
// bomb, a tar of millions of entries) stops at a cap and is reported.
type Limits struct {
	// LayerCompressed and LayerUncompressed cap the bytes read from one
	// layer, before and after decompression.
	LayerCompressed, LayerUncompressed int64
	// ImageCompressed caps the compressed bytes read for one image.
	ImageCompressed int64
	// Entries caps the tar entries of one layer.
	Entries int
	// Files caps the executables inspected per image (--deep-files).
	Files int
}

// DefaultLimits are generous for real images and small for bombs.
var DefaultLimits = Limits{
	LayerCompressed:   2 << 30,
	LayerUncompressed: 8 << 30,
	ImageCompressed:   4 << 30,
	Entries:           500_000,
	Files:             50,
}

// Summary is what one layer holds that the deep check needs: the
// executables it adds (with their architecture, or none for scripts), and
// what it deletes. It depends only on the layer's bytes, so once those are
// checked against the layer's digest it is shared and cached by that digest.
type Summary struct {
	// Files maps each candidate path (executable, or in a bin directory)
	// to its binary, or to a Binary with an empty Arch for files that are
	// not ELF or PE.
	Files map[string]Binary `json:"files"`
	// Whiteouts are paths the layer deletes; Opaque, directories whose
	// lower content it hides.
	Whiteouts []string `json:"whiteouts,omitempty"`
	Opaque    []string `json:"opaque,omitempty"`
	// Complete is false when the scan stopped early, having found as many
	// binaries as were asked for.
	Complete bool `json:"complete"`
	// Bytes is how many compressed bytes were read.
	Bytes int64 `json:"bytes"`
}

// binDirs are where executables usually live.
var binDirs = []string{"bin/", "sbin/", "usr/bin/", "usr/sbin/", "usr/local/bin/", "usr/local/sbin/", "app/", "opt/"}

// Scan reads one layer (compressed as its media type says) and summarises
// it. It stops once it has found maxFiles binaries (the summary is then
// not Complete), and fails at the limits.
func Scan(r io.Reader, mediaType string, lim Limits, maxFiles int) (*Summary, error) {
	counted := &countingReader{r: io.LimitReader(r, lim.LayerCompressed+1)}
	br := bufio.NewReader(counted)
	if _, err := br.Peek(4); err != nil && err != io.EOF {
		// The source failed before any bytes (a layer opened on its first
		// Read, as registry.Client's are): its error says it all. A
		// stream of fewer than 4 bytes is judged below.
		return nil, err
	}
	plain, err := decompress(br, mediaType)
	if err != nil {
		return nil, fmt.Errorf("opening the layer: %w", err)
	}
	uncompressed := &countingReader{r: io.LimitReader(plain, lim.LayerUncompressed+1)}
	tr := tar.NewReader(uncompressed)
	s := &Summary{Files: map[string]Binary{}, Complete: true}
	head := make([]byte, headerBytes)
	binaries := 0
	for entries := 0; ; entries++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		switch {
		case counted.n > lim.LayerCompressed:
			return nil, fmt.Errorf("%w: more than %d compressed bytes", ErrLimit, lim.LayerCompressed)
		case uncompressed.n > lim.LayerUncompressed:
			return nil, fmt.Errorf("%w: more than %d bytes once decompressed (a compression bomb?)", ErrLimit, lim.LayerUncompressed)
		case err != nil:
			return nil, fmt.Errorf("reading the layer's tar: %w", err)
		case entries >= lim.Entries:
			return nil, fmt.Errorf("%w: more than %d tar entries", ErrLimit, lim.Entries)
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		dir, base := path.Split(name)
		switch {
		case base == ".wh..wh..opq":
			s.Opaque = append(s.Opaque, dir)
			continue
		case strings.HasPrefix(base, ".wh."):
			s.Whiteouts = append(s.Whiteouts, dir+strings.TrimPrefix(base, ".wh."))
			continue
		}
		if hdr.Typeflag != tar.TypeReg || !candidate(name, hdr.Mode) {
			continue
		}
		n, _ := io.ReadFull(tr, head)
		b := Binary{Path: "/" + name}
		if format, arch, ok := Classify(head[:n]); ok {
			b.Format, b.Arch = format, arch
			binaries++
		}
		s.Files[name] = b
		if binaries >= maxFiles {
			s.Complete = false
			break
		}
	}
	s.Bytes = counted.n
	return s, nil
}

func candidate(name string, mode int64) bool {
	if mode&0o111 != 0 {
		return true
	}
	for _, d := range binDirs {
		if strings.HasPrefix(name, d) {
			return true
		}
	}
	return strings.HasSuffix(strings.ToLower(name), ".exe") || strings.HasSuffix(strings.ToLower(name), ".dll")
}

// decompress picks gzip, zstd or nothing by media type, then by the
// stream's magic bytes when the media type does not say.
func decompress(r *bufio.Reader, mediaType string) (io.Reader, error) {
	magic, _ := r.Peek(4)
	switch {
	case strings.HasSuffix(mediaType, "+zstd") || strings.HasSuffix(mediaType, ".zstd") || bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(256<<20))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case strings.HasSuffix(mediaType, "gzip") || bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(r)
	}
	return r, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
