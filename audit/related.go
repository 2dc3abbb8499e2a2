package audit

import (
	"context"
	"errors"
	"fmt"

	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/tree"
)

// Siblings is implemented by sources that can find other tags of a
// reference's repository, as per-arch templates need. registry.Client is
// one.
type Siblings interface {
	Tags(ctx context.Context, ref string) ([]string, error)
	TagOf(ref string) (string, error)
	WithTag(ref, tag string) (string, error)
}

// Mirrors is implemented by sources that can name a reference's copy in a
// mirror. registry.Client is one.
type Mirrors interface {
	Rebase(ref, prefix string) (string, error)
}

// perArchSiblings returns the per-arch tags of ref's tag that exist, as
// references; none when ref's own tag names an architecture.
func perArchSiblings(ctx context.Context, src Source, ref string, templates []string) ([]string, error) {
	sib, ok := src.(Siblings)
	if !ok || len(templates) == 0 {
		return nil, nil
	}
	tag, err := sib.TagOf(ref)
	if err != nil || tag == "" {
		return nil, err
	}
	if _, perArch := platform.FromTag(tag); perArch {
		return nil, nil
	}
	tags, err := sib.Tags(ctx, ref)
	if err != nil {
		return nil, err
	}
	names, err := platform.PerArchTags(tag, templates, tags)
	if err != nil {
		return nil, err
	}
	refs := make([]string, 0, len(names))
	for _, n := range names {
		r, err := sib.WithTag(ref, n)
		if err != nil {
			return nil, err
		}
		refs = append(refs, r)
	}
	return refs, nil
}

// staleArchTag reports a per-arch tag that points to another image than
// the index's entry for its platform.
func staleArchTag(ref string, index *tree.Node, sibling string, sib *tree.Node) []Finding {
	if index == nil || sib == nil || index.Index == nil {
		return nil
	}
	entries := index.Images()
	named, _ := platform.FromTag(tagOf(sibling))
	var out []Finding
	for _, img := range sib.Images() {
		p := configOrClaimed(img)
		if p == nil || !named.Matches(*p) {
			// A sibling holding another architecture than its name says
			// is a tag-platform-mismatch, not a stale copy.
			continue
		}
		for _, e := range entries {
			claimed := toSpec(e.Descriptor.Platform)
			if platform.Empty(claimed) || !platform.Same(*claimed, *p) || e.Descriptor.Digest == img.Descriptor.Digest {
				continue
			}
			info := StaleArchTag.Info()
			out = append(out, Finding{
				Ref: sibling, Digest: img.Descriptor.Digest.String(), Code: StaleArchTag, Severity: info.Severity, Platform: platform.Format(p),
				Message: fmt.Sprintf("%s holds %s, but %s lists %s for %s", tagName(sibling), shortDigest(img.Descriptor.Digest.String()), tagName(ref), shortDigest(e.Descriptor.Digest.String()), platform.Format(p)),
				Hint:    info.Hint,
			})
		}
	}
	return out
}

// mirrorDrift compares a tag with its copy in a mirror.
func mirrorDrift(ref string, source *tree.Node, mirror string, copy *tree.Node, fetchErr error) []Finding {
	info := MirrorDrift.Info()
	finding := func(platform, msg string) Finding {
		return Finding{Ref: mirror, Code: MirrorDrift, Severity: info.Severity, Platform: platform, Message: msg, Hint: info.Hint}
	}
	if errors.Is(fetchErr, tree.ErrMissing) {
		return []Finding{finding("", fmt.Sprintf("the mirror has no %s, which %s has", tagName(mirror), ref))}
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
			out = append(out, finding(key, fmt.Sprintf("the mirror lacks %s, which %s has (%s)", key, ref, shortDigest(digest))))
		case got != digest:
			out = append(out, finding(key, fmt.Sprintf("%s is %s in the mirror but %s in %s", key, shortDigest(got), shortDigest(digest), ref)))
		}
	}
	return out
}

// configOrClaimed is what an image is: its config's platform, else what
// its index claims.
func configOrClaimed(n *tree.Node) *specs.Platform {
	if n.Config != nil {
		p := &specs.Platform{OS: n.Config.OS, Architecture: n.Config.Architecture, Variant: n.Config.Variant, OSVersion: n.Config.OSVersion}
		if !platform.Empty(p) {
			return p
		}
	}
	if p := toSpec(n.Descriptor.Platform); !platform.Empty(p) {
		return p
	}
	return nil
}

// claimedOrConfig is the platform clients select an image by: what the
// index claims, else (for a single image) its config.
func claimedOrConfig(n *tree.Node) *specs.Platform {
	if p := toSpec(n.Descriptor.Platform); !platform.Empty(p) {
		return p
	}
	return configOrClaimed(n)
}

// tagName is a reference's tag, or the reference when it has none.
func tagName(ref string) string {
	if t := tagOf(ref); t != "" {
		return ":" + t
	}
	return ref
}
