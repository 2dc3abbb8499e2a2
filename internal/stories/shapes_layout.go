package stories

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	specsgo "github.com/opencontainers/image-spec/specs-go"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Writing the shapes' OCI layouts by hand, with go-containerregistry's
// layout package: whole indexes, blobs and hand-written JSON, and the
// removal of what a partial export leaves out.

// newLayout writes a new OCI layout at dir holding idx, its index.json
// entry annotated as given (its name, and the engine's for an export).
func newLayout(dir string, idx v1.ImageIndex, annotations map[string]string) (layout.Path, error) {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return "", err
	}
	return p, p.AppendIndex(idx, layout.WithAnnotations(annotations))
}

// removeImageBlobs deletes img's manifest, config and layers from the
// layout at dir.
func removeImageBlobs(dir string, img v1.Image) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	h, err := img.Digest()
	if err != nil {
		return err
	}
	for _, d := range append([]v1.Hash{h, m.Config.Digest}, layerDigests(m)...) {
		if err := os.Remove(filepath.Join(dir, "blobs", d.Algorithm, d.Hex)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func layerDigests(m *v1.Manifest) []v1.Hash {
	var out []v1.Hash
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// versioned is schemaVersion 2, as every manifest and index has.
var versioned = specsgo.Versioned{SchemaVersion: 2}

// writeBlob stores b in the layout and describes it as mt.
func writeBlob(p layout.Path, mt types.MediaType, b []byte) (specs.Descriptor, error) {
	h, n, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return specs.Descriptor{}, err
	}
	if err := p.WriteBlob(h, io.NopCloser(bytes.NewReader(b))); err != nil {
		return specs.Descriptor{}, err
	}
	return specs.Descriptor{MediaType: string(mt), Digest: digest.Digest(h.String()), Size: n}, nil
}

// writeJSON stores a manifest or index of media type mt and describes it.
func writeJSON(p layout.Path, mt string, v any) (specs.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return specs.Descriptor{}, err
	}
	return writeBlob(p, types.MediaType(mt), b)
}

// tag names a stored manifest in the layout's index.json.
func tag(p layout.Path, d specs.Descriptor, name string) error {
	h, err := v1.NewHash(d.Digest.String())
	if err != nil {
		return err
	}
	return p.AppendDescriptor(v1.Descriptor{
		MediaType: types.MediaType(d.MediaType), Size: d.Size, Digest: h,
		Annotations: map[string]string{specs.AnnotationRefName: name},
	})
}

// descriptorOf describes an index as a subject.
func descriptorOf(idx v1.ImageIndex) (specs.Descriptor, error) {
	h, err := idx.Digest()
	if err != nil {
		return specs.Descriptor{}, err
	}
	n, err := idx.Size()
	if err != nil {
		return specs.Descriptor{}, err
	}
	mt, err := idx.MediaType()
	if err != nil {
		return specs.Descriptor{}, err
	}
	return specs.Descriptor{MediaType: string(mt), Digest: digest.Digest(h.String()), Size: n}, nil
}
