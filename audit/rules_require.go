package audit

import (
	"strings"

	"github.com/mlaudit/mlaudit/platform"
)

// checkTag reports a tag whose name names an architecture its image is not
// (tag-platform-mismatch): the Komodo story, latest-aarch64 holding amd64.
// For an index, every image entry must match.
func checkTag(c *checker) {
	tag := c.ref.Tag
	want, ok := platform.FromTag(tag)
	if !ok {
		return
	}
	c.perArch = true
	for _, l := range c.images() {
		actual := l.actual()
		if actual == nil {
			continue
		}
		if !want.Matches(*actual) {
			mark(l.row, StatusMismatch)
			c.add(TagPlatformMismatch, l.node.Descriptor.Digest.String(), actual,
				"tag %q names %s (%q) but the image is %s", tag, want, want.Token, platform.Format(actual))
		}
	}
}

// checkRequired reports required platforms that have no entry
// (missing-platform), and a single image where several platforms are
// required (not-an-index). A per-arch tag is judged by checkTag instead.
func checkRequired(c *checker) {
	if c.perArch || len(c.require) == 0 {
		return
	}
	for _, req := range c.require {
		c.img.Required = append(c.img.Required, platform.Format(&req))
	}
	if !c.isIndex() {
		c.checkRequiredSingle()
		return
	}
	for _, req := range c.require {
		found := false
		for _, l := range c.images() {
			if claimed := l.claimed(); !platform.Empty(claimed) && platform.Same(req, *claimed) {
				found = true
				break
			}
		}
		if !found {
			c.missing = append(c.missing, PlatformEntry{Platform: platform.Format(&req), Status: StatusMissing})
			c.add(MissingPlatform, c.img.Digest, &req, "%s is required but the index has no entry for it (it has %s)", platform.Format(&req), c.presentList())
		}
	}
}

func (c *checker) checkRequiredSingle() {
	l := c.leaves[0]
	actual := l.actual()
	if len(c.require) >= 2 {
		var names []string
		for _, req := range c.require {
			names = append(names, platform.Format(&req))
			if actual == nil || !platform.Agrees(req, *actual) {
				c.missing = append(c.missing, PlatformEntry{Platform: platform.Format(&req), Status: StatusMissing})
			}
		}
		c.add(NotAnIndex, c.img.Digest, actual, "%s are required but the tag holds a single %s image, not a multi-arch index",
			strings.Join(names, ", "), platform.Format(actual))
		return
	}
	req := c.require[0]
	if actual == nil || !platform.Agrees(req, *actual) {
		c.missing = append(c.missing, PlatformEntry{Platform: platform.Format(&req), Status: StatusMissing})
		c.add(MissingPlatform, c.img.Digest, &req, "%s is required but the tag holds a single %s image", platform.Format(&req), platform.Format(actual))
	}
}

// presentList names the platforms the index does have, for messages.
func (c *checker) presentList() string {
	var names []string
	for _, l := range c.images() {
		if claimed := l.claimed(); !platform.Empty(claimed) {
			names = append(names, platform.Format(claimed))
		}
	}
	if len(names) == 0 {
		return "no platforms"
	}
	return strings.Join(names, ", ")
}
