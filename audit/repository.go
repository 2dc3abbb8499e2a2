package audit

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// This file holds the checks that need a whole repository's tags, made
// once every tag of a repository walk was audited: platform-dropped (a
// release lost a platform its previous release had) and orphan-referrer (a
// signature or referrers tag whose subject no tag reaches). They read a
// summary of each tree the walk fetched, recorded when its reference was
// audited, so that the trees themselves need not be kept for the whole
// run; orphan-referrer adds at most one HEAD per subject it suspects.

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

// repoChecks are what the repository checks found for one Run: findings
// about an audited reference (by its key), and findings and errors about
// a target as a whole (tags that were not audited).
type repoChecks struct {
	byRef    map[string][]Finding
	byTarget map[int][]Finding
	errs     map[int][]TargetError
}

// repositories runs the repository checks on every repository a target
// walked (a repository, a registry's repositories, a layout), each
// repository once, in target order.
func (a *auditor) repositories(ctx context.Context, expanded []expansion) repoChecks {
	rc := repoChecks{byRef: map[string][]Finding{}, byTarget: map[int][]Finding{}, errs: map[int][]TargetError{}}
	done := map[string]bool{}
	for i, e := range expanded {
		if e.err != nil || e.target.IsImage() {
			continue
		}
		groups := map[string][]ref.Ref{}
		var order []string
		for _, r := range e.refs {
			key := r.Repo().String()
			if _, ok := groups[key]; !ok {
				order = append(order, key)
			}
			groups[key] = append(groups[key], r)
		}
		for _, key := range order {
			if done[key] {
				continue
			}
			done[key] = true
			refs := groups[key]
			trees := a.summarized(refs)
			for _, f := range platformsDropped(refs, trees) {
				k := f.Ref.String()
				rc.byRef[k] = append(rc.byRef[k], f)
			}
			found, err := a.orphanReferrers(ctx, refs, trees)
			if err != nil {
				rc.errs[i] = append(rc.errs[i], TargetError{Ref: refs[0].Repo(), Message: err.Error(), Err: err})
			}
			rc.byTarget[i] = append(rc.byTarget[i], found...)
		}
	}
	return rc
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

// release is a tag read as a version: "1.2.3", "v2.0.0-rc.1",
// "3.12-alpine"; at least two numeric parts, so that "1", a build number
// or a date is not taken for one. Tags are compared only within a series: the same number
// of numeric parts and the same flavour (the suffix that is not a
// pre-release: "alpine", "slim"), so "3.12" is never the release before
// "3.12.1", nor "3.12-alpine" before "3.13".
type release struct {
	tag    string
	nums   []int
	series string
	// pre is the pre-release ("rc.1"), "" for a release; preRank and
	// preNum order pre-releases: dev < alpha < beta < pre < rc.
	pre     string
	preRank int
	preNum  int
}

var (
	versionTag    = regexp.MustCompile(`^[vV]?(\d+(?:\.\d+){1,3})(?:[-_+](.+))?$`)
	preReleaseTag = regexp.MustCompile(`^(?i)(dev|alpha|a|beta|b|pre|preview|rc)[.\-_]?(\d*)$`)
	preRanks      = map[string]int{"dev": 1, "alpha": 2, "a": 2, "beta": 3, "b": 3, "pre": 4, "preview": 4, "rc": 5}
)

// parseRelease reads tag as a version, or false when it is none (latest,
// main, a per-arch tag, a signature tag).
func parseRelease(tag string) (release, bool) {
	if tag == "" || platform.NamesArch(tag) || ref.IsSignatureTag(tag) || ref.IsReferrersTag(tag) || ref.IsBackupTag(tag) {
		return release{}, false
	}
	m := versionTag.FindStringSubmatch(tag)
	if m == nil {
		return release{}, false
	}
	r := release{tag: tag}
	for _, s := range strings.Split(m[1], ".") {
		n, err := strconv.Atoi(s)
		if err != nil {
			return release{}, false
		}
		r.nums = append(r.nums, n)
	}
	r.series = strconv.Itoa(len(r.nums))
	if suffix := m[2]; suffix != "" {
		if p := preReleaseTag.FindStringSubmatch(suffix); p != nil {
			r.pre, r.preRank = suffix, preRanks[strings.ToLower(p[1])]
			r.preNum, _ = strconv.Atoi(p[2])
		} else {
			r.series += "-" + suffix
		}
	}
	return r, true
}

// compareReleases orders two releases of one series: by number, then a
// pre-release before its release.
func compareReleases(a, b release) int {
	if c := slices.Compare(a.nums, b.nums); c != 0 {
		return c
	}
	switch {
	case a.pre == "" && b.pre == "":
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	return cmp.Or(cmp.Compare(a.preRank, b.preRank), cmp.Compare(a.preNum, b.preNum), strings.Compare(a.pre, b.pre))
}

// platformsDropped reports each version tag that lacks a platform the
// release before it (in version order, within its series) holds
// (platform-dropped). Tags that are not versions, and trees that could
// not be read or are artifacts, are left out.
func platformsDropped(refs []ref.Ref, trees map[string]*summary) []Finding {
	series := map[string][]release{}
	at := map[string]ref.Ref{}
	for _, r := range refs {
		rel, ok := parseRelease(r.Tag)
		if !ok || r.Digest != "" {
			continue
		}
		n := trees[r.String()]
		if n == nil || !n.release {
			continue
		}
		series[rel.series] = append(series[rel.series], rel)
		at[rel.tag] = r
	}
	names := make([]string, 0, len(series))
	for s := range series {
		names = append(names, s)
	}
	slices.Sort(names)
	var out []Finding
	info := PlatformDropped.Info()
	for _, s := range names {
		rels := series[s]
		slices.SortFunc(rels, compareReleases)
		for k := 1; k < len(rels); k++ {
			prev, cur := at[rels[k-1].tag], at[rels[k].tag]
			prevTree, curTree := trees[prev.String()], trees[cur.String()]
			have, had := curTree.platforms, prevTree.platforms
			haveNames := have
			if len(haveNames) == 0 {
				haveNames = []string{"no platforms"}
			}
			for _, key := range had {
				if slices.Contains(have, key) {
					continue
				}
				holds := "has no entry for it (it has " + strings.Join(haveNames, ", ") + ")"
				if curTree.single {
					holds = "holds a single " + strings.Join(haveNames, ", ") + " image"
				}
				out = append(out, Finding{
					Ref: cur, Digest: curTree.digest, Code: PlatformDropped, Severity: info.Severity, Platform: key,
					Message: fmt.Sprintf("%s holds %s, but %s, the next release in version order, %s", prev.Tag, key, cur.Tag, holds),
					Hint:    info.Hint,
				})
			}
		}
	}
	return out
}

// releasePlatforms lists the platforms a tag holds, each once, by OS,
// architecture and variant (a Windows os.version changes with every
// release and is not compared).
func releasePlatforms(n *tree.Node) (keys []string) {
	for _, img := range n.Images() {
		p := claimedOrConfig(img)
		if p == nil {
			continue
		}
		q := platform.Normalize(*p)
		q.OSVersion, q.OSFeatures = "", nil
		key := platform.Format(&q)
		if !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	return keys
}

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
