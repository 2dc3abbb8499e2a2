package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Push writes an image or index, and everything it references, to ref: a
// registry reference, or an OCI layout reference "oci:DIR:TAG" (the layout
// is created when DIR does not exist). Pushing to a registry uses
// go-containerregistry's remote.Push over this client's transport, so the
// requests are counted and the HTTP policy holds.
func (c *Client) Push(ctx context.Context, ref string, t remote.Taggable) error {
	if rest, ok := strings.CutPrefix(ref, LayoutPrefix); ok {
		dir, tag := splitLayout(rest)
		return writeLayout(dir, tag, t)
	}
	target, err := c.ParseTarget(ref)
	if err != nil {
		return err
	}
	switch target.Kind {
	case KindImage:
		if err := remote.Push(target.Ref, t, c.remoteOptions(ctx)...); err != nil {
			return fmt.Errorf("pushing %s: %w", ref, err)
		}
		return nil
	default:
		return fmt.Errorf("%w %q: push to a tag or digest, not a whole repository", ErrInvalidTarget, ref)
	}
}

// Delete removes the manifest ref names from its registry (a digest
// reference removes that manifest; a tag reference, where the registry
// allows it, the tag).
func (c *Client) Delete(ctx context.Context, ref string) error {
	target, err := c.ParseTarget(ref)
	if err != nil {
		return err
	}
	if target.Kind != KindImage {
		return fmt.Errorf("%w %q: only registry references can be deleted", ErrInvalidTarget, ref)
	}
	if err := remote.Delete(target.Ref, c.remoteOptions(ctx)...); err != nil {
		return fmt.Errorf("deleting %s: %w", ref, err)
	}
	return nil
}

func (c *Client) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(c.opts.keychain),
		remote.WithTransport(c.base),
		remote.WithUserAgent(c.opts.userAgent),
		remote.WithJobs(c.opts.jobs),
	}
}

// writeLayout appends t to the OCI layout in dir under the ref name tag.
func writeLayout(dir, tag string, t remote.Taggable) error {
	p, err := layout.FromPath(dir)
	if errors.Is(err, os.ErrNotExist) {
		p, err = layout.Write(dir, empty.Index)
	}
	if err != nil {
		return fmt.Errorf("opening the layout %s: %w", dir, err)
	}
	var opts []layout.Option
	if tag != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{specs.AnnotationRefName: tag}))
	}
	switch v := t.(type) {
	case v1.ImageIndex:
		err = p.AppendIndex(v, opts...)
	case v1.Image:
		err = p.AppendImage(v, opts...)
	default:
		return fmt.Errorf("writing to the layout %s: %T is neither an image nor an index", dir, t)
	}
	if err != nil {
		return fmt.Errorf("writing to the layout %s: %w", dir, err)
	}
	return nil
}
