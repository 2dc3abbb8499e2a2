package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// Bounds on what one target may make mlaudit fetch and hold. The walk
// reads content by digest, so an index that lists one sub-index many times
// costs one read of it, and these bound what distinct content costs.
const (
	maxDepth        = 8      // nested indexes
	maxEntries      = 10000  // entries in one index
	maxNodes        = 10000  // distinct manifests below one target
	maxTotalEntries = 100000 // entries of all its distinct indexes together
	walkJobs        = 16     // manifests one walk reads at once
)

// walkLimits are the bounds one walk holds to: the constants above, or
// smaller ones in tests.
type walkLimits struct {
	depth, nodes, totalEntries int
}

var defaultLimits = walkLimits{depth: maxDepth, nodes: maxNodes, totalEntries: maxTotalEntries}

// TreeLimitError says a target holds more than mlaudit reads: more than
// 10,000 distinct manifests, or indexes with more than 100,000 entries in
// all. The index where the walk stopped carries it in its Err, with its
// entries unread; the audit reports that target as incomplete. It wraps
// [ErrBadResponse].
type TreeLimitError struct {
	// Target is the reference walked.
	Target ref.Ref
	// Limit is the bound passed, and What what it counts ("distinct
	// manifests", "index entries in all").
	Limit int
	What  string
}

func (e *TreeLimitError) Error() string {
	return fmt.Sprintf("%s has more than %d %s; mlaudit stops there", e.Target, e.Limit, e.What)
}

func (e *TreeLimitError) Unwrap() error { return ErrBadResponse }

// walk fetches id from src and everything below it. An error is returned
// only when the root cannot be read at all; failures below the root (and a
// root whose bytes do not match its declared digest) are recorded in the
// nodes' Err fields for the audit to report.
//
// Content is walked by digest, level by level: each distinct manifest is
// fetched, parsed and held once, however many entries list it. Every entry
// still gets its own node (its descriptor is the entry's: the platform it
// claims), but the nodes of one digest share what was read, children
// included, so the result is a DAG of shared sub-trees: its size is the
// number of entries of the distinct indexes, never the number of paths.
// Levels are planned in index order, so which index a cap stops at does not
// depend on which request answered first; an index's depth is the level
// it is first reached at, its shortest nesting below the root.
func walk(ctx context.Context, src reader, id string) (*tree.Node, error) {
	return walkLimited(ctx, src, id, defaultLimits)
}

func walkLimited(ctx context.Context, src reader, id string, limits walkLimits) (*tree.Node, error) {
	f, err := src.manifest(ctx, id)
	var mismatch *tree.DigestMismatchError
	if err != nil && !errors.As(err, &mismatch) {
		return nil, err
	}
	root := &tree.Node{Descriptor: f.desc, Raw: f.raw, Err: err}
	if err != nil {
		return root, nil
	}
	w := &walker{src: src, target: src.at(id), limits: limits, nodes: map[v1.Hash]*shared{}, distinct: 1}
	top := &shared{node: root}
	if root.Descriptor.Digest != (v1.Hash{}) {
		w.nodes[root.Descriptor.Digest] = top
	}
	w.fill(ctx, top)
	level := []*shared{top}
	for depth := 0; len(level) > 0; depth++ {
		var next []*shared
		for _, s := range level {
			next = append(next, w.plan(s, depth)...)
		}
		w.load(ctx, next)
		level = next
	}
	w.link(top)
	return root, nil
}

// walker is one target's walk: its distinct manifests by digest, and what
// they add up to.
type walker struct {
	src      reader
	target   ref.Ref
	limits   walkLimits
	nodes    map[v1.Hash]*shared
	distinct int // manifests read or planned, the root included
	entries  int // entries of the indexes expanded
}

// shared is one distinct manifest of a walk, read once; every entry that
// lists it gets a copy of its node with the entry's descriptor.
type shared struct {
	node     *tree.Node
	mt       types.MediaType // what classify made of it; "" if unread
	expanded bool            // an index whose entries are read
	linked   bool            // node.Children is set
}

// entry is s as the index entry d lists it: the entry's descriptor, the
// content (parsed values, children, error) shared.
func (s *shared) entry(d v1.Descriptor) *tree.Node {
	n := *s.node
	n.Descriptor = d
	if n.Descriptor.MediaType == "" {
		n.Descriptor.MediaType = s.mt
	}
	return &n
}

