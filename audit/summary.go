package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// What the repository checks (repository.go) keep of each audited tree:
// a summary recorded when the reference is audited, so the tree itself
// can be let go.

// summary is what the repository checks need of one audited reference's
// tree.
type summary struct {
	digest string
	// release says the tree is a release's image or index; platforms are
	// then the platforms it holds (releasePlatforms), single whether it
	// is a single image rather than an index.
	release   bool
	single    bool
	platforms []string
	// reaches lists the digests of the tree's manifests, the root and
	// everything below it (orphan-referrer), when the orphan check may
	// run on its repository.
	reaches []digest
}

// digest is a manifest digest as a set member, with no pointer for the
// collector to follow: a sha256 digest's 32 bytes, another algorithm's
// digest hashed (summaries of tens of thousands of tags add up).
type digest [sha256.Size]byte

func digestOf(h v1.Hash) digest {
	var d digest
	if b, err := hex.DecodeString(h.Hex); h.Algorithm == "sha256" && err == nil && len(b) == len(d) {
		copy(d[:], b)
		return d
	}
	return sha256.Sum256([]byte(h.String()))
}

// parseDigest is digestOf for a digest written out ("sha256:<hex>").
func parseDigest(s string) digest {
	if h, err := v1.NewHash(s); err == nil {
		return digestOf(h)
	}
	return sha256.Sum256([]byte(s))
}

// summarize records what the repository checks need of r's tree.
func (a *auditor) summarize(r ref.Ref, n *tree.Node) {
	s := &summary{digest: n.Descriptor.Digest.String()}
	if _, ok := parseRelease(r.Tag); ok && r.Digest == "" && !n.IsArtifact() && (n.Index != nil || n.Manifest != nil) {
		s.release, s.single = true, n.Index == nil
		s.platforms = releasePlatforms(n)
	}
	if a.orphansChecked(r.Repo()) {
		seen := map[v1.Hash]bool{n.Descriptor.Digest: true}
		s.reaches = append(s.reaches, digestOf(n.Descriptor.Digest))
		n.Walk(func(_, c *tree.Node, _ bool) {
			if d := c.Descriptor.Digest; !seen[d] {
				seen[d] = true
				s.reaches = append(s.reaches, digestOf(d))
			}
		})
		s.reaches = slices.Clip(s.reaches)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.summaries == nil {
		a.summaries = map[string]*summary{}
	}
	if _, ok := a.summaries[r.String()]; !ok {
		a.summaries[r.String()] = s
	}
}

// orphansChecked says whether orphanReferrers looks at repo at all.
func (a *auditor) orphansChecked(repo ref.Ref) bool {
	_, ok := a.src.(Siblings)
	return ok && (repo.Scheme == ref.Registry || repo.Scheme == ref.Layout)
}

// summarized returns the summaries of the trees the walk read for refs,
// by reference key; a reference that could not be read has none. Nothing
// is fetched again: every reference of a walk was summarized when it was
// audited.
func (a *auditor) summarized(refs []ref.Ref) map[string]*summary {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]*summary{}
	for _, r := range refs {
		if s := a.summaries[r.String()]; s != nil {
			out[r.String()] = s
		}
	}
	return out
}
