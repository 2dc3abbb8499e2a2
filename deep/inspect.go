package deep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/internal/memo"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/tree"
)

// Opener opens one of an image's layers, compressed, for reading.
type Opener func(ctx context.Context, layer v1.Descriptor) (io.ReadCloser, error)

// Located is implemented by layer readers that know where their bytes
// come from: registry.Client's say the registry host and repository (or
// the OCI layout). What a read learns from bytes it could not check
// against the layer's digest (a scan that stopped early) is shared only
// between reads from the same location; readers that do not say where
// they read from share nothing unchecked.
type Located interface {
	Location() string
}

// Store keeps layer summaries across runs; cache.Dir is one. Only
// summaries of layers whose bytes hashed to their digest are put there.
type Store interface {
	GetNote(key string) ([]byte, bool)
	PutNote(key string, b []byte) error
}

// Inspector checks images' binaries, sharing layer summaries between the
// images of one run (base layers are common) and, through its Store,
// across runs. It is safe for concurrent use.
//
// A registry can serve any bytes under any digest, so a summary is shared
// by digest (across repositories, registries and runs) only when the
// layer was read to its end and its bytes hashed to that digest. A scan
// that stopped early, having found the binaries it needed, is kept to the
// location it was read from ([Located]) and never stored.
type Inspector struct {
	Limits Limits
	Store  Store

	mu       sync.Mutex
	verified map[v1.Hash]*Summary // this run's checked summaries, by digest
	unstored map[v1.Hash]bool     // digests the Store had no summary for
	layers   memo.Map[*Summary]   // the others, by location, digest and files asked for
}

// Result is the deep check of one image.
type Result struct {
	// Arch is the architecture the config states.
	Arch string `json:"arch"`
	// Inspected are the binaries whose architecture was read; Mismatched,
	// those built for another architecture than Arch.
	Inspected  []Binary `json:"inspected"`
	Mismatched []Binary `json:"mismatched"`
	// Entrypoint is the path of the entrypoint (or cmd) binary, if found.
	Entrypoint string `json:"entrypoint,omitempty"`
	// Mismatch is the verdict: the entrypoint, or most binaries read, are
	// built for another architecture.
	Mismatch bool `json:"mismatch"`
	// Bytes counts the compressed layer bytes read for this image (layers
	// already read this run, or cached, cost nothing).
	Bytes int64 `json:"bytes"`
	// Skipped are the image's layers (bottom first) that are not tars
	// ([IsTar]) and so were not read: an artifact's JSON, an encrypted
	// layer. An image of only such layers has nothing to judge.
	Skipped []SkippedLayer `json:"skipped,omitempty"`
}

// Inspect reads the image's tar layers, top first, until its verdict is
// certain: the entrypoint and at least three binaries read, or the file
// cap reached. Layers of other media types, and foreign layers, are never
// opened; they are listed in the Result's Skipped.
func (in *Inspector) Inspect(ctx context.Context, m *v1.Manifest, cfg *v1.ConfigFile, open Opener) (*Result, error) {
	want := platform.Normalize(*platform.OfConfig(cfg)).Architecture
	r := &Result{Arch: want}
	for _, layer := range m.Layers {
		if !readable(layer) {
			r.Skipped = append(r.Skipped, SkippedLayer{Digest: layer.Digest, MediaType: layer.MediaType, Foreign: IsForeign(layer)})
		}
	}
	entry := entrypoint(cfg)
	seen := map[string]bool{}
	var hidden []string // whiteouts and opaque directories of upper layers
	var compressed int64
	for i := len(m.Layers) - 1; i >= 0; i-- {
		layer := m.Layers[i]
		if !readable(layer) {
			continue // listed in r.Skipped
		}
		need := in.Limits.Files - len(r.Inspected)
		if r.Entrypoint != "" {
			need = min(need, 3-len(r.Inspected))
		}
		s, read, err := in.summary(ctx, layer, open, need)
		if err != nil {
			return r, fmt.Errorf("layer %s: %w", layer.Digest, err)
		}
		r.Bytes += read
		if compressed += read; compressed > in.Limits.ImageCompressed {
			return r, fmt.Errorf("%w: more than %d compressed bytes for one image", ErrLimit, in.Limits.ImageCompressed)
		}
		paths := make([]string, 0, len(s.Files))
		for p := range s.Files {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			if seen[p] || under(p, hidden) {
				continue
			}
			seen[p] = true
			b := s.Files[p]
			if b.Arch == "" {
				continue
			}
			r.Inspected = append(r.Inspected, b)
			if entry != "" && ("/"+p == entry || !strings.Contains(entry, "/") && path.Base(p) == entry) {
				r.Entrypoint = b.Path
			}
		}
		hidden = append(hidden, s.Whiteouts...)
		for _, o := range s.Opaque {
			hidden = append(hidden, strings.TrimSuffix(o, "/"))
		}
		// A partial summary (the scan stopped at the binaries it needed)
		// may miss whiteouts further down its layer: decide here rather
		// than read lower layers through it.
		if !s.Complete || len(r.Inspected) >= in.Limits.Files || r.Entrypoint != "" && len(r.Inspected) >= 3 {
			break
		}
	}
	for _, b := range r.Inspected {
		if b.Arch != want {
			r.Mismatched = append(r.Mismatched, b)
			if b.Path == r.Entrypoint {
				r.Mismatch = true
			}
		}
	}
	if len(r.Inspected) > 0 && 2*len(r.Mismatched) > len(r.Inspected) {
		r.Mismatch = true
	}
	return r, nil
}

