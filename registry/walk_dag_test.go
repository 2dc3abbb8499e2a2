package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// dagSource serves made-up content by digest, counting reads: indexes it
// was given, and for any other digest a linux/amd64 image. Like
// fuzzSource it checks no digest, so tests can name content freely.
type dagSource struct {
	root    v1.Hash
	indexes map[v1.Hash][]byte

	mu        sync.Mutex
	manifests map[string]int
	blobs     int
}

func newDAGSource() *dagSource {
	return &dagSource{indexes: map[v1.Hash][]byte{}, manifests: map[string]int{}}
}

var (
	dagImage  = []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:` + strings.Repeat("c", 64) + `"},"layers":[]}`)
	dagConfig = []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
)

// index stores an index named name whose entries are children (an
// image's name makes a digest of a made-up image) and returns its digest.
func (s *dagSource) index(name string, children ...entrySpec) v1.Hash {
	im := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for _, c := range children {
		d := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: c.digest, Size: 10}
		if c.index {
			d.MediaType = types.OCIImageIndex
		} else {
			d.Platform = &v1.Platform{OS: "linux", Architecture: "amd64"}
		}
		im.Manifests = append(im.Manifests, d)
	}
	raw, err := json.Marshal(im)
	if err != nil {
		panic(err)
	}
	h := sha256Of([]byte(name))
	s.indexes[h] = raw
	return h
}

type entrySpec struct {
	digest v1.Hash
	index  bool
}

func img(name string) entrySpec { return entrySpec{digest: sha256Of([]byte("image " + name))} }
func sub(h v1.Hash) entrySpec   { return entrySpec{digest: h, index: true} }
func times(n int, e entrySpec) []entrySpec {
	out := make([]entrySpec, n)
	for i := range out {
		out[i] = e
	}
	return out
}

func (s *dagSource) manifest(_ context.Context, id string) (fetched, error) {
	s.mu.Lock()
	s.manifests[id]++
	s.mu.Unlock()
	h, err := v1.NewHash(id)
	if err != nil {
		h = s.root // a tag names the root
	}
	if raw, ok := s.indexes[h]; ok {
		return fetched{raw: raw, desc: v1.Descriptor{Digest: h, MediaType: types.OCIImageIndex, Size: int64(len(raw))}}, nil
	}
	return fetched{raw: dagImage, desc: v1.Descriptor{Digest: h, Size: int64(len(dagImage))}}, nil
}

func (s *dagSource) blob(context.Context, v1.Hash, int64, string) ([]byte, error) {
	s.mu.Lock()
	s.blobs++
	s.mu.Unlock()
	return dagConfig, nil
}

func (s *dagSource) at(id string) ref.Ref {
	return at(ref.Ref{Scheme: ref.Registry, Registry: "registry.example.com", Repository: "dag/app"}, id)
}

// fanOut stores an index that lists the next one width times, depth
// levels deep, down to one image listed width times; it is the root.
func (s *dagSource) fanOut(width, depth int) {
	child := img("leaf")
	for level := depth; level >= 1; level-- {
		child = sub(s.index(fmt.Sprintf("level %d", level), times(width, child)...))
	}
	s.root = child.digest
}

func TestWalkReadsEachDigestOnce(t *testing.T) {
	s := newDAGSource()
	s.fanOut(10, 6)
	root, err := walk(context.Background(), s, "latest")
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range s.manifests {
		if n != 1 {
			t.Errorf("manifest %s read %d times, want once", id, n)
		}
	}
	if got, want := len(s.manifests), 7; got != want {
		t.Errorf("%d manifests read, want %d (the tag, 5 nested indexes, the image)", got, want)
	}
	if s.blobs != 1 {
		t.Errorf("%d configs read, want 1", s.blobs)
	}
	// Entries of one digest share what was read: their children.
	first, second := root.Children[0], root.Children[1]
	if first == second || first.Index != second.Index {
		t.Errorf("entries of one digest should be distinct nodes sharing the parsed index")
	}
	if &first.Children[0] != &second.Children[0] {
		t.Errorf("entries of one digest should share their children")
	}
	var nodes, again int
	root.Walk(func(_, _ *tree.Node, repeat bool) {
		nodes++
		if repeat {
			again++
		}
	})
	if nodes != 60 || again != 45 {
		t.Errorf("Walk visited %d entries (%d again), want 60 (45 again): each distinct index's entries once", nodes, again)
	}
	if got := len(root.Images()); got != 10 {
		t.Errorf("Images() = %d, want the 10 entries of the deepest index", got)
	}
	if got := len(root.Indexes()); got != 6 {
		t.Errorf("Indexes() = %d, want 6 distinct indexes", got)
	}
}