// plan decides whether index s, at depth, is expanded, and returns the
// manifests its entries name that no earlier index named: the next level.
func (w *walker) plan(s *shared, depth int) []*shared {
	n := s.node
	if n.Index == nil || n.Err != nil {
		return nil
	}
	if depth >= w.limits.depth {
		n.Err = fmt.Errorf("%w: indexes nested more than %d deep at %s", ErrBadResponse, w.limits.depth, n.Descriptor.Digest)
		return nil
	}
	entries := n.Index.Manifests
	if w.entries+len(entries) > w.limits.totalEntries {
		n.Err = &TreeLimitError{Target: w.target, Limit: w.limits.totalEntries, What: "index entries in all"}
		return nil
	}
	var fresh []*shared
	named := map[v1.Hash]bool{}
	for _, d := range entries {
		if tree.IsAttestation(d) || w.nodes[d.Digest] != nil || named[d.Digest] {
			continue // attestations are not fetched; repeats are read once
		}
		named[d.Digest] = true
		fresh = append(fresh, &shared{node: &tree.Node{Descriptor: v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}}})
	}
	if w.distinct+len(fresh) > w.limits.nodes {
		n.Err = &TreeLimitError{Target: w.target, Limit: w.limits.nodes, What: "distinct manifests"}
		return nil
	}
	w.entries += len(entries)
	w.distinct += len(fresh)
	for _, f := range fresh {
		w.nodes[f.node.Descriptor.Digest] = f
	}
	s.expanded = true
	return fresh
}

// load fetches and fills one level's manifests, walkJobs at a time (the
// source's own cap on requests in flight holds as well).
func (w *walker) load(ctx context.Context, level []*shared) {
	sem := make(chan struct{}, walkJobs)
	var wg sync.WaitGroup
	for _, s := range level {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f, err := w.src.manifest(ctx, s.node.Descriptor.Digest.String())
			s.node.Raw = f.raw
			if err != nil {
				s.node.Err = err
				return
			}
			w.fill(ctx, s)
		}()
	}
	wg.Wait()
}

// link gives every expanded index its children, children first, so each
// entry's copy carries its sub-tree. A cycle cannot come from content
// checked against its digests; should a source not check them, the entry
// that closes one has no children.
func (w *walker) link(s *shared) {
	if s.linked {
		return
	}
	s.linked = true
	if !s.expanded {
		return
	}
	entries := s.node.Index.Manifests
	children := make([]*tree.Node, len(entries))
	for i, d := range entries {
		if tree.IsAttestation(d) {
			// Attestations have no platform to check; their subject
			// digest is in the descriptor. Skipping them saves a request.
			children[i] = &tree.Node{Descriptor: d}
			continue
		}
		c := w.nodes[d.Digest]
		w.link(c)
		children[i] = c.entry(d)
	}
	s.node.Children = children
}

// fill parses a fetched manifest: an index's entries (read by the next
// level), or an image's manifest and config.
func (w *walker) fill(ctx context.Context, s *shared) {
	n := s.node
	mt, err := classify(n.Raw, n.Descriptor.MediaType)
	if err != nil {
		n.Err = err
		return
	}
	s.mt = mt
	if n.Descriptor.MediaType == "" {
		n.Descriptor.MediaType = mt
	}
	if mt.IsIndex() {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(n.Raw))
		if err != nil {
			n.Err = fmt.Errorf("%w: index %s does not parse: %v", ErrBadResponse, n.Descriptor.Digest, err)
			return
		}
		n.Index = idx
		if len(idx.Manifests) > maxEntries {
			n.Err = fmt.Errorf("%w: index %s has %d entries, more than the %d mlaudit reads", ErrBadResponse, n.Descriptor.Digest, len(idx.Manifests), maxEntries)
		}
		return
	}
	m, err := v1.ParseManifest(bytes.NewReader(n.Raw))
	if err != nil {
		n.Err = fmt.Errorf("%w: manifest %s does not parse: %v", ErrBadResponse, n.Descriptor.Digest, err)
		return
	}
	n.Manifest = m
	if tree.IsAttestation(n.Descriptor) {
		return
	}
	raw, err := w.src.blob(ctx, m.Config.Digest, maxConfigBytes, "config")
	if err != nil {
		n.Err = err
		return
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		n.Err = fmt.Errorf("%w: config %s of manifest %s does not parse: %v", ErrBadResponse, m.Config.Digest, n.Descriptor.Digest, err)
		return
	}
	n.Config = cfg
}

// classify decides what a manifest is: its own mediaType field first, then
// the media type it was served or listed with, then its shape.
func classify(raw []byte, declared types.MediaType) (types.MediaType, error) {
	var probe struct {
		SchemaVersion int             `json:"schemaVersion"`
		MediaType     types.MediaType `json:"mediaType"`
		Manifests     json.RawMessage `json:"manifests"`
		Config        json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return "", fmt.Errorf("%w: the manifest is not valid JSON (%v); is this a registry?", ErrBadResponse, err)
	}
	if probe.SchemaVersion == 1 {
		return "", fmt.Errorf("%w: Docker schema 1 manifests are not supported; re-push the image with a current client", ErrBadResponse)
	}
	switch {
	case probe.MediaType != "":
		return probe.MediaType, nil
	case declared.IsIndex() || declared.IsImage():
		return declared, nil
	case probe.Manifests != nil:
		return types.OCIImageIndex, nil
	case probe.Config != nil:
		return types.OCIManifestSchema1, nil
	}
	return "", fmt.Errorf("%w: the manifest is neither an index nor an image manifest", ErrBadResponse)
}