// summary returns a layer's summary: a verified one from this run or the
// store, or one read now (shared with this run's reads of the same layer
// from the same location). It also says how many bytes were read for it.
func (in *Inspector) summary(ctx context.Context, layer v1.Descriptor, open Opener, files int) (*Summary, int64, error) {
	if s := in.known(layer.Digest); s != nil {
		return s, 0, nil
	}
	rc, err := open(ctx, layer)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	var where string
	if l, ok := rc.(Located); ok {
		where = l.Location()
	}
	if where == "" {
		s, err := in.read(layer, rc, files)
		if err != nil {
			return nil, 0, err
		}
		return s, s.Bytes, nil
	}
	var read int64
	// A summary may stop at the binaries asked for, so the key also says
	// how many. Whoever runs the read uses its own reader; the others
	// close theirs unread (registry.Client's make no request until read).
	s, err := in.layers.Do(fmt.Sprint(where, "@", layer.Digest, "/", files), func() (*Summary, error) {
		s, err := in.read(layer, rc, files)
		if s != nil {
			read = s.Bytes
		}
		return s, err
	})
	return s, read, err
}

// noteKey files a verified summary in the Store. The "v2" keeps notes that
// older versions wrote without checking the digest from being read.
func noteKey(d v1.Hash) string { return "deep-v2-" + d.Hex }

// known returns the verified summary of the layer with digest d, from this
// run or the store, or nil.
func (in *Inspector) known(d v1.Hash) *Summary {
	in.mu.Lock()
	s, asked := in.verified[d], in.unstored[d]
	in.mu.Unlock()
	if s != nil || asked || in.Store == nil || !verifiable(d) {
		return s
	}
	var stored Summary
	if b, ok := in.Store.GetNote(noteKey(d)); !ok || json.Unmarshal(b, &stored) != nil || !stored.Complete || stored.Files == nil {
		in.mu.Lock()
		if in.unstored == nil {
			in.unstored = map[v1.Hash]bool{}
		}
		in.unstored[d] = true // ask the Store once a run
		in.mu.Unlock()
		return nil
	}
	in.remember(d, &stored)
	return &stored
}

// remember keeps a verified summary for the rest of the run.
func (in *Inspector) remember(d v1.Hash, s *Summary) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.verified == nil {
		in.verified = map[v1.Hash]*Summary{}
	}
	in.verified[d] = s
}

// verifiable reports whether layers with digest d can be checked: sha256,
// the only algorithm registries use.
func verifiable(d v1.Hash) bool {
	return d.Algorithm == "sha256" && len(d.Hex) == 64
}

// read scans a layer. When the scan reaches the end of the tar, the rest
// of the stream (padding, the compressor's trailer) is read too, within
// the compressed cap, and the whole is checked against the layer's digest:
// bytes that do not match fail the check with a
// [*tree.DigestMismatchError]; bytes that do are remembered for the run
// and put in the Store.
func (in *Inspector) read(layer v1.Descriptor, r io.Reader, files int) (*Summary, error) {
	h := sha256.New()
	body := io.TeeReader(r, h)
	s, err := Scan(body, string(layer.MediaType), in.Limits, max(files, 1))
	if err != nil || !s.Complete || !verifiable(layer.Digest) {
		return s, err
	}
	rest, err := io.Copy(io.Discard, io.LimitReader(body, max(in.Limits.LayerCompressed+1-s.Bytes, 0)))
	s.Bytes += rest
	switch {
	case err != nil:
		return nil, fmt.Errorf("reading the layer to its end: %w", err)
	case s.Bytes > in.Limits.LayerCompressed:
		return nil, fmt.Errorf("%w: more than %d compressed bytes", ErrLimit, in.Limits.LayerCompressed)
	}
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	if got != layer.Digest {
		return nil, &tree.DigestMismatchError{What: "layer", Want: layer.Digest, Got: got}
	}
	in.remember(layer.Digest, s)
	if in.Store != nil {
		if b, err := json.Marshal(s); err == nil {
			_ = in.Store.PutNote(noteKey(layer.Digest), b) // a cache that cannot be written only costs reads
		}
	}
	return s, nil
}

// under reports whether p is one of the paths, or inside one of them.
func under(p string, paths []string) bool {
	for _, h := range paths {
		if h != "" && (p == h || strings.HasPrefix(p, h+"/")) {
			return true
		}
	}
	return false
}

// entrypoint is the program the image runs: the first word of its
// Entrypoint, else of its Cmd, as a path or a bare name.
func entrypoint(cfg *v1.ConfigFile) string {
	for _, argv := range [][]string{cfg.Config.Entrypoint, cfg.Config.Cmd} {
		if len(argv) == 0 {
			continue
		}
		first := argv[0]
		if first == "/bin/sh" || first == "sh" || first == "/bin/bash" || first == "bash" {
			// A shell form: the program is in its script, not known here.
			return ""
		}
		if strings.HasPrefix(first, "/") {
			return path.Clean(first)
		}
		return first
	}
	return ""
}
