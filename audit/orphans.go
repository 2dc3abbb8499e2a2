package audit

import (
	"context"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/ref"
)

// orphan-referrer, a repository check (repository.go): a signature or
// referrers tag whose subject no tag of the repository reaches.

// orphanReferrers reports the signature and referrers tags of a walked
// repository whose subject no tag reaches (orphan-referrer). A subject
// is reached when it is a tag's manifest or below it, or an artifact a
// reached referrers index lists (an SBOM's own signature). For each
// subject not reached, one HEAD asks whether the repository still has
// it: gone, the tag is an orphan; still there, it is one only if every
// other tag of the repository was audited (a tag left out by --tags,
// --exclude-tags or as a backup might reach it) and every referrers tag of
// a reached subject was read (--include-signature-tags; it may list the
// subject as an artifact). A stored subject that is itself an artifact
// attached to a reached manifest is reached too: an SBOM attached through
// the referrers API (no tag lists it) whose signature is the candidate
// (one GET of the subject, made only where a finding would follow).
func (a *auditor) orphanReferrers(ctx context.Context, refs []ref.Ref, trees map[string]*summary) ([]Finding, error) {
	repo := refs[0].Repo()
	if !a.orphansChecked(repo) {
		return nil, nil
	}
	tags, err := a.tags(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("listing tags to find orphan referrers: %w", err)
	}
	type candidate struct {
		tag     string
		subject string
	}
	var candidates []candidate
	for _, t := range tags {
		if ref.IsSignatureTag(t) || ref.IsReferrersTag(t) {
			hex := strings.TrimPrefix(strings.SplitN(t, ".", 2)[0], "sha256-")
			candidates = append(candidates, candidate{tag: t, subject: "sha256:" + hex})
		}
	}
	if len(candidates) == 0 {
		return nil, nil
	}

	reached := map[digest]bool{}
	reach := func(n *summary) {
		for _, d := range n.reaches {
			reached[d] = true
		}
	}
	audited := map[string]bool{}
	whole := true
	for _, r := range refs {
		audited[r.Tag] = true
		if ref.IsSignatureTag(r.Tag) || ref.IsReferrersTag(r.Tag) {
			continue
		}
		n := trees[r.String()]
		if n == nil {
			whole = false // a tag that could not be read may reach anything
			continue
		}
		reach(n)
	}
	for _, t := range tags {
		if !audited[t] && !ref.IsSignatureTag(t) && !ref.IsReferrersTag(t) {
			whole = false
		}
	}
	read := func(tag string) bool {
		at, err := repo.WithTag(tag)
		return err == nil && trees[at.String()] != nil
	}
	// Referrers of reached subjects reach what they list, as far as the
	// walk read them (with --include-signature-tags).
	expanded := map[string]bool{}
	for grew := true; grew; {
		grew = false
		for _, c := range candidates {
			at, err := repo.WithTag(c.tag)
			if err != nil || expanded[c.tag] || !reached[parseDigest(c.subject)] {
				continue
			}
			if n := trees[at.String()]; n != nil {
				expanded[c.tag], grew = true, true
				reach(n)
			}
		}
	}
	// A referrers tag of a reached subject that the walk did not read
	// (signature and referrers tags are skipped by default) may list the
	// artifact an unreached subject is: an SBOM whose own signature is
	// the candidate.
	for _, c := range candidates {
		if ref.IsReferrersTag(c.tag) && reached[parseDigest(c.subject)] && !read(c.tag) {
			whole = false
		}
	}

	res, canResolve := a.src.(Resolver)
	gone := map[string]*bool{}
	var out []Finding
	info := OrphanReferrer.Info()
	for _, c := range candidates {
		if reached[parseDigest(c.subject)] {
			continue
		}
		g, asked := gone[c.subject]
		if !asked && canResolve {
			got, err := res.Resolve(ctx, repo.WithDigest(c.subject))
			if err != nil {
				return out, fmt.Errorf("checking the subject of %s: %w", c.tag, err)
			}
			isGone := got == ""
			g = &isGone
			gone[c.subject] = g
		}
		at, err := repo.WithTag(c.tag)
		if err != nil {
			continue
		}
		if g != nil && !*g && a.attachedToReached(ctx, repo, c.subject, reached) {
			continue
		}
		what := "referrers tag"
		if ref.IsSignatureTag(c.tag) {
			what = "cosign tag"
		}
		var msg string
		switch {
		case g != nil && *g:
			msg = fmt.Sprintf("the %s %s names the subject %s, which %s no longer has: it was deleted after a retag or a rebuilt index", what, c.tag, ref.ShortDigest(c.subject), repo)
		case whole:
			msg = fmt.Sprintf("the %s %s names the subject %s, which no tag of %s reaches: the tag that held it was moved (a retag or a rebuilt index)", what, c.tag, ref.ShortDigest(c.subject), repo)
		default:
			continue // a tag that was not audited may reach it
		}
		f := Finding{Ref: at, Code: OrphanReferrer, Severity: info.Severity, Message: msg, Hint: info.Hint}
		if n := trees[at.String()]; n != nil {
			f.Digest = n.digest
		}
		out = append(out, f)
	}
	return out, nil
}

// maxSubjectChain bounds how many subjects attachedToReached follows: an
// SBOM's signature's attestation is three; a registry that makes a loop
// of subjects stops here.
const maxSubjectChain = 4

// attachedToReached reports whether the manifest at, which no walked tag
// reaches, is an artifact whose subject (or its subject's, and so on) is
// reached: what the referrers API lists without any tag.
func (a *auditor) attachedToReached(ctx context.Context, repo ref.Ref, at string, reached map[digest]bool) bool {
	for range maxSubjectChain {
		n, err := a.fetch(ctx, repo.WithDigest(at))
		if err != nil || n == nil {
			return false
		}
		subject := n.Subject()
		if subject == (v1.Hash{}) {
			return false
		}
		if reached[digestOf(subject)] {
			return true
		}
		at = subject.String()
	}
	return false
}
