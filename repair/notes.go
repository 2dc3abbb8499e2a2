package repair

import "fmt"

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
