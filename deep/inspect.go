package deep

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/internal/memo"
	"github.com/mlaudit/mlaudit/platform"
)

// Opener opens one of an image's layers, compressed, for reading.
type Opener func(ctx context.Context, layer v1.Descriptor) (io.ReadCloser, error)

// Store keeps layer summaries across runs; cache.Dir is one.
type Store interface {
	GetNote(key string) ([]byte, bool)
	PutNote(key string, b []byte) error
}

// Inspector checks images' binaries, sharing layer summaries between the
// images of one run (base layers are common) and, through its Store,
// across runs. It is safe for concurrent use.
type Inspector struct {
	Limits Limits
	Store  Store
	layers memo.Map[*Summary]
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
}

// Inspect reads the image's layers, top first, until its verdict is
// certain: the entrypoint and at least three binaries read, or the file
// cap reached.
func (in *Inspector) Inspect(ctx context.Context, m *v1.Manifest, cfg *v1.ConfigFile, open Opener) (*Result, error) {
	want := platform.Normalize(*platform.OfConfig(cfg)).Architecture
	r := &Result{Arch: want}
	entry := entrypoint(cfg)
	seen := map[string]bool{}
	var hidden []string // whiteouts and opaque directories of upper layers
	var compressed int64
	for i := len(m.Layers) - 1; i >= 0; i-- {
		layer := m.Layers[i]
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

// summary returns a layer's summary: this run's, the store's, or read
// now. It also says how many bytes were read for it.
func (in *Inspector) summary(ctx context.Context, layer v1.Descriptor, open Opener, files int) (*Summary, int64, error) {
	key := "deep-" + layer.Digest.Hex
	var read int64
	// A summary may stop at the binaries asked for, so this run's memo is
	// keyed by how many; only complete summaries go to the store.
	s, err := in.layers.Do(fmt.Sprint(layer.Digest, "/", files), func() (*Summary, error) {
		if in.Store != nil {
			if b, ok := in.Store.GetNote(key); ok {
				var s Summary
				if json.Unmarshal(b, &s) == nil && s.Complete {
					return &s, nil
				}
			}
		}
		rc, err := open(ctx, layer)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		s, err := Scan(rc, string(layer.MediaType), in.Limits, max(files, 1))
		if err != nil {
			return nil, err
		}
		read = s.Bytes
		if s.Complete && in.Store != nil {
			if b, err := json.Marshal(s); err == nil {
				_ = in.Store.PutNote(key, b) // a cache that cannot be written only costs reads
			}
		}
		return s, nil
	})
	return s, read, err
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
