package registry

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/ref"
)

// Push writes an image or index, and everything it references, to r and
// tags it there (by digest for a digest reference). A layout that does not
// exist yet is created. On a registry it goes through this client's
// transport, so the requests are counted and the HTTP policy holds.
func (c *Client) Push(ctx context.Context, r ref.Ref, t remote.Taggable) error {
	s, err := c.scheme(r)
	if err != nil {
		return err
	}
	if err := s.push(ctx, r.Identifier(), t); err != nil {
		return fmt.Errorf("pushing %s: %w", r, err)
	}
	return nil
}

// Delete removes the manifest r names from its registry (a digest
// reference removes that manifest; a tag reference, where the registry
// allows it, the tag). Only the stories and tests delete: a repair never
// does.
func (c *Client) Delete(ctx context.Context, r ref.Ref) error {
	s, err := c.scheme(r)
	if err != nil {
		return err
	}
	if err := s.delete(ctx, r.Identifier()); err != nil {
		return fmt.Errorf("deleting %s: %w", r, err)
	}
	return nil
}

// PushManifest writes the manifest raw by digest to dest's repository or
// layout (created if need be), with everything it references: for an
// index, every child, read from where from names it; for an image, the
// image itself, read from where from names its digest. No tag moves: see
// MoveTag.
func (c *Client) PushManifest(ctx context.Context, dest ref.Ref, raw []byte, mt types.MediaType, from func(v1.Hash) ref.Ref) error {
	s, err := c.scheme(dest)
	if err != nil {
		return err
	}
	digest := sha256Of(raw)
	if mt.IsImage() {
		err = c.copyImage(ctx, s, digest, from(digest))
	} else {
		err = s.pushIndex(ctx, &composed{ctx: ctx, c: c, raw: raw, mt: mt, from: from})
	}
	if err != nil {
		return fmt.Errorf("pushing %s: %w", dest.WithDigest(digest.String()), err)
	}
	return nil
}

// copyImage copies the image d, read where src names it, by digest into
// the scheme dest.
func (c *Client) copyImage(ctx context.Context, dest scheme, d v1.Hash, src ref.Ref) error {
	s, err := c.scheme(src)
	if err != nil {
		return err
	}
	img, err := s.image(ctx, d)
	if err != nil {
		return err
	}
	return dest.push(ctx, d.String(), img)
}

// Referrers lists what refers to the manifest r names by digest: the OCI
// 1.1 referrers API where the registry has it, else the fallback
// referrers tag (sha256-<hex>). An OCI layout has no referrers API; its
// referrers tag is read the same way.
func (c *Client) Referrers(ctx context.Context, r ref.Ref) ([]v1.Descriptor, error) {
	if r.Digest == "" {
		return nil, fmt.Errorf("%w %q: referrers are found by digest", ErrInvalidTarget, r.Written())
	}
	s, err := c.scheme(r)
	if err != nil {
		return nil, err
	}
	return s.referrers(ctx, r.Digest)
}

// MoveTag points the tag r at the manifest raw: a PUT of the bytes by tag
// on a registry, or the layout's index.json entry of that ref name. The
// manifest's children must already be there (PushIndex).
func (c *Client) MoveTag(ctx context.Context, r ref.Ref, raw []byte, mt types.MediaType) error {
	if r.Tag == "" || r.Digest != "" {
		return fmt.Errorf("%w %q: only a tag can be moved", ErrInvalidTarget, r.Written())
	}
	s, err := c.scheme(r)
	if err != nil {
		return err
	}
	if err := s.moveTag(ctx, r.Tag, raw, mt); err != nil {
		return fmt.Errorf("tagging %s: %w", r, err)
	}
	return nil
}
