package repair

import (
	"fmt"

	"github.com/mlaudit/mlaudit/tree"
)

// signatureNotes warns about cosign signature tags of the digest the
// destination holds now: a new index has a new digest, and they do not
// follow it. Nothing is said when nothing moves, or when the destination
// is in another repository than the one whose tags are known.
func (b *builder) signatureNotes(p *Plan, dest *tree.Node) []string {
	notes := []string{}
	if dest == nil || !p.Changed || !p.Dest.SameRepository(b.in.Target) {
		return notes
	}
	old := dest.Descriptor.Digest
	prefix := old.Algorithm + "-" + old.Hex
	for _, tag := range b.in.Tags {
		for _, suffix := range []string{".sig", ".att", ".sbom"} {
			if tag == prefix+suffix {
				notes = append(notes, fmt.Sprintf("tag %s is attached to the old digest and will not follow a new index: sign or attest %s again after applying", tag, p.Dest))
			}
		}
	}
	return notes
}
