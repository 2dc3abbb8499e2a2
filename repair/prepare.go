package repair

import (
	"context"
	"errors"
	"fmt"

	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/tree"
)

// Registry is what a repair reads and writes through. registry.Client
// implements it.
type Registry interface {
	// Fetch reads a reference and everything below it; content that does
	// not exist gives an error wrapping tree.ErrMissing.
	Fetch(ctx context.Context, ref string) (*tree.Node, error)
	// Tags lists the tags of ref's repository (or OCI layout).
	Tags(ctx context.Context, ref string) ([]string, error)
	// TagOf returns ref's tag.
	TagOf(ref string) (string, error)
	// WithTag returns a reference to tag in ref's repository.
	WithTag(ref, tag string) (string, error)
	Writer
}

// Request is a repair as a user asks for it.
type Request struct {
	// Target is the tag to make whole.
	Target string
	// From lists images or indexes to take platforms from.
	From []string
	// PerArch lists per-arch tag templates ("{tag}-{arch}"): the sibling
	// tags of Target they name become sources too.
	PerArch []string
	// To, when set, is where the result goes instead of Target.
	To string
	// Require, Fix and PreferSources are as in Input.
	Require       []specs.Platform
	Fix           bool
	PreferSources bool
}

// Prepare fetches what req needs and builds its plan. Sources named with
// --from come first, then per-arch siblings in template order.
func Prepare(ctx context.Context, r Registry, req Request) (*Plan, error) {
	in := Input{Target: req.Target, Require: req.Require, Fix: req.Fix, PreferSources: req.PreferSources}
	var err error
	if in.Current, err = fetchIfExists(ctx, r, req.Target); err != nil {
		return nil, err
	}
	if req.To != "" && req.To != req.Target {
		in.Dest = req.To
		if in.DestCurrent, err = fetchIfExists(ctx, r, req.To); err != nil {
			return nil, err
		}
	}
	if in.Tags, err = r.Tags(ctx, req.Target); err != nil {
		return nil, err
	}
	refs := append([]string(nil), req.From...)
	if len(req.PerArch) > 0 {
		tag, err := r.TagOf(req.Target)
		if err != nil {
			return nil, err
		}
		siblings, err := platform.PerArchTags(tag, req.PerArch, in.Tags)
		if err != nil {
			return nil, err
		}
		for _, s := range siblings {
			ref, err := r.WithTag(req.Target, s)
			if err != nil {
				return nil, err
			}
			refs = append(refs, ref)
		}
	}
	for _, ref := range refs {
		n, err := r.Fetch(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", ref, err)
		}
		in.Sources = append(in.Sources, Source{Ref: ref, Node: n})
	}
	return Build(in)
}

// fetchIfExists fetches ref, or returns nil when it does not exist.
func fetchIfExists(ctx context.Context, r Registry, ref string) (*tree.Node, error) {
	n, err := r.Fetch(ctx, ref)
	if errors.Is(err, tree.ErrMissing) {
		return nil, nil
	}
	return n, err
}
