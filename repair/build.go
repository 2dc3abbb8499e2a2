package repair

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/tree"
)

// Input is what a repair starts from.
type Input struct {
	// Target is the tag to make whole.
	Target string
	// Current is what Target holds now; nil when the tag does not exist.
	Current *tree.Node
	// Sources are images or indexes to take platforms from, most preferred
	// first.
	Sources []Source
	// Require lists the platforms the result must provide.
	Require []specs.Platform
	// Fix rewrites wrong or non-canonical entry platforms from their
	// configs, drops entries whose child is missing, and drops duplicates
	// (keeping the first correct one).
	Fix bool
	// PreferSources lets a source replace an existing entry that is
	// correct.
	PreferSources bool
	// Tags are the tags of Target's repository, to find cosign signatures
	// attached to the old digest.
	Tags []string
	// Dest, when set, is where the result goes instead of Target, and
	// DestCurrent what it holds now (nil when it does not exist).
	Dest        string
	DestCurrent *tree.Node
}

// Source is an image or index to take platforms from.
type Source struct {
	// Ref is its full reference.
	Ref string
	// Node is what it holds.
	Node *tree.Node
}

// Build computes the plan for in. It reads only what in holds.
func Build(in Input) (*Plan, error) {
	if in.Current == nil && len(in.Sources) == 0 {
		return nil, fmt.Errorf("%s does not exist and no sources were given: name images with --from or --per-arch", in.Target)
	}
	b := &builder{in: in, byKey: map[string]*slot{}}
	b.existing()
	for _, src := range in.Sources {
		b.source(src)
	}
	b.settleWrong()
	b.attestations()
	return b.plan()
}

// slot is one entry of the index being built.
type slot struct {
	desc v1.Descriptor
	node *tree.Node
	from string
	row  Row
	// problem says what is wrong with an existing entry ("" for nothing);
	// kind is "broken", "mismatch" or "noplatform".
	problem, kind string
	added         bool
	dropped       bool
}

type builder struct {
	in     Input
	slots  []*slot // existing entries, in index order, then additions
	byKey  map[string]*slot
	atts   []*slot // attestations, existing first
	srcAtt []*slot // attestations offered by source indexes
	out    []Row   // entries and sources left out
}

// existing reads what the target holds now.
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
		b.place(s, Keep, "the tag's single image, now an entry of the index")
		return
	}
	for _, child := range cur.Children {
		s := &slot{desc: child.Descriptor, node: child, from: b.in.Target}
		switch {
		case child.IsAttestation():
			b.atts = append(b.atts, s)
		case child.Index != nil:
			s.row = Row{Platform: "(nested index)", Action: Keep, Reason: "nested index kept as it is"}
			b.slots = append(b.slots, s)
		default:
			b.classify(s)
		}
	}
}

// classify places an existing image entry, or holds it as wrong.
func (b *builder) classify(s *slot) {
	n := s.node
	claimed := toSpec(s.desc.Platform)
	cfg := configPlatform(n)
	var mismatch *tree.DigestMismatchError
	switch {
	case errors.Is(n.Err, tree.ErrMissing):
		s.kind, s.problem = "broken", "is missing from the registry"
	case errors.As(n.Err, &mismatch):
		s.kind, s.problem = "broken", "does not match its digest"
	case n.Err != nil:
		s.kind, s.problem = "broken", "could not be read ("+n.Err.Error()+")"
	case platform.Empty(claimed) && b.in.Fix && cfg != nil:
		s.desc.Platform = toV1(platform.Canonical(*cfg))
		b.place(s, Fix, "had no platform; set from its config")
		return
	case platform.Empty(claimed):
		s.kind, s.problem = "noplatform", "has no platform"
	case cfg != nil && !platform.Agrees(*claimed, *cfg):
		s.kind, s.problem = "mismatch", fmt.Sprintf("is listed as %s but its config says %s", platform.Format(claimed), platform.Format(cfg))
	default:
		if why := platform.Noncanonical(*claimed); why != "" {
			if b.in.Fix {
				s.desc.Platform = toV1(platform.Canonical(*claimed))
				b.place(s, Fix, "rewritten: "+why)
			} else {
				b.place(s, Keep, why+" (--fix rewrites it)")
			}
			return
		}
		b.place(s, Keep, "correct")
		return
	}
	s.row = Row{Platform: platform.Format(claimed), Action: Keep, Reason: "its manifest " + s.problem}
	b.slots = append(b.slots, s)
}

