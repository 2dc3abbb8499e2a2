package registry

import (
	"bytes"
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/ref"
)

// composed is an index given as bytes whose children live elsewhere: in
// other repositories, registries or layouts. It implements v1.ImageIndex,
// so go-containerregistry's writers (remote.WriteIndex, layout's
// WriteIndex) copy each child into the destination (mounting blobs within
// a registry, streaming across registries and layouts, skipping what is
// already there) and then write these exact bytes, so the pushed index has
// the digest the plan showed.
type composed struct {
	ctx  context.Context
	c    *Client
	raw  []byte
	mt   types.MediaType
	from func(v1.Hash) ref.Ref
}

func (x *composed) MediaType() (types.MediaType, error) { return x.mt, nil }
func (x *composed) Digest() (v1.Hash, error)            { return sha256Of(x.raw), nil }
func (x *composed) Size() (int64, error)                { return int64(len(x.raw)), nil }
func (x *composed) RawManifest() ([]byte, error)        { return x.raw, nil }

func (x *composed) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(x.raw))
}

func (x *composed) Image(h v1.Hash) (v1.Image, error) {
	s, err := x.c.scheme(x.from(h))
	if err != nil {
		return nil, err
	}
	return s.image(x.ctx, h)
}

func (x *composed) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	s, err := x.c.scheme(x.from(h))
	if err != nil {
		return nil, err
	}
	return s.index(x.ctx, h)
}
