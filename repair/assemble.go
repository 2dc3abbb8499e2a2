package repair

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/tree"
)

// live returns the image entries that stay, existing order first, then
// additions ordered by the required platforms.
func (b *builder) live() []*slot {
	var kept, added []*slot
	for _, s := range b.slots {
		switch {
		case s.dropped:
		case s.origin == appended:
			added = append(added, s)
		default:
			kept = append(kept, s)
		}
	}
	sort.SliceStable(added, func(i, j int) bool { return b.rank(added[i]) < b.rank(added[j]) })
	return append(kept, added...)
}

// rank orders additions: required platforms in the order given, then the
// rest by name.
func (b *builder) rank(s *slot) string {
	for i, r := range b.in.Require {
		if platform.Same(r, *platform.FromV1(s.desc.Platform)) {
			return fmt.Sprintf("0%03d", i)
		}
	}
	return "1" + s.key()
}

// entries are the new index's entries: the existing ones that stay, in
// their order; then images added, by rank; then attestations added.
func (b *builder) entries() []*slot {
	attKept := map[*slot]bool{}
	for _, a := range b.atts {
		attKept[a] = true
	}
	var out, added []*slot
	for _, s := range b.order {
		if !s.dropped && (!tree.IsAttestation(s.desc) || attKept[s]) {
			out = append(out, s)
		}
	}
	for _, s := range b.live() {
		if s.origin == appended {
			added = append(added, s)
		}
	}
	out = append(out, added...)
	for _, a := range b.atts {
		if a.origin == appended {
			out = append(out, a)
		}
	}
	return out
}

// plan assembles the new manifest, audits it and returns the plan: an
// index; the target's single image kept as it is when nothing was added to
// it; or, for a per-arch tag, the one image its name promises (perarch.go).
func (b *builder) plan() (*Plan, error) {
	p, dest := b.newPlan()
	if named, ok := platform.FromTag(p.Dest.Tag); ok {
		return b.planPerArch(p, dest, named)
	}
	entries := b.entries()
	if len(entries) == 0 {
		return nil, fmt.Errorf("nothing is left to put in %s: every entry was dropped and no source provides a platform", b.in.Target)
	}
	if cur := b.in.Current; cur != nil && cur.Index == nil && len(entries) == 1 && entries[0].node == cur && entries[0].origin == existing {
		return b.planSingle(p, dest, cur), nil
	}
	im := &v1.IndexManifest{SchemaVersion: 2, MediaType: indexMediaType(entries)}
	if cur := b.in.Current; cur != nil && cur.Index != nil {
		im.Annotations = cur.Index.Annotations
	}
	for _, s := range entries {
		im.Manifests = append(im.Manifests, s.desc)
		p.Children = append(p.Children, Child{Digest: s.desc.Digest, MediaType: s.desc.MediaType, From: s.from})
		row := s.row
		row.Digest, row.Source = s.desc.Digest.String(), s.from
		p.Rows = append(p.Rows, row)
	}
	p.Rows = append(p.Rows, b.out...)

	raw, err := b.marshal(im)
	if err != nil {
		return nil, err
	}
	digest, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	p.setResult(raw, im.MediaType, digest.String())

	root := &tree.Node{Descriptor: v1.Descriptor{MediaType: im.MediaType, Digest: digest, Size: size}, Raw: raw, Index: im}
	for _, s := range entries {
		n := &tree.Node{Descriptor: s.desc}
		if s.node != nil {
			copied := *s.node
			copied.Descriptor = s.desc
			n = &copied
		}
		root.Children = append(root.Children, n)
	}
	b.judge(p, root, b.in.Require)
	b.finish(p, dest)
	return p, nil
}

// newPlan starts a plan: where the result goes, and what that holds now.
func (b *builder) newPlan() (*Plan, *tree.Node) {
	p := &Plan{Target: b.in.Target, Dest: b.in.Target, Rows: []Row{}, Findings: []audit.Finding{}, Notes: []string{}}
	dest := b.in.Current
	if b.in.Dest.Scheme != "" {
		p.Dest, dest = b.in.Dest, b.in.DestCurrent
	}
	if dest != nil {
		p.OldDigest = dest.Descriptor.Digest.String()
		p.OldManifest, p.OldMediaType = dest.Raw, dest.MediaType()
	}
	return p, dest
}

