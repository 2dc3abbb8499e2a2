package deep_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/zstd"

	"github.com/mlaudit/mlaudit/deep"
	"github.com/mlaudit/mlaudit/internal/stories"
)

// goBinaries are a real Go program cross-compiled for two architectures.
var goBinaries = map[string][]byte{}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mlaudit-deep-")
	if err == nil {
		src := filepath.Join(dir, "main.go")
		err = os.WriteFile(src, []byte("package main\nfunc main() { println(\"hello\") }\n"), 0o644)
		for _, arch := range []string{"amd64", "arm64"} {
			if err != nil {
				break
			}
			out := filepath.Join(dir, arch)
			cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", out, src)
			cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0", "GOFLAGS=")
			cmd.Dir = dir
			if b, e := cmd.CombinedOutput(); e != nil {
				err = fmt.Errorf("%v: %s", e, b)
				break
			}
			goBinaries[arch], err = os.ReadFile(out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cross-compiling the test binaries:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestClassify(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64"} {
		if format, got, ok := deep.Classify(stories.ELF(arch)); !ok || format != "ELF" || got != arch {
			t.Errorf("ELF for %s: %s %s %v", arch, format, got, ok)
		}
	}
	for arch, b := range goBinaries {
		if _, got, ok := deep.Classify(b[:4096]); !ok || got != arch {
			t.Errorf("the Go binary built for %s reads as %s (%v)", arch, got, ok)
		}
	}
	pe := make([]byte, 512)
	copy(pe, "MZ")
	pe[0x3c] = 0x80
	copy(pe[0x80:], "PE\x00\x00")
	pe[0x84], pe[0x85] = 0x64, 0x86 // IMAGE_FILE_MACHINE_AMD64, little-endian
	if format, got, ok := deep.Classify(pe); !ok || format != "PE" || got != "amd64" {
		t.Errorf("PE: %s %s %v", format, got, ok)
	}
	for _, other := range [][]byte{[]byte("#!/bin/sh\necho hi\n"), {0x7f, 'E', 'L'}, nil, []byte("MZ but too short")} {
		if _, _, ok := deep.Classify(other); ok {
			t.Errorf("%q is not a binary", other)
		}
	}
}

// layer is a gzip'd tar of entries; an entry with a nil Data is a
// whiteout-style empty file.
func layer(t testing.TB, compress string, files ...stories.File) []byte {
	t.Helper()
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.Path, Mode: f.Mode, Size: int64(len(f.Data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(f.Data)
	}
	_ = tw.Close()
	var out bytes.Buffer
	switch compress {
	case "zstd":
		zw, _ := zstd.NewWriter(&out)
		_, _ = zw.Write(tarball.Bytes())
		_ = zw.Close()
	default:
		gw := gzip.NewWriter(&out)
		_, _ = gw.Write(tarball.Bytes())
		_ = gw.Close()
	}
	return out.Bytes()
}

// image is layers (bottom first) served from memory, under their digests,
// counting opens.
type image struct {
	layers [][]byte
	opens  int
	hashes []v1.Hash
	mu     sync.Mutex
}

func (im *image) manifest() *v1.Manifest {
	m := &v1.Manifest{}
	for _, d := range im.digests() {
		m.Layers = append(m.Layers, v1.Descriptor{Digest: d, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"})
	}
	return m
}

// digests are the layers' digests, hashed once.
func (im *image) digests() []v1.Hash {
	im.mu.Lock()
	defer im.mu.Unlock()
	if len(im.hashes) != len(im.layers) {
		im.hashes = im.hashes[:0]
		for _, l := range im.layers {
			im.hashes = append(im.hashes, digest(l))
		}
	}
	return im.hashes
}

// digest is b's sha256, as a registry names it.
func digest(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func (im *image) open(_ context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	im.mu.Lock()
	im.opens++
	im.mu.Unlock()
	for i, h := range im.digests() {
		if h == d.Digest {
			return io.NopCloser(bytes.NewReader(im.layers[i])), nil
		}
	}
	return nil, errors.New("no such layer")
}

func config(arch, entrypoint string) *v1.ConfigFile {
	cf := &v1.ConfigFile{OS: "linux", Architecture: arch}
	cf.Config.Entrypoint = []string{entrypoint}
	return cf
}

func inspect(t *testing.T, im *image, cf *v1.ConfigFile, lim deep.Limits) *deep.Result {
	t.Helper()
	r, err := (&deep.Inspector{Limits: lim}).Inspect(context.Background(), im.manifest(), cf, im.open)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func exe(path string, data []byte) stories.File {
	return stories.File{Path: path, Data: data, Mode: 0o755}
}

func TestVerdicts(t *testing.T) {
	amd, arm := goBinaries["amd64"], goBinaries["arm64"]
	tests := []struct {
		name     string
		layers   [][]byte
		arch     string
		mismatch bool
		entry    string
	}{
		{"an arm64 image of arm64 binaries", [][]byte{layer(t, "gzip", exe("bin/sh", stories.ELF("arm64")), exe("usr/local/bin/app", arm))}, "arm64", false, "/usr/local/bin/app"},
		{"an arm64 image of x86-64 binaries", [][]byte{layer(t, "gzip", exe("bin/sh", stories.ELF("amd64")), exe("usr/local/bin/app", amd))}, "arm64", true, "/usr/local/bin/app"},
		{"only the entrypoint is wrong", [][]byte{layer(t, "gzip", exe("bin/sh", stories.ELF("arm64")), exe("bin/ls", stories.ELF("arm64")), exe("usr/bin/env", stories.ELF("arm64")), exe("usr/local/bin/app", amd))}, "arm64", true, "/usr/local/bin/app"},
		{"a later layer replaces the wrong binary", [][]byte{
			layer(t, "gzip", exe("usr/local/bin/app", amd)),
			layer(t, "gzip", exe("usr/local/bin/app", arm))}, "arm64", false, "/usr/local/bin/app"},
		{"a whiteout removes the wrong binary", [][]byte{
			layer(t, "gzip", exe("usr/local/bin/app", arm), exe("usr/local/bin/tool", amd)),
			layer(t, "gzip", stories.File{Path: "usr/local/bin/.wh.tool", Mode: 0o644})}, "arm64", false, "/usr/local/bin/app"},
		{"an opaque directory hides a lower one", [][]byte{
			layer(t, "gzip", exe("opt/x86/run", amd), exe("opt/x86/helper", amd), exe("usr/local/bin/app", arm)),
			layer(t, "gzip", stories.File{Path: "opt/x86/.wh..wh..opq", Mode: 0o644})}, "arm64", false, "/usr/local/bin/app"},
		{"zstd layers", [][]byte{layer(t, "zstd", exe("usr/local/bin/app", amd))}, "arm64", true, "/usr/local/bin/app"},
		{"scripts and data are not judged", [][]byte{layer(t, "gzip", exe("usr/local/bin/app", []byte("#!/bin/sh\n")), stories.File{Path: "etc/passwd", Data: []byte("root:x:0:0"), Mode: 0o644})}, "arm64", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := inspect(t, &image{layers: tt.layers}, config(tt.arch, "/usr/local/bin/app"), deep.DefaultLimits)
			if r.Mismatch != tt.mismatch || r.Entrypoint != tt.entry {
				t.Errorf("mismatch %v (entrypoint %q), want %v (%q); inspected %+v", r.Mismatch, r.Entrypoint, tt.mismatch, tt.entry, r.Inspected)
			}
			if r.Bytes == 0 {
				t.Error("the bytes read should be counted")
			}
		})
	}
}

func TestEarlyStopAndFileCap(t *testing.T) {
	im := &image{layers: [][]byte{
		layer(t, "gzip", exe("bin/a", stories.ELF("arm64")), exe("bin/b", stories.ELF("arm64"))),
		layer(t, "gzip", exe("usr/local/bin/app", stories.ELF("arm64")), exe("usr/local/bin/x", stories.ELF("arm64")), exe("usr/local/bin/y", stories.ELF("arm64"))),
	}}
	r := inspect(t, im, config("arm64", "/usr/local/bin/app"), deep.DefaultLimits)
	if im.opens != 1 || len(r.Inspected) != 3 {
		t.Errorf("the top layer settles it (entrypoint and three binaries): %d layers opened, %d inspected", im.opens, len(r.Inspected))
	}
	lim := deep.DefaultLimits
	lim.Files = 2
	r = inspect(t, &image{layers: im.layers}, config("arm64", "/nowhere"), lim)
	if len(r.Inspected) > 2 {
		t.Errorf("--deep-files 2: %d inspected", len(r.Inspected))
	}
}

func TestHostileLayersStopAtTheCaps(t *testing.T) {
	var bomb bytes.Buffer
	gw := gzip.NewWriter(&bomb)
	tw := tar.NewWriter(gw)
	_ = tw.WriteHeader(&tar.Header{Name: "zeros", Mode: 0o644, Size: 256 << 20, Typeflag: tar.TypeReg})
	_, _ = io.Copy(tw, io.LimitReader(zeros{}, 256<<20))
	_ = tw.Close()
	_ = gw.Close()

	var many []stories.File
	for i := 0; i < 2000; i++ {
		many = append(many, stories.File{Path: fmt.Sprintf("f/%d", i), Mode: 0o644})
	}
	small := deep.DefaultLimits
	small.LayerUncompressed, small.Entries, small.LayerCompressed = 16<<20, 1000, 64<<10

	corrupt := append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0}, bytes.Repeat([]byte{0xff}, 100)...)

	// A tar whose PAX header carries a 2 MiB record (Go's tar writer
	// refuses to write one, so the blocks are written by hand).
	var oversized bytes.Buffer
	ow := gzip.NewWriter(&oversized)
	record := strings.Repeat("x", 2<<20)
	body := fmt.Sprintf("%d comment=%s\n", len(record)+len(" comment=\n")+7, record)
	_, _ = ow.Write(rawTarHeader("PaxHeaders/app", 'x', len(body)))
	_, _ = ow.Write([]byte(body))
	_, _ = ow.Write(make([]byte, (512-len(body)%512)%512))
	_, _ = ow.Write(rawTarHeader("usr/bin/app", '0', 0))
	_, _ = ow.Write(make([]byte, 1024))
	_ = ow.Close()
	tests := []struct {
		name  string
		layer []byte
		lim   deep.Limits
		want  string
	}{
		{"a gzip bomb", bomb.Bytes(), small, "compression bomb"},
		{"too many tar entries", layer(t, "gzip", many...), small, "tar entries"},
		{"too many compressed bytes", layer(t, "gzip", stories.File{Path: "noise", Data: noise(1 << 20), Mode: 0o644}), small, "compressed bytes"},
		{"a corrupt layer", corrupt, deep.DefaultLimits, "layer"},
		{"an oversized tar header", oversized.Bytes(), deep.DefaultLimits, "tar"},
		{"not a tar", layer(t, "gzip")[:10], deep.DefaultLimits, "layer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&deep.Inspector{Limits: tt.lim}).Inspect(context.Background(), (&image{layers: [][]byte{tt.layer}}).manifest(), config("amd64", "/a"), (&image{layers: [][]byte{tt.layer}}).open)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
	t.Logf("the bomb was %d bytes compressed for 256 MiB", bomb.Len())
}

// noise is n incompressible bytes.
func noise(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// rawTarHeader is one ustar header block.
func rawTarHeader(name string, typeflag byte, size int) []byte {
	h := make([]byte, 512)
	copy(h, name)
	copy(h[100:], "0000755\x00")
	copy(h[108:], "0000000\x00")
	copy(h[116:], "0000000\x00")
	copy(h[124:], fmt.Sprintf("%011o\x00", size))
	copy(h[136:], "00000000000\x00")
	h[156] = typeflag
	copy(h[257:], "ustar\x0000")
	copy(h[148:], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:], fmt.Sprintf("%06o\x00 ", sum))
	return h
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// memStore is a Store in memory.
type memStore struct {
	mu    sync.Mutex
	notes map[string][]byte
}

func (s *memStore) GetNote(k string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.notes[k]
	return b, ok
}

func (s *memStore) PutNote(k string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.notes == nil {
		s.notes = map[string][]byte{}
	}
	s.notes[k] = b
	return nil
}

func TestSummariesAreReused(t *testing.T) {
	im := &image{layers: [][]byte{layer(t, "gzip", exe("usr/local/bin/app", goBinaries["amd64"]))}}
	store := &memStore{}
	first := &deep.Inspector{Limits: deep.DefaultLimits, Store: store}
	for i := 0; i < 2; i++ { // the same image twice in one run
		if _, err := first.Inspect(context.Background(), im.manifest(), config("arm64", "/usr/local/bin/app"), im.open); err != nil {
			t.Fatal(err)
		}
	}
	later := &deep.Inspector{Limits: deep.DefaultLimits, Store: store} // another run
	r, err := later.Inspect(context.Background(), im.manifest(), config("arm64", "/usr/local/bin/app"), im.open)
	if err != nil {
		t.Fatal(err)
	}
	if im.opens != 1 || !r.Mismatch || r.Bytes != 0 {
		t.Errorf("layers opened %d times (want 1), mismatch %v, bytes %d (want 0 from the store)", im.opens, r.Mismatch, r.Bytes)
	}
}
