package repair

import (
	"fmt"

	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// signatureNotes says what becomes of signatures: those of the old
// manifest (in.Signatures, gathered by Prepare) do not follow a new digest
// and are listed in the plan; those of the images the new manifest lists
// keep working, because the images keep their digests.
func (b *builder) signatureNotes(p *Plan, dest *tree.Node) []string {
	var notes []string
	if dest != nil && p.Changed {
		p.Signatures = b.in.Signatures
		if len(p.Signatures) > 0 {
			notes = append(notes, fmt.Sprintf("%d signature(s) or referrer(s) of the old manifest %s will not follow the new digest: sign %s again after applying",
				len(p.Signatures), ref.ShortDigest(p.OldDigest), p.Dest.WithDigest(p.NewDigest)))
		}
	}
	if !p.Dest.SameRepository(b.in.Target) {
		return notes
	}
	tags := map[string]bool{}
	for _, t := range b.in.Tags {
		tags[t] = true
	}
	kept := 0
	for _, c := range p.Children {
		if c.Digest.String() == p.NewDigest {
			continue
		}
		for _, t := range ref.SignatureTags(c.Digest.String()) {
			if tags[t] {
				kept++
			}
		}
	}
	if kept > 0 {
		notes = append(notes, fmt.Sprintf("%d signature tag(s) of the images the new manifest lists stay valid: the images keep their digests", kept))
	}
	return notes
}
