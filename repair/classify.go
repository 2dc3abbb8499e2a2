package repair

import (
	"errors"
	"fmt"

	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// existing reads what the target holds now: each image entry is kept,
// fixed, or held as faulty for a source or settleWrong to decide.
func (b *builder) existing() {
	cur := b.in.Current
	switch {
	case cur == nil:
		return
	case cur.Index == nil:
		cfg := configPlatform(cur)
		if cur.Err != nil || cfg == nil {
			b.out = append(b.out, Row{Platform: "unknown", Digest: cur.Descriptor.Digest.String(), Source: b.in.Target, Action: Drop, Reason: "the tag's single image could not be read: " + errString(cur.Err)})
			return
		}
		s := &slot{node: cur, from: b.in.Target, desc: entryDescriptor(cur, *cfg)}
		b.order = append(b.order, s)
		b.place(s, Keep, "the tag's single image, now an entry of the index")
		return
	}
	for _, child := range cur.Children {
		s := &slot{desc: child.Descriptor, node: child, from: b.in.Target}
		b.order = append(b.order, s)
		switch {
		case child.IsAttestation():
			b.atts = append(b.atts, s)
		case child.IsArtifact():
			// An artifact listed in the index (an SBOM, a signature) has
			// no platform by nature: kept as it is, never "fixed".
			s.row = Row{Platform: "(artifact)", Action: Keep, Reason: "artifact kept as it is"}
			b.slots = append(b.slots, s)
		case child.Index != nil:
			s.row = Row{Platform: "(nested index)", Action: Keep, Reason: "nested index kept as it is"}
			b.slots = append(b.slots, s)
			b.provideNested(s)
		default:
			b.classify(s)
		}
	}
}

// provideNested records the platforms a kept nested index provides, so
// that sources do not add them again beside it.
func (b *builder) provideNested(s *slot) {
	for _, img := range s.node.Images() {
		if p := img.Claimed(); !platform.Empty(p) {
			key := platform.Format(p)
			if _, ok := b.byKey[key]; !ok {
				b.byKey[key] = &slot{desc: img.Descriptor, from: s.from, within: s}
			}
		}
	}
}

// classify places an existing image entry, or holds it as faulty.
func (b *builder) classify(s *slot) {
	n := s.node
	claimed := n.Claimed()
	cfg := configPlatform(n)
	var mismatch *tree.DigestMismatchError
	switch {
	case errors.Is(n.Err, tree.ErrMissing):
		s.fault, s.why = broken, "is missing from the registry"
	case errors.As(n.Err, &mismatch):
		s.fault, s.why = broken, "does not match its digest"
	case n.Err != nil:
		s.fault, s.why = broken, "could not be read ("+n.Err.Error()+")"
	case platform.Empty(claimed) && b.in.Fix && cfg != nil:
		s.desc.Platform = platform.ToV1(platform.Canonical(*cfg))
		b.place(s, Fix, "had no platform; set from its config")
		return
	case platform.Empty(claimed):
		s.fault, s.why = unlabelled, "has no platform"
	case cfg != nil && !platform.Agrees(*claimed, *cfg):
		s.fault, s.why = mislabelled, fmt.Sprintf("is listed as %s but its config says %s", platform.Format(claimed), platform.Format(cfg))
	default:
		if why := platform.Noncanonical(*claimed); why != "" {
			if b.in.Fix {
				s.desc.Platform = platform.ToV1(platform.Canonical(*claimed))
				b.place(s, Fix, "rewritten: "+why)
			} else {
				b.place(s, Keep, why+" (fixing rewrites it)")
			}
			return
		}
		b.place(s, Keep, "correct")
		return
	}
	s.row = Row{Platform: platform.Format(claimed), Action: Keep, Reason: "its manifest " + s.why}
	b.slots = append(b.slots, s)
}

// place puts a correct entry in the index under its platform, minding
// duplicates.
func (b *builder) place(s *slot, action Action, reason string) {
	key := s.key()
	s.row = Row{Platform: key, Action: action, Reason: reason}
	if first, ok := b.byKey[key]; ok && first.node != nil && tree.CompressionVariants(first.node, s.node) {
		// podman's and buildah's zstd variant beside its gzip original:
		// one image, two compressions, listed apart on purpose so that
		// clients without zstd keep the gzip one. Not a duplicate.
		s.row.Reason = reason + "; " + compressionOf(s.node) + " variant of " + ref.ShortDigest(first.desc.Digest.String())
		b.slots = append(b.slots, s)
		return
	}
	if first, ok := b.byKey[key]; ok {
		if b.in.Fix {
			b.drop(s, "duplicates "+ref.ShortDigest(first.desc.Digest.String())+", which is kept")
			return
		}
		s.row.Reason = "duplicates " + ref.ShortDigest(first.desc.Digest.String()) + " (fixing drops it)"
		b.slots = append(b.slots, s)
		return
	}
	b.byKey[key] = s
	b.slots = append(b.slots, s)
}

func (b *builder) drop(s *slot, reason string) {
	s.dropped = true
	b.out = append(b.out, Row{Platform: s.key(), Digest: s.desc.Digest.String(), Source: s.from, Action: Drop, Reason: reason, Attestation: tree.IsAttestation(s.desc)})
}

// settleWrong decides the faulty existing entries no source replaced:
// with Fix, a mislabelled entry is relabelled from its config (or dropped
// when that platform is already provided) and the others are dropped;
// without it they stay, and the plan's audit says what is still wrong.
func (b *builder) settleWrong() {
	for _, s := range b.slots {
		if s.fault == sound || s.origin != existing || s.dropped {
			continue
		}
		switch {
		case !b.in.Fix:
			s.row.Reason = "its manifest " + s.why + "; fixing, or a source image of this platform, would mend it"
		case s.fault == mislabelled:
			canon := platform.Canonical(*configPlatform(s.node))
			key := platform.Format(&canon)
			if have, ok := b.byKey[key]; ok {
				b.drop(s, "its config says "+key+", which "+ref.ShortDigest(have.desc.Digest.String())+" already provides")
				continue
			}
			s.desc.Platform = platform.ToV1(canon)
			s.row = Row{Platform: key, Action: Fix, Reason: "relabelled: it " + s.why}
			s.fault = sound
			b.byKey[key] = s
		default:
			b.drop(s, "its manifest "+s.why)
		}
	}
}

// compressionOf names how an image's layers are compressed ("zstd",
// "gzip"), the first layer that is not a plain tar deciding.
func compressionOf(n *tree.Node) string {
	for _, l := range n.Manifest.Layers {
		if c := tree.Compression(l.MediaType); c != "none" && c != "" {
			return c
		}
	}
	return "uncompressed"
}