// setResult records the new manifest.
func (p *Plan) setResult(raw []byte, mt types.MediaType, digest string) {
	p.Manifest, p.MediaType, p.NewDigest = raw, string(mt), digest
	p.Changed = p.NewDigest != p.OldDigest
}

// planSingle keeps the target's single image as it is: nothing was added
// to it, so wrapping it in a one-entry index would only change its digest.
func (b *builder) planSingle(p *Plan, dest, cur *tree.Node) *Plan {
	p.Rows = append(p.Rows, Row{Platform: platform.Format(configPlatform(cur)), Digest: cur.Descriptor.Digest.String(), Source: b.in.Target, Action: Keep, Reason: "the tag's single image, left as it is: nothing was added to it"})
	p.Rows = append(p.Rows, b.out...)
	p.Children = []Child{{Digest: cur.Descriptor.Digest, MediaType: cur.MediaType(), From: b.in.Target}}
	p.setResult(cur.Raw, cur.MediaType(), cur.Descriptor.Digest.String())
	if len(b.in.Sources) == 0 && len(b.in.Require) == 0 {
		p.Notes = append(p.Notes, b.in.Target.String()+" holds a single "+platform.Format(configPlatform(cur))+" image and nothing says what else it must hold: name the platforms it must hold, and images to take them from")
	}
	b.judge(p, cur, b.in.Require)
	b.finish(p, dest)
	return p
}

// judge audits the new manifest against the requirements; the plan is OK
// only if it leaves no error.
func (b *builder) judge(p *Plan, root *tree.Node, require []platform.Platform) {
	_, findings, problems := audit.Check(p.Dest, root, require)
	p.Findings = append(p.Findings, findings...)
	for _, pr := range problems {
		p.Findings = append(p.Findings, audit.Finding{Ref: p.Dest, Code: audit.MissingChild, Severity: audit.Error, Message: pr.Error(), Hint: audit.MissingChild.Info().Hint})
	}
}

// finish adds what every plan shows: what the destination loses, and the
// signatures of its old manifest.
func (b *builder) finish(p *Plan, dest *tree.Node) {
	if b.in.Dest.Scheme != "" && dest != nil {
		kept := map[v1.Hash]bool{}
		for _, c := range p.Children {
			kept[c.Digest] = true
		}
		for _, img := range dest.Images() {
			if !kept[img.Descriptor.Digest] {
				plat := platform.Format(claimedOrConfig(img))
				p.Rows = append(p.Rows, Row{Platform: plat, Digest: img.Descriptor.Digest.String(), Source: p.Dest, Action: Lose,
					Reason: "the destination holds it now; the new manifest does not"})
			}
		}
	}
	p.Notes = append(p.Notes, b.signatureNotes(p, dest)...)
}

// marshal writes the index, reusing the current bytes when nothing
// changed, so an unchanged index keeps its digest.
func (b *builder) marshal(im *v1.IndexManifest) ([]byte, error) {
	if cur := b.in.Current; cur != nil && cur.Index != nil && cur.MediaType() == im.MediaType &&
		reflect.DeepEqual(cur.Index.Manifests, im.Manifests) {
		return cur.Raw, nil
	}
	return json.Marshal(im)
}

// indexMediaType is a Docker manifest list when every entry is a Docker
// manifest (or list), else an OCI index.
func indexMediaType(entries []*slot) types.MediaType {
	for _, s := range entries {
		if s.desc.MediaType != types.DockerManifestSchema2 && s.desc.MediaType != types.DockerManifestList {
			return types.OCIImageIndex
		}
	}
	return types.DockerManifestList
}

// entryDescriptor describes an image for the new index, with the platform
// its config states, canonically spelled.
func entryDescriptor(n *tree.Node, cfg platform.Platform) v1.Descriptor {
	return v1.Descriptor{
		MediaType: n.MediaType(),
		Size:      n.Descriptor.Size,
		Digest:    n.Descriptor.Digest,
		Platform:  platform.ToV1(platform.Canonical(cfg)),
	}
}

// claimedOrConfig is the platform an entry is selected by: what its index
// claims, else its config's.
func claimedOrConfig(n *tree.Node) *platform.Platform {
	if p := n.Claimed(); !platform.Empty(p) {
		return p
	}
	return configPlatform(n)
}

// configPlatform is what n's config states, or nil when it was not read or
// states nothing.
func configPlatform(n *tree.Node) *platform.Platform {
	if p := n.ConfigPlatform(); !platform.Empty(p) {
		return p
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return "no config"
	}
	return err.Error()
}
