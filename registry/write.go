package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Push writes an image or index, and everything it references, to ref: a
// registry reference, or an OCI layout reference "oci:DIR:TAG" (the layout
// is created when DIR does not exist). Pushing to a registry uses
// go-containerregistry's remote.Push over this client's transport, so the
// requests are counted and the HTTP policy holds.
func (c *Client) Push(ctx context.Context, ref string, t remote.Taggable) error {
	target, err := c.ParseTargetForWrite(ref)
	if err != nil {
		return err
	}
	if target.Kind == KindLayout {
		return writeLayout(target.Dir, target.Tag, t)
	}
	if err := remote.Push(target.Ref, t, c.remoteOptions(ctx)...); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	return nil
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
	p, err := openOrCreateLayout(dir)
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

// PushIndex writes the index raw, and every child it lists, by digest to
// the repository (or OCI layout) of dest; from names, for each child, a
// reference to where it can be read. No tag moves: see PutManifest.
func (c *Client) PushIndex(ctx context.Context, dest string, raw []byte, mt types.MediaType, from func(v1.Hash) string) error {
	idx := &composed{ctx: ctx, c: c, raw: raw, mt: mt, from: from}
	t, err := c.ParseTargetForWrite(dest)
	if err != nil {
		return err
	}
	if t.Kind == KindLayout {
		p, err := openOrCreateLayout(t.Dir)
		if err == nil {
			err = p.WriteIndex(idx)
		}
		if err != nil {
			return fmt.Errorf("writing the index to the layout %s: %w", t.Dir, err)
		}
		return nil
	}
	digest := sha256Of(raw)
	if err := remote.WriteIndex(t.Repo.Digest(digest.String()), idx, c.remoteOptions(ctx)...); err != nil {
		return fmt.Errorf("pushing %s@%s: %w", t.Repo.Name(), digest, err)
	}
	return nil
}

// PutManifest points the tag ref at the manifest raw: a PUT of the bytes by
// tag on a registry, or the layout's index.json entry of that ref name.
// The manifest's children must already be there (PushIndex).
func (c *Client) PutManifest(ctx context.Context, ref string, raw []byte, mt types.MediaType) error {
	t, err := c.ParseTargetForWrite(ref)
	if err != nil {
		return err
	}
	if t.Kind == KindLayout {
		return putLayoutRef(t.Dir, t.Tag, raw, mt)
	}
	if err := remote.Put(t.Ref, rawManifest{raw: raw, mt: mt}, c.remoteOptions(ctx)...); err != nil {
		return fmt.Errorf("tagging %s: %w", ref, err)
	}
	return nil
}

// ParseTargetForWrite is ParseTarget for a destination: an OCI layout
// directory need not exist yet.
func (c *Client) ParseTargetForWrite(ref string) (Target, error) {
	if rest, ok := strings.CutPrefix(ref, LayoutPrefix); ok {
		dir, tag := splitLayout(rest)
		if dir == "" {
			return Target{}, fmt.Errorf("%w %q: name the layout directory, e.g. oci:./out:latest", ErrInvalidTarget, ref)
		}
		return Target{Raw: ref, Kind: KindLayout, Dir: dir, Tag: tag}, nil
	}
	t, err := c.ParseTarget(ref)
	if err == nil && t.Kind != KindImage {
		err = fmt.Errorf("%w %q: it names a whole repository; give a tag, e.g. %s:latest", ErrInvalidTarget, ref, ref)
	}
	return t, err
}

// rawManifest is a manifest given as bytes, for remote.Put.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

func openOrCreateLayout(dir string) (layout.Path, error) {
	p, err := layout.FromPath(dir)
	if errors.Is(err, os.ErrNotExist) {
		p, err = layout.Write(dir, empty.Index)
	}
	return p, err
}

// putLayoutRef makes the layout's entry named tag point at raw, replacing
// the entry that had that name. The manifest's bytes are written as a blob
// if the layout lacks them.
func putLayoutRef(dir, tag string, raw []byte, mt types.MediaType) error {
	p, err := openOrCreateLayout(dir)
	if err != nil {
		return fmt.Errorf("opening the layout %s: %w", dir, err)
	}
	digest := sha256Of(raw)
	if err := p.WriteBlob(digest, io.NopCloser(bytes.NewReader(raw))); err != nil {
		return fmt.Errorf("writing to the layout %s: %w", dir, err)
	}
	byName := match.Annotation(specs.AnnotationRefName, tag)
	if err := p.RemoveDescriptors(byName); err != nil {
		return fmt.Errorf("updating %s/index.json: %w", dir, err)
	}
	desc := v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: digest, Annotations: map[string]string{specs.AnnotationRefName: tag}}
	if err := p.AppendDescriptor(desc); err != nil {
		return fmt.Errorf("updating %s/index.json: %w", dir, err)
	}
	return nil
}
