package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// Siblings is implemented by sources that can list the other tags of a
// reference's repository, as per-arch templates need. registry.Client is
// one.
type Siblings interface {
	Tags(ctx context.Context, r ref.Ref) ([]string, error)
}

// perArchSiblings returns the per-arch tags of r's tag that exist; none
// when r's own tag names an architecture.
func perArchSiblings(ctx context.Context, src Source, r ref.Ref, templates []string) ([]ref.Ref, error) {
	sib, ok := src.(Siblings)
	if !ok || len(templates) == 0 || r.Tag == "" {
		return nil, nil
	}
	if _, perArch := platform.FromTag(r.Tag); perArch {
		return nil, nil
	}
	tags, err := sib.Tags(ctx, r)
	if err != nil {
		return nil, err
	}
	names, err := platform.PerArchTags(r.Tag, templates, tags)
	if err != nil {
		return nil, err
	}
	refs := make([]ref.Ref, 0, len(names))
	for _, n := range names {
		s, err := r.WithTag(n)
		if err != nil {
			return nil, err
		}
		refs = append(refs, s)
	}
	return refs, nil
}

// staleArchTag reports a per-arch tag that points to another image than
// the index's entry for its platform.
func staleArchTag(r ref.Ref, index *tree.Node, sibling ref.Ref, sib *tree.Node) []Finding {
	if index == nil || sib == nil || index.Index == nil {
		return nil
	}
	entries := index.Images()
	named, _ := platform.FromTag(sibling.Tag)
	var out []Finding
	for _, img := range sib.Images() {
		p := configOrClaimed(img)
		if p == nil || !named.Matches(*p) {
			// A sibling holding another architecture than its name says
			// is a tag-platform-mismatch, not a stale copy.
			continue
		}
		for _, e := range entries {
			claimed := e.Claimed()
			if platform.Empty(claimed) || !platform.Same(*claimed, *p) || e.Descriptor.Digest == img.Descriptor.Digest {
				continue
			}
			info := StaleArchTag.Info()
			out = append(out, Finding{
				Ref: sibling, Digest: img.Descriptor.Digest.String(), Code: StaleArchTag, Severity: info.Severity, Platform: platform.Format(p),
				Message: fmt.Sprintf("%s holds %s, but %s lists %s for %s", sibling.Brief(r), ref.ShortDigest(img.Descriptor.Digest.String()), r.Brief(sibling), ref.ShortDigest(e.Descriptor.Digest.String()), platform.Format(p)),
				Hint:    info.Hint,
			})
		}
	}
	return out
}

// mirrorDrift compares a tag with its copy in a mirror.
func mirrorDrift(r ref.Ref, source *tree.Node, mirror ref.Ref, copy *tree.Node, fetchErr error) []Finding {
	info := MirrorDrift.Info()
	finding := func(platform, msg string) Finding {
		return Finding{Ref: mirror, Code: MirrorDrift, Severity: info.Severity, Platform: platform, Message: msg, Hint: info.Hint}
	}
	if errors.Is(fetchErr, tree.ErrMissing) {
		return []Finding{finding("", fmt.Sprintf("the mirror has no %s, which %s has", mirror.Brief(mirror.Repo()), r))}
	}
	if source == nil || copy == nil || source.Descriptor.Digest == copy.Descriptor.Digest {
		return nil
	}
	have := map[string]string{}
	for _, img := range copy.Images() {
		if p := claimedOrConfig(img); p != nil {
			have[platform.Format(p)] = img.Descriptor.Digest.String()
		}
	}
	var out []Finding
	for _, img := range source.Images() {
		p := claimedOrConfig(img)
		if p == nil {
			continue
		}
		key := platform.Format(p)
		digest := img.Descriptor.Digest.String()
		switch got, ok := have[key]; {
		case !ok:
			out = append(out, finding(key, fmt.Sprintf("the mirror lacks %s, which %s has (%s)", key, r, ref.ShortDigest(digest))))
		case got != digest:
			out = append(out, finding(key, fmt.Sprintf("%s is %s in the mirror but %s in %s", key, ref.ShortDigest(got), ref.ShortDigest(digest), r)))
		}
	}
	return out
}

// configOrClaimed is what an image is: its config's platform, else what
// its index claims.
func configOrClaimed(n *tree.Node) *platform.Platform {
	if p := n.ConfigPlatform(); !platform.Empty(p) {
		return p
	}
	if p := n.Claimed(); !platform.Empty(p) {
		return p
	}
	return nil
}

// claimedOrConfig is the platform clients select an image by: what the
// index claims, else (for a single image) its config.
func claimedOrConfig(n *tree.Node) *platform.Platform {
	if p := n.Claimed(); !platform.Empty(p) {
		return p
	}
	return configOrClaimed(n)
}
