package registry

import (
	"bytes"
	"context"
	"fmt"

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

// Layer is asked for entries that are neither images nor indexes
// (artifacts). go-containerregistry would copy them as plain blobs, which a
// registry does not take as manifests; mlaudit refuses them by name rather
// than push an index whose entry is missing.
func (x *composed) Layer(h v1.Hash) (v1.Layer, error) { return nil, unsupportedEntry(x, h) }

func (x *composed) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	s, err := x.c.scheme(x.from(h))
	if err != nil {
		return nil, err
	}
	return s.index(x.ctx, h)
}

// unsupportedEntry names an entry of idx that mlaudit cannot copy.
func unsupportedEntry(idx v1.ImageIndex, h v1.Hash) error {
	mt := types.MediaType("")
	if im, err := idx.IndexManifest(); err == nil {
		for _, d := range im.Manifests {
			if d.Digest == h {
				mt = d.MediaType
			}
		}
	}
	return fmt.Errorf("%w: entry %s has media type %q, neither an image nor an index; mlaudit does not copy such entries", ErrUnsupported, h, mt)
}
