package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

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
		var others []*tree.Node
		current := false
		for _, e := range entries {
			claimed := e.Claimed()
			if platform.Empty(claimed) || !platform.Same(*claimed, *p) {
				continue
			}
			// The index may list the image twice, once per compression
			// (podman's zstd variant): the sibling is current if it is
			// either.
			if e.Descriptor.Digest == img.Descriptor.Digest || tree.CompressionVariants(e, img) {
				current = true
			}
			others = append(others, e)
		}
		if current {
			continue
		}
		for _, e := range others {
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
	// A platform may have several entries (compression variants), so the
	// copy's entries are kept by platform, every digest.
	have := map[string][]string{}
	for _, img := range copy.Images() {
		if p := claimedOrConfig(img); p != nil {
			key := platform.Format(p)
			have[key] = append(have[key], img.Descriptor.Digest.String())
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
		case !slices.Contains(got, digest):
			out = append(out, finding(key, fmt.Sprintf("%s is %s in the mirror but %s in %s", key, ref.ShortDigest(got[0]), ref.ShortDigest(digest), r)))
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

// siblingNotListed reports a per-arch sibling tag holding a platform the
// multi-arch tag has no entry for (missing-platform), with nothing
// required: the sibling says the platform was built, so the tag lost it.
// This is the AIBrix case: a single arm64 image pushed over the multi-arch
// tag, with its -amd64 sibling still next to it. A platform already
// reported missing (--require) is not reported again. img is the tag's
// report, which gains the platform as inferred and a missing row.
func siblingNotListed(img *Image, found []Finding, r ref.Ref, root *tree.Node, sibling ref.Ref, sib *tree.Node) []Finding {
	if root == nil || sib == nil || root.IsArtifact() || (root.Index == nil && root.Manifest == nil) {
		return nil
	}
	named, ok := platform.FromTag(sibling.Tag)
	if !ok {
		return nil
	}
	var have []*platform.Platform
	var names []string
	for _, e := range root.Images() {
		if p := claimedOrConfig(e); p != nil {
			have = append(have, p)
			names = append(names, platform.Format(p))
		}
	}
	listed := func(p *platform.Platform) bool {
		for _, h := range have {
			if platform.Same(*h, *p) || platform.Agrees(*h, *p) || platform.Agrees(*p, *h) {
				return true
			}
		}
		return false
	}
	reported := func(key string) bool {
		for _, f := range found {
			if f.Code == MissingPlatform && f.Platform == key && f.Ref.Equal(r) {
				return true
			}
		}
		return slices.Contains(img.Inferred, key)
	}
	holds := "has no entry for it (it has " + strings.Join(names, ", ") + ")"
	if root.Index == nil {
		holds = "holds a single " + strings.Join(names, ", ") + " image"
	}
	if len(names) == 0 {
		holds = "has no platforms"
	}
	var out []Finding
	info := MissingPlatform.Info()
	for _, e := range sib.Images() {
		p := configOrClaimed(e)
		if p == nil || !named.Matches(*p) || listed(p) {
			continue
		}
		key := platform.Format(p)
		if reported(key) {
			continue
		}
		img.Inferred = append(img.Inferred, key)
		img.Platforms = append(img.Platforms, PlatformEntry{Platform: key, Status: StatusMissing})
		out = append(out, Finding{
			Ref: r, Digest: root.Descriptor.Digest.String(), Code: MissingPlatform, Severity: info.Severity, Platform: key,
			Message: fmt.Sprintf("the per-arch tag %s holds %s, but %s %s: the multi-arch tag lost a platform that was built", sibling.Brief(r), key, r, holds),
			Hint:    info.Hint,
		})
	}
	return out
}

// mirrorSignatures reports what refers to the source's manifests but not
// to the mirror's copies of them (mirror-drift): cosign's tags
// (sha256-<hex>.sig, .att, .sbom) and OCI 1.1 referrers (signatures,
// SBOMs, attestations), compared for each manifest both hold by digest
// (a manifest the mirror lacks is already reported). Copying without
// them (`skopeo copy --all` without --preserve-signatures, `crane copy`)
// leaves a mirror whose images no verifier admits. It needs a source
// that lists tags ([Siblings]) and referrers ([Referrers]); referrers are
// asked only for manifests that have some in the source.
func (a *auditor) mirrorSignatures(ctx context.Context, r ref.Ref, source *tree.Node, mirror ref.Ref, copy *tree.Node) ([]Finding, error) {
	if source == nil || copy == nil || source.IsArtifact() {
		return nil, nil
	}
	if _, ok := a.src.(Siblings); !ok {
		return nil, nil
	}
	inCopy := map[string]bool{copy.Descriptor.Digest.String(): true}
	copy.Walk(func(_, c *tree.Node, _ bool) { inCopy[c.Descriptor.Digest.String()] = true })
	digests := []string{source.Descriptor.Digest.String()}
	seen := map[string]bool{digests[0]: true}
	for _, img := range source.Images() {
		if d := img.Descriptor.Digest.String(); !seen[d] {
			seen[d] = true
			digests = append(digests, d)
		}
	}
	srcTags, err := a.tags(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("listing tags to compare signatures: %w", err)
	}
	mirrorTags, err := a.tags(ctx, mirror)
	if err != nil {
		return nil, fmt.Errorf("listing tags to compare signatures: %w", err)
	}
	info := MirrorDrift.Info()
	var out []Finding
	for _, d := range digests {
		if !inCopy[d] {
			continue
		}
		for _, t := range ref.SignatureTags(d) {
			if slices.Contains(srcTags, t) && !slices.Contains(mirrorTags, t) {
				out = append(out, Finding{Ref: mirror, Digest: d, Code: MirrorDrift, Severity: info.Severity, Hint: info.Hint,
					Message: fmt.Sprintf("the mirror lacks the cosign tag %s of %s, which %s has: the copy lost its signature, attestation or SBOM", t, ref.ShortDigest(d), r.Repo())})
			}
		}
		want, err := a.referrers(ctx, r, d)
		if err != nil {
			return out, fmt.Errorf("listing the referrers of %s: %w", r.WithDigest(d), err)
		}
		if len(want) == 0 {
			continue
		}
		got, err := a.referrers(ctx, mirror, d)
		if err != nil {
			return out, fmt.Errorf("listing the referrers of %s: %w", mirror.WithDigest(d), err)
		}
		have := map[string]bool{}
		for _, g := range got {
			have[g.Digest.String()] = true
		}
		for _, w := range want {
			if have[w.Digest.String()] {
				continue
			}
			kind := w.ArtifactType
			if kind == "" {
				kind = string(w.MediaType)
			}
			out = append(out, Finding{Ref: mirror, Digest: d, Code: MirrorDrift, Severity: info.Severity, Hint: info.Hint,
				Message: fmt.Sprintf("the mirror lacks the referrer %s (%s) of %s, which %s has: the copy lost its signatures or attachments", ref.ShortDigest(w.Digest.String()), kind, ref.ShortDigest(d), r.Repo())})
		}
	}
	return out, nil
}
