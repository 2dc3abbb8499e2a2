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

	"github.com/mlaudit/mlaudit/tree"
)

// Bounds on what one target may make mlaudit fetch.
const (
	maxDepth   = 8     // nested indexes
	maxEntries = 10000 // entries in one index
)

// walk fetches id from src and everything below it. An error is returned
// only when the root cannot be read at all; failures below the root (and a
// root whose bytes do not match its declared digest) are recorded in the
// nodes' Err fields for the audit to report.
func walk(ctx context.Context, src reader, id string) (*tree.Node, error) {
	f, err := src.manifest(ctx, id)
	var mismatch *tree.DigestMismatchError
	if err != nil && !errors.As(err, &mismatch) {
		return nil, err
	}
	root := &tree.Node{Descriptor: f.desc, Raw: f.raw, Err: err}
	if err == nil {
		fill(ctx, src, root, 0)
	}
	return root, nil
}

// fill parses n.Raw and fetches what n references: an index's children or
// an image's config.
func fill(ctx context.Context, src reader, n *tree.Node, depth int) {
	mt, err := classify(n.Raw, n.Descriptor.MediaType)
	if err != nil {
		n.Err = err
		return
	}
	if n.Descriptor.MediaType == "" {
		n.Descriptor.MediaType = mt
	}
	if mt.IsIndex() {
		fillIndex(ctx, src, n, depth)
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
	raw, err := src.blob(ctx, m.Config.Digest, maxConfigBytes, "config")
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

func fillIndex(ctx context.Context, src reader, n *tree.Node, depth int) {
	idx, err := v1.ParseIndexManifest(bytes.NewReader(n.Raw))
	if err != nil {
		n.Err = fmt.Errorf("%w: index %s does not parse: %v", ErrBadResponse, n.Descriptor.Digest, err)
		return
	}
	n.Index = idx
	if len(idx.Manifests) > maxEntries {
		n.Err = fmt.Errorf("%w: index %s has %d entries, more than the %d mlaudit reads", ErrBadResponse, n.Descriptor.Digest, len(idx.Manifests), maxEntries)
		return
	}
	if depth >= maxDepth {
		n.Err = fmt.Errorf("%w: indexes nested more than %d deep at %s", ErrBadResponse, maxDepth, n.Descriptor.Digest)
		return
	}
	var wg sync.WaitGroup
	n.Children = make([]*tree.Node, len(idx.Manifests))
	for i, d := range idx.Manifests {
		child := &tree.Node{Descriptor: d}
		n.Children[i] = child
		if tree.IsAttestation(d) {
			// Attestations have no platform to check; their subject
			// digest is in the descriptor. Skipping them saves a request.
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := src.manifest(ctx, d.Digest.String())
			child.Raw = f.raw
			if err != nil {
				child.Err = err
				return
			}
			fill(ctx, src, child, depth+1)
		}()
	}
	wg.Wait()
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
