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
		case errors.Is(n.Err, tree.ErrMissing) && c.ref.Scheme == ref.DockerDaemon:
			mark(l.row, StatusMissingChild)
			c.add(MissingChild, n.Descriptor.Digest.String(), l.claimed(), "%s %s, which the Docker engine does not hold (%s)", lists, what, notPulled)
			c.findings[len(c.findings)-1].Hint = daemonMissingHint
		case errors.Is(n.Err, tree.ErrMissing) && c.ref.IsExport():
			mark(l.row, StatusMissingChild)
			c.add(MissingChild, n.Descriptor.Digest.String(), l.claimed(), "%s %s, which was not exported to the layout or archive (%s)", lists, what, partialExport)
			c.findings[len(c.findings)-1].Hint = layoutMissingHint
		case errors.Is(n.Err, tree.ErrMissing):
			mark(l.row, StatusMissingChild)
			c.add(MissingChild, n.Descriptor.Digest.String(), l.claimed(), "%s %s but the registry does not have it", lists, what)
		case l.artifact() && n.Manifest != nil && !errors.As(n.Err, &mismatch):
			// The walk reads every config as an image config; an
			// artifact's config (an SBOM's, a signature's, the empty
			// descriptor) is something else and need not parse as one.
			// Its bytes were read and checked against its digest.
		case errors.As(n.Err, &mismatch):
			mark(l.row, StatusDigestMismatch)
			c.add(DigestMismatch, n.Descriptor.Digest.String(), l.claimed(), "%s: %v", what, mismatch)
		default:
			mark(l.row, StatusUnreadable)
			c.problems = append(c.problems, fmt.Errorf("%s: %w", what, n.Err))
		}
	}
}

// A layout is often a partial export on purpose: a child missing from it
// was not exported, and re-pushing (missing-child's usual hint) is not the
// fix. A Docker engine with the containerd image store holds the whole
// index but only the platforms it pulled or built.
const (
	notPulled         = "an engine keeps only the platforms it pulled or built: `docker pull` fetches the engine's own platform"
	daemonMissingHint = "Pull the platform (`docker pull --platform linux/arm64 IMAGE`), or build every platform into the engine (`docker buildx build --platform ... --load` with the containerd image store), or audit the registry the image came from instead."
	partialExport     = "a partial export, such as `docker save --platform` or `containerd export` (`ctr export`) without --all-platforms, writes only the platforms it was asked for"
	layoutMissingHint = "If the export was partial on purpose, audit the registry it came from instead; else export again with every platform (`ctr export --all-platforms`, `docker save` without --platform), or re-create the index without the entry (`mlaudit repair --fix`)."
)
