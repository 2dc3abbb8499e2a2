package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/mlaudit/mlaudit/tree"
)

// Tags lists the tags of the repository ref is in, or the ref names of the
// OCI layout it is in. A repository that does not exist has no tags.
func (c *Client) Tags(ctx context.Context, ref string) ([]string, error) {
	t, err := c.ParseTarget(ref)
	if err != nil {
		return nil, err
	}
	var tags []string
	if t.Kind == KindLayout {
		tags, err = c.layout(t.Dir).tags(ctx)
	} else {
		tags, err = c.repo(t).tags(ctx)
	}
	if errors.Is(err, tree.ErrMissing) {
		return nil, nil
	}
	var named []string
	for _, tag := range tags {
		if !strings.HasPrefix(tag, "sha256:") {
			named = append(named, tag)
		}
	}
	return named, err
}

// TagOf returns the tag (or layout ref name) of ref, or "" for a digest.
func (c *Client) TagOf(ref string) (string, error) {
	t, err := c.ParseTarget(ref)
	if err != nil {
		return "", err
	}
	switch {
	case t.Kind == KindLayout && !strings.HasPrefix(t.Tag, "sha256:"):
		return t.Tag, nil
	case t.Kind == KindImage:
		if tag, ok := t.Ref.(name.Tag); ok {
			return tag.TagStr(), nil
		}
	}
	return "", nil
}

// WithTag returns a reference to tag in the repository or layout of ref.
func (c *Client) WithTag(ref, tag string) (string, error) {
	t, err := c.ParseTarget(ref)
	if err != nil {
		return "", err
	}
	if t.Kind == KindLayout {
		return LayoutPrefix + t.Dir + ":" + tag, nil
	}
	named, err := name.NewTag(t.Repo.Name()+":"+tag, c.nameOptions(t.Repo.Name())...)
	if err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidTarget, tag, err)
	}
	return named.Name(), nil
}

// Resolve returns the digest ref holds now, with one HEAD request, or ""
// when it does not exist.
func (c *Client) Resolve(ctx context.Context, ref string) (string, error) {
	t, err := c.ParseTarget(ref)
	if err != nil {
		return "", err
	}
	if t.Kind == KindLayout {
		d, err := c.layout(t.Dir).entry(t.Tag)
		if errors.Is(err, tree.ErrMissing) {
			return "", nil
		}
		return d.Digest.String(), err
	}
	desc, err := c.repo(t).head(ctx, t.Ref.Identifier())
	if errors.Is(err, tree.ErrMissing) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", ref, err)
	}
	return desc.Digest.String(), nil
}

// Rebase returns ref under another prefix: the same repository path and
// tag below prefix, as mirrors lay them out. With the prefix
// "registry.internal/mirror", "ghcr.io/org/app:1.0" becomes
// "registry.internal/mirror/org/app:1.0".
func (c *Client) Rebase(ref, prefix string) (string, error) {
	t, err := c.ParseTarget(ref)
	if err != nil {
		return "", err
	}
	if t.Kind != KindImage {
		return "", fmt.Errorf("%w %q: only registry references can be compared with a mirror", ErrInvalidTarget, ref)
	}
	rebased := strings.TrimSuffix(prefix, "/") + "/" + t.Repo.RepositoryStr()
	if d, ok := t.Ref.(name.Digest); ok {
		rebased += "@" + d.DigestStr()
	} else {
		rebased += ":" + t.Ref.Identifier()
	}
	named, err := c.ParseTarget(rebased)
	if err != nil {
		return "", fmt.Errorf("--compare %q: %w", prefix, err)
	}
	return named.Ref.Name(), nil
}
