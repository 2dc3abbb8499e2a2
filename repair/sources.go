package repair

import (
	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// source weighs one source's images against the index. A source whose tag
// names an architecture its image is not is rejected whole.
func (b *builder) source(src Source) {
	_, findings, _ := audit.Check(src.Ref, src.Node, nil)
	for _, f := range findings {
		if f.Code == audit.TagPlatformMismatch {
			b.out = append(b.out, Row{Platform: f.Platform, Digest: f.Digest, Source: src.Ref, Action: Reject, Reason: string(f.Code) + ": " + f.Message})
			return
		}
	}
	images := []*tree.Node{src.Node}
	if src.Node.Index != nil {
		images = src.Node.Images()
		for _, c := range src.Node.Children {
			if c.IsAttestation() {
				b.srcAtt = append(b.srcAtt, &slot{desc: c.Descriptor, node: c, from: src.Ref})
			}
		}
	}
	for _, img := range images {
		b.offer(src.Ref, img)
	}
}

// offer considers one image from a source for the platform its config
// names: never the tag's or the source index's word for it.
func (b *builder) offer(from ref.Ref, img *tree.Node) {
	cfg := configPlatform(img)
	if img.Err != nil || cfg == nil {
		b.out = append(b.out, Row{Platform: "unknown", Digest: img.Descriptor.Digest.String(), Source: from, Action: Skip, Reason: "could not be read: " + errString(img.Err)})
		return
	}
	s := &slot{desc: entryDescriptor(img, *cfg), node: img, from: from}
	key := s.key()
	digest := s.desc.Digest.String()
	if have, ok := b.byKey[key]; ok {
		switch {
		case have.desc.Digest == s.desc.Digest:
			// The index already lists this very image.
		case have.within != nil:
			b.out = append(b.out, Row{Platform: key, Digest: digest, Source: from, Action: Skip, Reason: "the nested index " + ref.ShortDigest(have.within.desc.Digest.String()) + " provides it"})
		case have.origin != existing:
			b.out = append(b.out, Row{Platform: key, Digest: digest, Source: from, Action: Skip, Reason: "already taken from " + have.from.String()})
		case b.in.PreferSources:
			old := have.desc.Digest.String()
			*have = *s
			have.origin = replacing
			have.row = Row{Platform: key, Action: Replace, Reason: "replaces " + ref.ShortDigest(old) + " (sources preferred)"}
		default:
			b.out = append(b.out, Row{Platform: key, Digest: digest, Source: from, Action: Skip, Reason: "the index already has a correct entry, " + ref.ShortDigest(have.desc.Digest.String()) + " (preferring sources replaces it)"})
		}
		return
	}
	for _, w := range b.slots {
		if w.fault != sound && w.origin == existing && w.key() == key {
			old, why := w.desc.Digest.String(), w.why
			*w = *s
			w.origin = replacing
			w.row = Row{Platform: key, Action: Replace, Reason: "replaces " + ref.ShortDigest(old) + ", which " + why}
			b.byKey[key] = w
			return
		}
	}
	s.origin = appended
	s.row = Row{Platform: key, Action: Add, Reason: "missing from the index"}
	if b.in.Current == nil {
		s.row.Reason = "new index"
	}
	b.byKey[key] = s
	b.slots = append(b.slots, s)
}
