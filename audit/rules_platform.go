package audit

import (
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// checkPlatformFields reports image entries without a platform
// (missing-platform-field) and platforms spelled unusually, in the index or
// the config (noncanonical-platform).
func checkPlatformFields(c *checker) {
	for _, l := range c.images() {
		digest := l.node.Descriptor.Digest.String()
		// An index entry that is itself an index (unread: a read one is
		// walked) has no platform by nature.
		if c.isIndex() && !l.node.IsIndex() {
			claimed := l.claimed()
			if platform.Empty(claimed) {
				mark(l.row, StatusNoPlatform)
				c.add(MissingPlatformField, digest, nil, "index entry %s has no platform (os and architecture), so clients cannot select it", ref.ShortDigest(digest))
			} else if why := platform.Noncanonical(*claimed); why != "" {
				c.add(NoncanonicalPlatform, digest, claimed, "the index entry's %s", why)
			}
		}
		if cfg := l.config(); cfg != nil {
			if why := platform.Noncanonical(*cfg); why != "" {
				c.add(NoncanonicalPlatform, digest, cfg, "the image config's %s", why)
			}
		}
	}
}

// checkConfigAgreement reports index entries whose claimed platform
// disagrees with their image config (platform-mismatch): an amd64 image
// listed as arm64.
func checkConfigAgreement(c *checker) {
	if !c.isIndex() {
		return
	}
	for _, l := range c.images() {
		claimed, cfg := l.claimed(), l.config()
		if platform.Empty(claimed) || cfg == nil || platform.Empty(cfg) {
			continue
		}
		if !platform.Agrees(*claimed, *cfg) {
			mark(l.row, StatusMismatch)
			c.add(PlatformMismatch, l.node.Descriptor.Digest.String(), claimed,
				"the index lists %s as %s but its config says %s", ref.ShortDigest(l.node.Descriptor.Digest.String()), platform.Format(claimed), platform.Format(cfg))
		}
	}
}

// checkDuplicates reports entries that claim a platform an earlier entry
// already claims (duplicate-platform). Entries that are one image with its
// layers compressed another way (podman's and buildah's zstd variant
// beside the gzip original: tree.CompressionVariants) claim one platform
// on purpose and are not duplicates.
func checkDuplicates(c *checker) {
	if !c.isIndex() {
		return
	}
	first := map[string]*tree.Node{}
	for _, l := range c.images() {
		claimed := l.claimed()
		if platform.Empty(claimed) {
			continue
		}
		key := platform.Format(claimed)
		digest := l.node.Descriptor.Digest.String()
		if prev, ok := first[key]; ok {
			if tree.CompressionVariants(prev, l.node) {
				continue
			}
			mark(l.row, StatusDuplicate)
			c.add(DuplicatePlatform, digest, claimed, "entries %s and %s both claim %s", ref.ShortDigest(prev.Descriptor.Digest.String()), ref.ShortDigest(digest), key)
			continue
		}
		first[key] = l.node
	}
}
