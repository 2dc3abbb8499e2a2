package registry

import (
	"bytes"
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// composed is an index given as bytes whose children live elsewhere: in
// other repositories, registries or layouts. It implements v1.ImageIndex,
// so go-containerregistry's remote.WriteIndex copies each child into the
// destination (mounting blobs within a registry, streaming across
// registries, skipping what is already there) and then writes these exact
// bytes, so the pushed index has the digest the plan showed.
type composed struct {
	ctx  context.Context
	c    *Client
	raw  []byte
	mt   types.MediaType
	from func(v1.Hash) string
}

func (x *composed) MediaType() (types.MediaType, error) { return x.mt, nil }
func (x *composed) Digest() (v1.Hash, error)            { return sha256Of(x.raw), nil }
func (x *composed) Size() (int64, error)                { return int64(len(x.raw)), nil }
func (x *composed) RawManifest() ([]byte, error)        { return x.raw, nil }

func (x *composed) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(x.raw))
}

func (x *composed) Image(h v1.Hash) (v1.Image, error) {
	t, err := x.c.ParseTarget(x.from(h))
	if err != nil {
		return nil, err
	}
	if t.Kind == KindLayout {
		return layout.Path(t.Dir).Image(h)
	}
	img, err := remote.Image(t.Repo.Digest(h.String()), x.c.remoteOptions(x.ctx)...)
	if err != nil {
		return nil, fmt.Errorf("reading %s@%s to copy it: %w", t.Repo.Name(), h, err)
	}
	return img, nil
}

func (x *composed) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	t, err := x.c.ParseTarget(x.from(h))
	if err != nil {
		return nil, err
	}
	if t.Kind == KindLayout {
		return layout.Path(t.Dir).ImageIndex()
	}
	idx, err := remote.Index(t.Repo.Digest(h.String()), x.c.remoteOptions(x.ctx)...)
	if err != nil {
		return nil, fmt.Errorf("reading %s@%s to copy it: %w", t.Repo.Name(), h, err)
	}
	return idx, nil
}
