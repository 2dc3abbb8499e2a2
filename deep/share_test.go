package deep_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/deep"
	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/tree"
)

// place serves layers by digest, as a repository does (whatever bytes it
// likes), through readers that say where they read from and open on their
// first Read, as registry.Client's do. It counts those reads.
type place struct {
	where string
	blobs map[v1.Hash][]byte
	mu    sync.Mutex
	reads int
}

func (p *place) open(_ context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	b, ok := p.blobs[d.Digest]
	if !ok {
		return nil, errors.New("no such layer")
	}
	return &lazyReader{where: p.where, open: func() io.Reader {
		p.mu.Lock()
		p.reads++
		p.mu.Unlock()
		return bytes.NewReader(b)
	}}, nil
}

func (p *place) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reads
}

type lazyReader struct {
	where string
	open  func() io.Reader
	r     io.Reader
}

func (l *lazyReader) Location() string { return l.where }
func (l *lazyReader) Close() error     { return nil }
func (l *lazyReader) Read(b []byte) (int, error) {
	if l.r == nil {
		l.r = l.open()
	}
	return l.r.Read(b)
}

// tools is a layer of n executables for arch, more than a scan needs.
func tools(t *testing.T, arch string, n int) []byte {
	var files []stories.File
	for i := 0; i < n; i++ {
		files = append(files, exe(fmt.Sprintf("usr/bin/tool%02d", i), stories.ELF(arch)))
	}
	return layer(t, "gzip", files...)
}

func manifestOf(d v1.Hash) *v1.Manifest {
	return &v1.Manifest{Layers: []v1.Descriptor{{Digest: d, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"}}}
}

func mustInspect(t *testing.T, in *deep.Inspector, m *v1.Manifest, open deep.Opener) *deep.Result {
	t.Helper()
	r, err := in.Inspect(context.Background(), m, config("arm64", "/bin/sh"), open)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestUncheckedSummariesStayWhereTheyWereRead(t *testing.T) {
	lim := deep.DefaultLimits
	lim.Files = 3
	amd, arm := tools(t, "amd64", 6), tools(t, "arm64", 6)
	d := digest(amd)
	honest := &place{where: "honest.example/app", blobs: map[v1.Hash][]byte{d: amd}}
	hostile := &place{where: "hostile.example/app", blobs: map[v1.Hash][]byte{d: arm}}
	in := &deep.Inspector{Limits: lim, Store: &memStore{}}

	if r := mustInspect(t, in, manifestOf(d), hostile.open); r.Mismatch {
		t.Errorf("the hostile image is judged on its own (arm64) bytes: %+v", r)
	}
	for i := 0; i < 2; i++ {
		if r := mustInspect(t, in, manifestOf(d), honest.open); !r.Mismatch {
			t.Errorf("inspection %d of the honest image read the hostile summary: %+v", i, r)
		}
	}
	if honest.count() != 1 || hostile.count() != 1 {
		t.Errorf("reads: honest %d, hostile %d; want one each (a second read from the same place reuses the first)", honest.count(), hostile.count())
	}
	if notes := in.Store.(*memStore).notes; len(notes) != 0 {
		t.Errorf("summaries of layers read in part were stored: %v", notes)
	}

	// A reader that does not say where it reads from shares nothing
	// unchecked.
	var anon int
	open := func(ctx context.Context, l v1.Descriptor) (io.ReadCloser, error) {
		anon++
		return io.NopCloser(bytes.NewReader(amd)), nil
	}
	for i := 0; i < 2; i++ {
		mustInspect(t, in, manifestOf(d), open)
	}
	if anon != 2 {
		t.Errorf("an unlocated reader's partial summary was shared: %d opens, want 2", anon)
	}
}

func TestCheckedSummariesAreShared(t *testing.T) {
	amd, arm := tools(t, "amd64", 4), tools(t, "arm64", 4)
	d := digest(amd)
	honest := &place{where: "honest.example/app", blobs: map[v1.Hash][]byte{d: amd}}
	hostile := &place{where: "hostile.example/app", blobs: map[v1.Hash][]byte{d: arm}}
	store := &memStore{}
	in := &deep.Inspector{Limits: deep.DefaultLimits, Store: store}

	// Read whole, the lie shows and nothing is kept.
	_, err := in.Inspect(context.Background(), manifestOf(d), config("arm64", "/bin/sh"), hostile.open)
	var dm *tree.DigestMismatchError
	if !errors.As(err, &dm) || dm.Want != d || dm.Got != digest(arm) {
		t.Fatalf("err = %v, want a layer digest mismatch", err)
	}
	if len(store.notes) != 0 {
		t.Errorf("a layer that failed its digest was stored: %v", store.notes)
	}
	// The honest bytes are checked, then shared by digest: with any
	// place in this run, and with later runs through the store.
	if r := mustInspect(t, in, manifestOf(d), honest.open); !r.Mismatch {
		t.Errorf("honest image: %+v", r)
	}
	if r := mustInspect(t, in, manifestOf(d), hostile.open); !r.Mismatch || r.Bytes != 0 {
		t.Errorf("the checked summary should judge the layer wherever it is named: %+v", r)
	}
	later := &deep.Inspector{Limits: deep.DefaultLimits, Store: store}
	if r := mustInspect(t, later, manifestOf(d), hostile.open); !r.Mismatch || r.Bytes != 0 {
		t.Errorf("the next run should use the stored summary: %+v", r)
	}
	if honest.count() != 1 || hostile.count() != 1 {
		t.Errorf("reads: honest %d, hostile %d; want one each", honest.count(), hostile.count())
	}
}

func TestUncheckedNotesOfOlderVersionsAreIgnored(t *testing.T) {
	amd, arm := tools(t, "amd64", 2), tools(t, "arm64", 2)
	d := digest(amd)
	// Older versions stored summaries of bytes never checked against
	// their digest under "deep-<hex>": one may be a hostile registry's.
	poisoned, err := json.Marshal(deep.Summary{Files: map[string]deep.Binary{"usr/bin/tool00": {Path: "/usr/bin/tool00", Format: "ELF", Arch: "arm64"}}, Complete: true})
	if err != nil {
		t.Fatal(err)
	}
	store := &memStore{notes: map[string][]byte{"deep-" + d.Hex: poisoned}}
	honest := &place{where: "honest.example/app", blobs: map[v1.Hash][]byte{d: amd, digest(arm): arm}}
	r := mustInspect(t, &deep.Inspector{Limits: deep.DefaultLimits, Store: store}, manifestOf(d), honest.open)
	if !r.Mismatch || honest.count() != 1 {
		t.Errorf("an old note decided the verdict: %+v, %d reads", r, honest.count())
	}
}
