package repair

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// Registry is what a repair reads and writes through. registry.Client
// implements it.
type Registry interface {
	// Fetch reads a reference and everything below it; content that does
	// not exist gives an error wrapping tree.ErrMissing.
	Fetch(ctx context.Context, r ref.Ref) (*tree.Node, error)
	// Tags lists the tags of r's repository (or OCI layout).
	Tags(ctx context.Context, r ref.Ref) ([]string, error)
	// Referrers lists what refers to the manifest r names by digest (OCI
	// 1.1 referrers, through the API or its fallback tag).
	Referrers(ctx context.Context, r ref.Ref) ([]v1.Descriptor, error)
	Writer
}

// Request is a repair as a user asks for it.
type Request struct {
	// Target is the tag to make whole.
	Target ref.Ref
	// From lists images or indexes to take platforms from.
	From []ref.Ref
	// PerArch lists per-arch tag templates ("{tag}-{arch}"): the sibling
	// tags of Target they name become sources too.
	PerArch []string
	// To, when set (not the zero Ref), is where the result goes instead of
	// Target.
	To ref.Ref
	// Require, Fix and PreferSources are as in Input.
	Require       []platform.Platform
	Fix           bool
	PreferSources bool
	// Backup, when set, is a template for a tag that keeps the old
	// manifest reachable before the destination moves: {tag} is the
	// destination's tag, {date} the day (UTC, YYYYMMDD), {digest} the old
	// digest's first 12 hex digits. It must hold ref.BackupMarker (see
	// CheckBackupTemplate). Now is the time for {date}; zero means now.
	Backup string
	Now    time.Time
}

// Prepare fetches what req needs and builds its plan. Sources named in
// From come first, then per-arch siblings in template order.
func Prepare(ctx context.Context, r Registry, req Request) (*Plan, error) {
	for _, t := range []ref.Ref{req.Target, req.To} {
		if t.Scheme != "" && (t.Tag == "" || t.Digest != "") {
			return nil, fmt.Errorf("%w: %s: repair a tag, not a digest or a whole repository: the tag is what moves", ErrNotATag, t.Written())
		}
	}
	in := Input{Target: req.Target, Require: req.Require, Fix: req.Fix, PreferSources: req.PreferSources}
	var err error
	if in.Current, err = fetchIfExists(ctx, r, req.Target); err != nil {
		return nil, err
	}
	if req.To.Scheme != "" && !req.To.Equal(req.Target) {
		in.Dest = req.To
		if in.DestCurrent, err = fetchIfExists(ctx, r, req.To); err != nil {
			return nil, err
		}
	}
	if in.Tags, err = r.Tags(ctx, req.Target); err != nil {
		return nil, err
	}
	if err := prepareSignatures(ctx, r, &in); err != nil {
		return nil, err
	}
	refs := append([]ref.Ref(nil), req.From...)
	if len(req.PerArch) > 0 {
		siblings, err := platform.PerArchTags(req.Target.Tag, req.PerArch, in.Tags)
		if err != nil {
			return nil, err
		}
		for _, s := range siblings {
			sib, err := req.Target.WithTag(s)
			if err != nil {
				return nil, err
			}
			refs = append(refs, sib)
		}
	}
	for _, src := range refs {
		n, err := r.Fetch(ctx, src)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", src.Written(), err)
		}
		in.Sources = append(in.Sources, Source{Ref: src, Node: n})
	}
	p, err := Build(in)
	if err != nil || req.Backup == "" || p.OldDigest == "" || !p.Changed {
		return p, err
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	b, err := BackupTag(req.Backup, p.Dest, p.OldDigest, now)
	if err != nil {
		return nil, err
	}
	p.Backup = &b
	return p, nil
}

// prepareSignatures finds what refers to the destination's current
// manifest: its cosign tags and its OCI 1.1 referrers.
func prepareSignatures(ctx context.Context, r Registry, in *Input) error {
	dest, cur := in.Target, in.Current
	if in.Dest.Scheme != "" {
		dest, cur = in.Dest, in.DestCurrent
	}
	if cur == nil {
		return nil
	}
	digest := cur.Descriptor.Digest.String()
	tags := in.Tags
	if !dest.SameRepository(in.Target) {
		var err error
		if tags, err = r.Tags(ctx, dest); err != nil {
			return err
		}
	}
	for _, t := range ref.SignatureTags(digest) {
		if slices.Contains(tags, t) {
			sig, err := dest.WithTag(t)
			if err != nil {
				return err
			}
			in.Signatures = append(in.Signatures, Signature{Kind: CosignTag, Ref: sig})
		}
	}
	referrers, err := r.Referrers(ctx, dest.WithDigest(digest))
	if err != nil {
		return fmt.Errorf("finding what refers to %s: %w", dest.WithDigest(digest), err)
	}
	for _, d := range referrers {
		in.Signatures = append(in.Signatures, Signature{Kind: Referrer, Ref: dest.WithDigest(d.Digest.String()), ArtifactType: d.ArtifactType})
	}
	return nil
}

// fetchIfExists fetches r, or returns nil when it does not exist.
func fetchIfExists(ctx context.Context, reg Registry, r ref.Ref) (*tree.Node, error) {
	n, err := reg.Fetch(ctx, r)
	if errors.Is(err, tree.ErrMissing) {
		return nil, nil
	}
	return n, err
}
