package repair

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// attestations keeps attestations whose image stays, adds those of source
// images that were added, and drops those whose image left. Reference
// entries of other types that name no image stay.
func (b *builder) attestations() {
	kept := map[string]bool{}
	for _, s := range b.live() {
		kept[s.desc.Digest.String()] = true
	}
	present := map[v1.Hash]bool{}
	var atts []*slot
	for _, a := range b.atts {
		subject := a.desc.Annotations[tree.AnnotationReferenceDigest]
		if subject == "" && a.desc.Annotations[tree.AnnotationReferenceType] != tree.AttestationManifest {
			// A reference entry of another type that names no subject
			// belongs to the index, not to one image (the audit does not
			// call it an orphan either): it stays.
			a.row = Row{Platform: "unknown", Action: Keep, Reason: "a " + a.desc.Annotations[tree.AnnotationReferenceType] + " entry of the index", Attestation: true}
			present[a.desc.Digest] = true
			atts = append(atts, a)
			continue
		}
		if !kept[subject] {
			b.drop(a, "attests "+ref.ShortDigest(subject)+", which is not in the new index")
			continue
		}
		a.row = Row{Platform: "unknown", Action: Keep, Reason: "attests " + ref.ShortDigest(subject), Attestation: true}
		present[a.desc.Digest] = true
		atts = append(atts, a)
	}
	for _, a := range b.srcAtt {
		subject := a.desc.Annotations[tree.AnnotationReferenceDigest]
		if kept[subject] && !present[a.desc.Digest] {
			a.row = Row{Platform: "unknown", Action: Add, Reason: "attests " + ref.ShortDigest(subject), Attestation: true}
			a.origin = appended
			present[a.desc.Digest] = true
			atts = append(atts, a)
		}
	}
	b.atts = atts
}