// place puts a correct entry in the index under its platform, minding
// duplicates.
func (b *builder) place(s *slot, action Action, reason string) {
	key := platform.Format(toSpec(s.desc.Platform))
	s.row = Row{Platform: key, Action: action, Reason: reason}
	if first, ok := b.byKey[key]; ok {
		if b.in.Fix {
			b.drop(s, "duplicates "+short(first.desc.Digest)+", which is kept")
			return
		}
		s.row.Reason = "duplicates " + short(first.desc.Digest) + " (--fix drops it)"
		b.slots = append(b.slots, s)
		return
	}
	b.byKey[key] = s
	b.slots = append(b.slots, s)
}

func (b *builder) drop(s *slot, reason string) {
	s.dropped = true
	b.out = append(b.out, Row{Platform: platform.Format(toSpec(s.desc.Platform)), Digest: s.desc.Digest.String(), Source: s.from, Action: Drop, Reason: reason, Attestation: s.desc.Annotations[tree.AnnotationReferenceType] == tree.AttestationManifest})
}

// source weighs one source's images against the index.
func (b *builder) source(src Source) {
	if _, findings, _ := audit.Check(src.Ref, src.Node, nil); len(findings) > 0 {
		for _, f := range findings {
			if f.Code == audit.TagPlatformMismatch {
				b.out = append(b.out, Row{Platform: f.Platform, Digest: f.Digest, Source: src.Ref, Action: Reject, Reason: string(f.Code) + ": " + f.Message})
				return
			}
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
func (b *builder) offer(from string, img *tree.Node) {
	cfg := configPlatform(img)
	if img.Err != nil || cfg == nil {
		b.out = append(b.out, Row{Platform: "unknown", Digest: img.Descriptor.Digest.String(), Source: from, Action: Skip, Reason: "could not be read: " + errString(img.Err)})
		return
	}
	desc := entryDescriptor(img, *cfg)
	key := platform.Format(toSpec(desc.Platform))
	s := &slot{desc: desc, node: img, from: from}
	if have, ok := b.byKey[key]; ok {
		switch {
		case have.desc.Digest == desc.Digest:
			// The index already lists this very image.
		case have.added:
			b.out = append(b.out, Row{Platform: key, Digest: desc.Digest.String(), Source: from, Action: Skip, Reason: "already taken from " + have.from})
		case b.in.PreferSources:
			old := have.desc.Digest
			*have = *s
			have.added = true
			have.row = Row{Platform: key, Action: Replace, Reason: "replaces " + short(old) + " (--prefer-sources)"}
		default:
			b.out = append(b.out, Row{Platform: key, Digest: desc.Digest.String(), Source: from, Action: Skip, Reason: "the index already has a correct entry, " + short(have.desc.Digest) + " (--prefer-sources replaces it)"})
		}
		return
	}
	for _, w := range b.slots {
		if w.kind != "" && !w.added && platform.Format(toSpec(w.desc.Platform)) == key {
			old, why := w.desc.Digest, w.problem
			*w = *s
			w.added = true
			w.row = Row{Platform: key, Action: Replace, Reason: "replaces " + short(old) + ", which " + why}
			b.byKey[key] = w
			return
		}
	}
	s.added = true
	s.row = Row{Platform: key, Action: Add, Reason: "missing from the index"}
	if b.in.Current == nil {
		s.row.Reason = "new index"
	}
	b.byKey[key] = s
	b.slots = append(b.slots, s)
}

// settleWrong decides the existing entries that are wrong and were not
// replaced by a source.
func (b *builder) settleWrong() {
	for _, s := range b.slots {
		if s.kind == "" || s.added || s.dropped {
			continue
		}
		switch {
		case !b.in.Fix:
			s.row.Reason = "its manifest " + s.problem + "; --fix, or --from an image of this platform, would mend it"
		case s.kind == "mismatch":
			canon := platform.Canonical(*configPlatform(s.node))
			key := platform.Format(&canon)
			if have, ok := b.byKey[key]; ok {
				b.drop(s, "its config says "+key+", which "+short(have.desc.Digest)+" already provides")
				continue
			}
			s.desc.Platform = toV1(canon)
			s.row = Row{Platform: key, Action: Fix, Reason: "relabelled: it " + s.problem}
			s.kind = ""
			b.byKey[key] = s
		default:
			b.drop(s, "its manifest "+s.problem)
		}
	}
}

// attestations keeps attestations whose image stays, adds those of source
// images that were added, and drops those whose image left.
func (b *builder) attestations() {
	kept := map[string]bool{}
	for _, s := range b.live() {
		kept[s.desc.Digest.String()] = true
	}
	present := map[v1.Hash]bool{}
	var atts []*slot
	for _, a := range b.atts {
		subject := a.desc.Annotations[tree.AnnotationReferenceDigest]
		if !kept[subject] {
			b.drop(a, "attests "+shortString(subject)+", which leaves the index")
			continue
		}
		a.row = Row{Platform: "unknown", Action: Keep, Reason: "attests " + shortString(subject), Attestation: true}
		present[a.desc.Digest] = true
		atts = append(atts, a)
	}
	for _, a := range b.srcAtt {
		subject := a.desc.Annotations[tree.AnnotationReferenceDigest]
		if kept[subject] && !present[a.desc.Digest] {
			a.row = Row{Platform: "unknown", Action: Add, Reason: "attests " + shortString(subject), Attestation: true}
			present[a.desc.Digest] = true
			atts = append(atts, a)
		}
	}
	b.atts = atts
}

// live returns the image entries that stay, existing order first, then
// additions ordered by the required platforms.
func (b *builder) live() []*slot {
	var existing, added []*slot
	for _, s := range b.slots {
		switch {
		case s.dropped:
		case s.added && b.isNew(s):
			added = append(added, s)
		default:
			existing = append(existing, s)
		}
	}
	sort.SliceStable(added, func(i, j int) bool { return b.rank(added[i]) < b.rank(added[j]) })
	return append(existing, added...)
}

// isNew reports whether s was appended (not put in an existing place).
func (b *builder) isNew(s *slot) bool { return s.row.Action == Add }

// rank orders additions: required platforms in the order given, then the
// rest by name.
func (b *builder) rank(s *slot) string {
	key := platform.Format(toSpec(s.desc.Platform))
	for i, r := range b.in.Require {
		if platform.Same(r, *toSpec(s.desc.Platform)) {
			return fmt.Sprintf("0%03d", i)
		}
	}
	return "1" + key
}

// plan assembles the new index, audits it and returns the plan.
func (b *builder) plan() (*Plan, error) {
	p := &Plan{Target: b.in.Target, Dest: b.in.Target, Rows: []Row{}, Findings: []audit.Finding{}, Notes: []string{}}
	var entries []*slot
	entries = append(entries, b.live()...)
	entries = append(entries, b.atts...)
	if len(entries) == 0 {
		return nil, fmt.Errorf("nothing is left to put in %s: every entry was dropped and no source provides a platform", b.in.Target)
	}
	im := &v1.IndexManifest{SchemaVersion: 2, MediaType: indexMediaType(entries)}
	if cur := b.in.Current; cur != nil && cur.Index != nil {
		im.Annotations = cur.Index.Annotations
	}
	dest := b.in.Current
	if b.in.Dest != "" {
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
		p.Findings = append(p.Findings, audit.Finding{Ref: b.in.Target, Code: audit.MissingChild, Severity: audit.Error, Message: pr.Error(), Hint: audit.MissingChild.Info().Hint})
	}
	p.Notes = b.signatureNotes()
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

// signatureNotes warns about cosign signature tags of the old digest: a
// new index has a new digest, and they do not follow it.
func (b *builder) signatureNotes() []string {
	notes := []string{}
	if b.in.Current == nil {
		return notes
	}
	old := b.in.Current.Descriptor.Digest
	prefix := old.Algorithm + "-" + old.Hex
	for _, tag := range b.in.Tags {
		for _, suffix := range []string{".sig", ".att", ".sbom"} {
			if tag == prefix+suffix {
				notes = append(notes, fmt.Sprintf("tag %s is attached to the old digest and will not follow a new index: sign or attest %s again after applying", tag, b.in.Target))
			}
		}
	}
	return notes
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
func entryDescriptor(n *tree.Node, cfg specs.Platform) v1.Descriptor {
	return v1.Descriptor{
		MediaType: n.MediaType(),
		Size:      n.Descriptor.Size,
		Digest:    n.Descriptor.Digest,
		Platform:  toV1(platform.Canonical(cfg)),
	}
}

func configPlatform(n *tree.Node) *specs.Platform {
	if n.Config == nil {
		return nil
	}
	p := &specs.Platform{OS: n.Config.OS, Architecture: n.Config.Architecture, Variant: n.Config.Variant, OSVersion: n.Config.OSVersion}
	if platform.Empty(p) {
		return nil
	}
	return p
}

func toSpec(p *v1.Platform) *specs.Platform {
	if p == nil {
		return nil
	}
	return &specs.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures}
}

func toV1(p specs.Platform) *v1.Platform {
	return &v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures}
}

func short(h v1.Hash) string { return shortString(h.String()) }

func shortString(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func errString(err error) string {
	if err == nil {
		return "no config"
	}
	return err.Error()
}
