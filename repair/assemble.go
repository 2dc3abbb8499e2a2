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

// plan assembles the new index, audits it and returns the plan.
func (b *builder) plan() (*Plan, error) {
	p := &Plan{Target: b.in.Target, Dest: b.in.Target, Rows: []Row{}, Findings: []audit.Finding{}, Notes: []string{}}
	entries := b.entries()
	if len(entries) == 0 {
		return nil, fmt.Errorf("nothing is left to put in %s: every entry was dropped and no source provides a platform", b.in.Target)
	}
	im := &v1.IndexManifest{SchemaVersion: 2, MediaType: indexMediaType(entries)}
	if cur := b.in.Current; cur != nil && cur.Index != nil {
		im.Annotations = cur.Index.Annotations
	}
	dest := b.in.Current
	if b.in.Dest.Scheme != "" {
		p.Dest, dest = b.in.Dest, b.in.DestCurrent
	}
	if dest != nil {
		p.OldDigest = dest.Descriptor.Digest.String()
		p.OldIndex, p.OldMediaType = dest.Raw, dest.MediaType()
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
	p.Index, p.MediaType = raw, string(im.MediaType)
	digest, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	p.NewDigest = digest.String()
	p.Changed = p.NewDigest != p.OldDigest

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
	_, findings, problems := audit.Check(p.Dest, root, b.in.Require)
	p.Findings = append(p.Findings, findings...)
	for _, pr := range problems {
		p.Findings = append(p.Findings, audit.Finding{Ref: p.Dest, Code: audit.MissingChild, Severity: audit.Error, Message: pr.Error(), Hint: audit.MissingChild.Info().Hint})
	}
	p.Notes = b.signatureNotes(p, dest)
	return p, nil
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
