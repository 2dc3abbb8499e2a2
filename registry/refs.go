package registry

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// Tags lists the tags of r's repository, or the ref names of r's OCI
// layout (unnamed entries left out). A repository that does not exist has
// no tags.
func (c *Client) Tags(ctx context.Context, r ref.Ref) ([]string, error) {
	s, err := c.scheme(r)
	if err != nil {
		return nil, err
	}
	tags, err := s.tags(ctx)
	if errors.Is(err, tree.ErrMissing) {
		return nil, nil
	}
	var named []string
	for _, tag := range tags {
		if _, notDigest := v1.NewHash(tag); notDigest != nil {
			named = append(named, tag)
		}
	}
	return named, err
}

// Resolve returns the digest r holds now, without reading the manifest
// (one HEAD request on a registry), or "" when it does not exist.
func (c *Client) Resolve(ctx context.Context, r ref.Ref) (string, error) {
	s, err := c.scheme(r)
	if err != nil {
		return "", err
	}
	desc, err := s.head(ctx, r.Identifier())
	if errors.Is(err, tree.ErrMissing) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", r, err)
	}
	return desc.Digest.String(), nil
}

// CheckTarget reports, without a request, whether r can be read at all:
// an OCI layout's directory must exist and hold index.json. Registry
// references always pass; what a registry holds is learnt by asking.
func (c *Client) CheckTarget(r ref.Ref) error { return c.check(r, false) }

// CheckDestination reports, without a request or a write, whether r can
// be written: a layout directory must be a layout, or new, or empty.
func (c *Client) CheckDestination(r ref.Ref) error { return c.check(r, true) }

func (c *Client) check(r ref.Ref, write bool) error {
	if r.IsRegistry() {
		return nil
	}
	s, err := c.scheme(r)
	if err != nil {
		return err
	}
	return s.check(r, write)
}