func TestWalkCaps(t *testing.T) {
	// The bounds scaled down a hundredfold, so the tests stay quick.
	small := walkLimits{depth: maxDepth, nodes: maxNodes / 100, totalEntries: maxTotalEntries / 100}
	t.Run("distinct manifests", func(t *testing.T) {
		s := newDAGSource()
		var a, b []entrySpec
		for i := range 90 {
			a = append(a, img(fmt.Sprintf("a%d", i)))
		}
		for i := range 20 {
			b = append(b, img(fmt.Sprintf("b%d", i)))
		}
		s.root = s.index("root", sub(s.index("a", a...)), sub(s.index("b", b...)))
		root, err := walkLimited(context.Background(), s, "latest", small)
		if err != nil {
			t.Fatal(err)
		}
		subA, subB := root.Children[0], root.Children[1]
		if subA.Err != nil || len(subA.Children) != 90 {
			t.Errorf("the first index should be read whole: %v, %d children", subA.Err, len(subA.Children))
		}
		var limit *TreeLimitError
		if !errors.As(subB.Err, &limit) || !errors.Is(subB.Err, ErrBadResponse) || len(subB.Children) != 0 {
			t.Fatalf("the index past the cap: err %v, %d children; want a TreeLimitError and none", subB.Err, len(subB.Children))
		}
		if want := "registry.example.com/dag/app:latest has more than 100 distinct manifests; mlaudit stops there"; subB.Err.Error() != want {
			t.Errorf("error %q, want %q", subB.Err, want)
		}
		if n := len(s.manifests); n > small.nodes {
			t.Errorf("%d manifests read, more than the cap", n)
		}
	})
	t.Run("entries in all", func(t *testing.T) {
		s := newDAGSource()
		var subs []entrySpec
		for i := range 11 {
			subs = append(subs, sub(s.index(fmt.Sprintf("sub %d", i), times(99, img("same"))...)))
		}
		s.root = s.index("root", subs...)
		root, err := walkLimited(context.Background(), s, "latest", small)
		if err != nil {
			t.Fatal(err)
		}
		// 11 root entries, then 99 per index: the tenth would pass 1,000.
		for i, c := range root.Children {
			var limit *TreeLimitError
			if i < 9 && (c.Err != nil || len(c.Children) != 99) {
				t.Errorf("index %d: %v, %d children; want read whole", i, c.Err, len(c.Children))
			}
			if i >= 9 && (!errors.As(c.Err, &limit) || !strings.Contains(c.Err.Error(), "has more than 1000 index entries in all; mlaudit stops there")) {
				t.Errorf("index %d: %v; want the entries cap", i, c.Err)
			}
		}
	})
	t.Run("depth", func(t *testing.T) {
		s := newDAGSource()
		s.fanOut(1, maxDepth+2)
		root, err := walk(context.Background(), s, "latest")
		if err != nil {
			t.Fatal(err)
		}
		var deepest *tree.Node
		root.Walk(func(_, c *tree.Node, _ bool) { deepest = c })
		if deepest.Err == nil || !strings.Contains(deepest.Err.Error(), "nested more than 8 deep") {
			t.Errorf("the deepest index read: %v, want the depth error", deepest.Err)
		}
	})
}

// A source that does not check digests can make an index list itself;
// the walk and everything reading its result still end.
func TestWalkEndsOnACycle(t *testing.T) {
	s := newDAGSource()
	self := sha256Of([]byte("self"))
	raw, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{
		{MediaType: types.OCIImageIndex, Digest: self, Size: 10},
		{MediaType: types.OCIManifestSchema1, Digest: img("x").digest, Size: 10, Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}},
	}})
	s.indexes[self] = raw
	s.root = s.index("root", sub(self), sub(self))
	root, err := walk(context.Background(), s, "latest")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(root.Images()); n != 1 {
		t.Errorf("Images() = %d, want 1", n)
	}
	if n := len(root.Indexes()); n != 2 {
		t.Errorf("Indexes() = %d, want 2", n)
	}
}
