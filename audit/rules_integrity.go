package audit

import (
	"errors"
	"fmt"

	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// checkIntegrity reports entries the registry does not have
// (missing-child) or serves altered (digest-mismatch). Other read failures
// are problems: the audit of that entry is incomplete.
func checkIntegrity(c *checker) {
	// An index that was read but not walked (too many entries, nested too
	// deep) leaves its children unchecked: the audit of it is incomplete.
	for _, idx := range c.root.Indexes() {
		if idx.Err != nil {
			c.problems = append(c.problems, fmt.Errorf("index %s: %w", ref.ShortDigest(idx.Descriptor.Digest.String()), idx.Err))
		}
	}
	for _, l := range c.leaves {
		n := l.node
		if n.Err == nil {
			continue
		}
		what := "manifest " + ref.ShortDigest(n.Descriptor.Digest.String())
		if n.IsIndex() {
			what = "index " + ref.ShortDigest(n.Descriptor.Digest.String())
		}
		if n.Manifest != nil {
			what = "config " + ref.ShortDigest(n.Manifest.Config.Digest.String()) + " of " + what
		}
		lists := "the index lists"
		if n == c.root {
			lists = "the tag holds"
		}
		var mismatch *tree.DigestMismatchError
		switch {
		case errors.Is(n.Err, tree.ErrMissing):
			mark(l.row, StatusMissingChild)
			c.add(MissingChild, n.Descriptor.Digest.String(), l.claimed(), "%s %s but %s", lists, what, c.lacks())
		case errors.As(n.Err, &mismatch):
			mark(l.row, StatusDigestMismatch)
			c.add(DigestMismatch, n.Descriptor.Digest.String(), l.claimed(), "%s: %v", what, mismatch)
		default:
			mark(l.row, StatusUnreadable)
			c.problems = append(c.problems, fmt.Errorf("%s: %w", what, n.Err))
		}
	}
}

// lacks says who does not have a missing child: a layout is often a
// partial export on purpose.
func (c *checker) lacks() string {
	if c.ref.Scheme == ref.Layout {
		return "the layout does not have it (a partial export, such as docker save --platform or ctr export, leaves out the platforms it was not asked for)"
	}
	return "the registry does not have it"
}
