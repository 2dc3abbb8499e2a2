package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// An archive's manifests as go-containerregistry values, for copying them
// (repair --from oci-archive:..., or to a registry), as layout_content.go
// does for layouts: any manifest is read by digest, however deep.

func (a *archiveRepo) image(_ context.Context, h v1.Hash) (v1.Image, error) {
	c, err := a.load()
	if err != nil {
		return nil, err
	}
	raw, err := a.read(c, h, maxManifestBytes, "manifest")
	if err != nil {
		return nil, fmt.Errorf("reading %s to copy it: %w", a.at(h.String()), err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: manifest %s does not parse: %v", ErrBadResponse, a.at(h.String()), err)
	}
	mt, err := classify(raw, m.MediaType)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&archiveImage{a: a, c: c, raw: raw, mt: mt, m: m})
}

func (a *archiveRepo) index(ctx context.Context, h v1.Hash) (v1.ImageIndex, error) {
	c, err := a.load()
	if err != nil {
		return nil, err
	}
	raw, err := a.read(c, h, maxManifestBytes, "index")
	if err != nil {
		return nil, fmt.Errorf("reading %s to copy it: %w", a.at(h.String()), err)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: index %s does not parse: %v", ErrBadResponse, a.at(h.String()), err)
	}
	mt, err := classify(raw, im.MediaType)
	if err != nil {
		return nil, err
	}
	return &archiveIndex{ctx: ctx, a: a, raw: raw, mt: mt, im: im}, nil
}

// archiveImage is partial.CompressedImageCore over an archive's blobs.
type archiveImage struct {
	a   *archiveRepo
	c   *archiveContent
	raw []byte
	mt  types.MediaType
	m   *v1.Manifest
}

func (i *archiveImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *archiveImage) MediaType() (types.MediaType, error) { return i.mt, nil }
func (i *archiveImage) RawConfigFile() ([]byte, error) {
	return i.a.read(i.c, i.m.Config.Digest, maxConfigBytes, "config")
}

func (i *archiveImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.m.Config.Digest {
		return &archiveBlob{i: i, d: i.m.Config}, nil
	}
	for _, d := range i.m.Layers {
		if d.Digest == h {
			return &archiveBlob{i: i, d: d}, nil
		}
	}
	return nil, fmt.Errorf("%w: layer %s is not in manifest %s", ErrBadResponse, h, sha256Of(i.raw))
}

// archiveBlob is one layer (or config) blob of an archive.
type archiveBlob struct {
	i *archiveImage
	d v1.Descriptor
}

func (b *archiveBlob) Digest() (v1.Hash, error)            { return b.d.Digest, nil }
func (b *archiveBlob) Compressed() (io.ReadCloser, error)  { return b.i.a.open(b.i.c, b.d.Digest) }
func (b *archiveBlob) Size() (int64, error)                { return b.d.Size, nil }
func (b *archiveBlob) MediaType() (types.MediaType, error) { return b.d.MediaType, nil }

// archiveIndex is a v1.ImageIndex over an archive's blobs, at any depth.
type archiveIndex struct {
	ctx context.Context
	a   *archiveRepo
	raw []byte
	mt  types.MediaType
	im  *v1.IndexManifest
}

func (x *archiveIndex) MediaType() (types.MediaType, error)       { return x.mt, nil }
func (x *archiveIndex) Digest() (v1.Hash, error)                  { return sha256Of(x.raw), nil }
func (x *archiveIndex) Size() (int64, error)                      { return int64(len(x.raw)), nil }
func (x *archiveIndex) RawManifest() ([]byte, error)              { return x.raw, nil }
func (x *archiveIndex) IndexManifest() (*v1.IndexManifest, error) { return x.im.DeepCopy(), nil }
func (x *archiveIndex) Image(h v1.Hash) (v1.Image, error)         { return x.a.image(x.ctx, h) }
func (x *archiveIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return x.a.index(x.ctx, h)
}
func (x *archiveIndex) Layer(h v1.Hash) (v1.Layer, error) { return nil, unsupportedEntry(x, h) }
