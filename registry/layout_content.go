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

// Manifests of a layout, in a directory or a tar, as go-containerregistry
// values, for copying them (repair --from oci:DIR or oci-archive:FILE, or
// to a registry).
//
// Written by hand because go-containerregistry's layout package finds a
// manifest only among index.json's top-level entries (layout.Path.Image
// looks the digest up there): the images below a buildx index, or below a
// containerd export's index, cannot be read with it. These read any
// manifest in blobs/ by digest and give go-containerregistry the core it
// builds an image from (partial.CompressedToImage).

func (l *ociLayout) image(_ context.Context, h v1.Hash) (v1.Image, error) {
	files, _, err := l.load()
	if err != nil {
		return nil, err
	}
	raw, err := l.read(files, h, maxManifestBytes, "manifest")
	if err != nil {
		return nil, fmt.Errorf("reading %s to copy it: %w", l.at(h.String()), err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: manifest %s does not parse: %v", ErrBadResponse, l.at(h.String()), err)
	}
	mt, err := classify(raw, m.MediaType)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&layoutImage{l: l, files: files, raw: raw, mt: mt, m: m})
}

func (l *ociLayout) index(ctx context.Context, h v1.Hash) (v1.ImageIndex, error) {
	files, _, err := l.load()
	if err != nil {
		return nil, err
	}
	raw, err := l.read(files, h, maxManifestBytes, "index")
	if err != nil {
		return nil, fmt.Errorf("reading %s to copy it: %w", l.at(h.String()), err)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: index %s does not parse: %v", ErrBadResponse, l.at(h.String()), err)
	}
	mt, err := classify(raw, im.MediaType)
	if err != nil {
		return nil, err
	}
	return &layoutIndex{ctx: ctx, l: l, raw: raw, mt: mt, im: im}, nil
}

// layoutImage is partial.CompressedImageCore over a layout's blobs.
type layoutImage struct {
	l     *ociLayout
	files layoutFiles
	raw   []byte
	mt    types.MediaType
	m     *v1.Manifest
}

func (i *layoutImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *layoutImage) MediaType() (types.MediaType, error) { return i.mt, nil }
func (i *layoutImage) RawConfigFile() ([]byte, error) {
	return i.l.read(i.files, i.m.Config.Digest, maxConfigBytes, "config")
}

func (i *layoutImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.m.Config.Digest {
		return &layoutBlob{i: i, d: i.m.Config}, nil
	}
	for _, d := range i.m.Layers {
		if d.Digest == h {
			return &layoutBlob{i: i, d: d}, nil
		}
	}
	return nil, fmt.Errorf("%w: layer %s is not in manifest %s", ErrBadResponse, h, sha256Of(i.raw))
}

// layoutBlob is one layer (or config) blob of a layout.
type layoutBlob struct {
	i *layoutImage
	d v1.Descriptor
}

func (b *layoutBlob) Digest() (v1.Hash, error)            { return b.d.Digest, nil }
func (b *layoutBlob) Compressed() (io.ReadCloser, error)  { return b.i.l.open(b.i.files, b.d.Digest) }
func (b *layoutBlob) Size() (int64, error)                { return b.d.Size, nil }
func (b *layoutBlob) MediaType() (types.MediaType, error) { return b.d.MediaType, nil }

// layoutIndex is a v1.ImageIndex over a layout's blobs, at any depth.
type layoutIndex struct {
	ctx context.Context
	l   *ociLayout
	raw []byte
	mt  types.MediaType
	im  *v1.IndexManifest
}

func (x *layoutIndex) MediaType() (types.MediaType, error)       { return x.mt, nil }
func (x *layoutIndex) Digest() (v1.Hash, error)                  { return sha256Of(x.raw), nil }
func (x *layoutIndex) Size() (int64, error)                      { return int64(len(x.raw)), nil }
func (x *layoutIndex) RawManifest() ([]byte, error)              { return x.raw, nil }
func (x *layoutIndex) IndexManifest() (*v1.IndexManifest, error) { return x.im.DeepCopy(), nil }
func (x *layoutIndex) Image(h v1.Hash) (v1.Image, error)         { return x.l.image(x.ctx, h) }
func (x *layoutIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return x.l.index(x.ctx, h)
}

// Layer refuses entries that are neither images nor indexes, as
// composed.Layer does.
func (x *layoutIndex) Layer(h v1.Hash) (v1.Layer, error) { return nil, unsupportedEntry(x, h) }
