package audit

import (
	"errors"
	"fmt"

	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// Check audits one tree, reached by r, against the platforms it must
// provide (none: only consistency is checked). It returns the image's
// report, the findings, and errors for parts of the tree that could not be
// checked at all (unreadable content); findings are still returned for the
// rest. It reads only the tree: rules can be tested on trees built by hand.
func Check(r ref.Ref, root *tree.Node, require []platform.Platform) (Image, []Finding, []error) {
	c := &checker{ref: r, root: root, require: require}
	c.img = Image{Ref: r, Digest: root.Descriptor.Digest.String(), MediaType: string(root.MediaType())}
	if root.Index == nil && root.Manifest == nil {
		c.checkUnreadableRoot()
		return c.img, c.findings, c.problems
	}
	c.collectLeaves(root)
	run := rules
	if root.IsArtifact() || ref.IsSignatureTag(r.Tag) || ref.IsReferrersTag(r.Tag) {
		// An artifact or a referrers index is not an image: no platform
		// rule applies, only its integrity is checked.
		c.img.Artifact = true
		run = artifactRules
	}
	for _, rule := range run {
		rule(c)
	}
	for _, l := range c.leaves {
		c.img.Platforms = append(c.img.Platforms, *l.row)
	}
	c.img.Platforms = append(c.img.Platforms, c.missing...)
	return c.img, c.findings, c.problems
}

// rules run in this order on every tree; each is one family of checks.
var rules = []func(*checker){
	checkIntegrity,
	checkPlatformFields,
	checkConfigAgreement,
	checkDuplicates,
	checkRepeatedIndexes,
	checkAttestations,
	checkMediaTypes,
	checkTag,
	checkRequired,
}

// artifactRules run on a tree that is an artifact or a referrers index
// (tree.Node.IsArtifact): an SBOM, a signature, the sha256-<hex> tag.
var artifactRules = []func(*checker){
	checkIntegrity,
}

// checker carries one tree through the rules.
type checker struct {
	ref      ref.Ref
	root     *tree.Node
	require  []platform.Platform
	img      Image
	leaves   []leaf
	missing  []PlatformEntry
	findings []Finding
	problems []error
	// repeats are entries for a nested index listed before, and
	// firstListed the first entry for each (rules_repeat.go).
	repeats, firstListed []repeat
	// perArch is set when the tag names an architecture: the image is
	// then judged as a single-arch image, not against --require.
	perArch bool
}

// leaf is one row of the report: an image (or attestation, or unreadable
// entry) below the root, or the root itself when it is a single image.
type leaf struct {
	node *tree.Node
	row  *PlatformEntry
}

// claimed is the platform the index entry claims, or nil for a root image.
func (l leaf) claimed() *platform.Platform { return l.node.Claimed() }

// config is the platform the image config states, or nil when unread.
func (l leaf) config() *platform.Platform { return l.node.ConfigPlatform() }

func (l leaf) attestation() bool { return l.node.IsAttestation() }

// artifact is an artifact or referrer (an SBOM, a signature) listed in an
// index or audited on its own: never judged for its platform.
func (l leaf) artifact() bool { return l.node.IsArtifact() }

// actual is what the image is: its config's platform, else what the index
// claims, else nil.
func (l leaf) actual() *platform.Platform {
	if p := l.config(); p != nil && !platform.Empty(p) {
		return p
	}
	if p := l.claimed(); !platform.Empty(p) {
		return p
	}
	return nil
}

func (c *checker) isIndex() bool { return c.root.Index != nil }

// collectLeaves makes a row of every image entry below n, nested indexes
// flattened; a nested index listed again is a repeat, not more rows (its
// entries were collected the first time).
func (c *checker) collectLeaves(n *tree.Node) {
	if n == c.root && !c.isIndex() {
		c.addLeaf(n, platform.Format(leaf{node: n}.config()))
		return
	}
	n.Walk(func(parent, child *tree.Node, again bool) {
		switch {
		case again:
			c.repeats = append(c.repeats, repeat{parent: parent, index: child})
		case child.Index != nil:
			c.firstListed = append(c.firstListed, repeat{parent: parent, index: child})
		default:
			c.addLeaf(child, platform.Format(child.Claimed()))
		}
	})
}

func (c *checker) addLeaf(n *tree.Node, claimed string) {
	row := &PlatformEntry{Platform: claimed, Digest: n.Descriptor.Digest.String(), Status: StatusOK}
	l := leaf{node: n, row: row}
	if cfg := l.config(); cfg != nil {
		row.ConfigPlatform = platform.Format(cfg)
	}
	switch {
	case l.attestation():
		row.Attestation = true
		row.Status = StatusAttestation
	case l.artifact():
		row.Platform = platform.Format(n.Claimed())
		row.ConfigPlatform = ""
		row.Status = StatusArtifact
	}
	c.leaves = append(c.leaves, l)
}

// images returns the leaves that are images, not attestations or
// artifacts.
func (c *checker) images() []leaf {
	var out []leaf
	for _, l := range c.leaves {
		if !l.attestation() && !l.artifact() {
			out = append(out, l)
		}
	}
	return out
}

// add records a finding with the code's default severity and hint.
func (c *checker) add(code Code, digest string, p *platform.Platform, format string, args ...any) {
	info := code.Info()
	f := Finding{Ref: c.ref, Digest: digest, Code: code, Severity: info.Severity, Message: fmt.Sprintf(format, args...), Hint: info.Hint}
	if p != nil {
		f.Platform = platform.Format(p)
	}
	c.findings = append(c.findings, f)
}

// mark sets a row's status unless an earlier rule already marked it. An
// artifact's row is marked only by integrity rules, the only ones that
// look at it.
func mark(row *PlatformEntry, status string) {
	if row.Status == StatusOK || row.Status == StatusArtifact {
		row.Status = status
	}
}

func (c *checker) checkUnreadableRoot() {
	var mismatch *tree.DigestMismatchError
	if errors.As(c.root.Err, &mismatch) {
		c.add(DigestMismatch, c.img.Digest, nil, "%s: %v", c.ref, mismatch)
		return
	}
	err := c.root.Err
	if err == nil {
		err = errors.New("the manifest is neither an index nor an image")
	}
	c.problems = append(c.problems, err)
}
