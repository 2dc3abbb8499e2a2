package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mlaudit/mlaudit/tree"
)

// layoutSource is an OCI image layout on disk, as `buildx --output
// type=oci` writes it (unpacked). index.json is read on every look-up: it
// is small, and repairs write it.
type layoutSource struct {
	dir  string
	path layout.Path
}

func (l *layoutSource) readIndex() (*v1.IndexManifest, error) {
	f, err := os.Open(l.dir + "/index.json")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no index.json", tree.ErrMissing, l.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the layout %s: %w", l.dir, err)
	}
	defer f.Close()
	raw, err := readLimited(f, maxManifestBytes, l.dir+"/index.json")
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %s/index.json is not an OCI index: %v", ErrBadResponse, l.dir, err)
	}
	return idx, nil
}

// entry finds the index.json entry for a ref name or a digest.
func (l *layoutSource) entry(ref string) (v1.Descriptor, error) {
	idx, err := l.readIndex()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, d := range idx.Manifests {
		if d.Annotations[specs.AnnotationRefName] == ref || d.Digest.String() == ref {
			return d, nil
		}
	}
	if h, err := v1.NewHash(ref); err == nil {
		// A digest not listed in index.json may still be a child blob.
		return v1.Descriptor{Digest: h}, nil
	}
	return v1.Descriptor{}, fmt.Errorf("%w: %s has no entry named %q in index.json", tree.ErrMissing, l.dir, ref)
}

func (l *layoutSource) manifest(_ context.Context, ref string) (fetched, error) {
	d, err := l.entry(ref)
	if err != nil {
		return fetched{}, err
	}
	raw, err := l.read(d.Digest, maxManifestBytes, "manifest")
	if d.Size == 0 {
		d.Size = int64(len(raw))
	}
	if err != nil {
		return fetched{desc: d, raw: raw}, fmt.Errorf("reading manifest %s: %w", l.name(ref), err)
	}
	return fetched{desc: d, raw: raw}, nil
}

func (l *layoutSource) blob(_ context.Context, d v1.Hash, limit int64, what string) ([]byte, error) {
	raw, err := l.read(d, limit, what)
	if err != nil {
		return raw, fmt.Errorf("reading %s %s: %w", what, l.name(d.String()), err)
	}
	return raw, nil
}

// read returns a blob's bytes, checked against its digest.
func (l *layoutSource) read(d v1.Hash, limit int64, what string) ([]byte, error) {
	rc, err := l.path.Blob(d)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: blobs/%s/%s is not in the layout", tree.ErrMissing, d.Algorithm, d.Hex)
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := readLimited(rc, limit, what+" "+d.String())
	if err != nil {
		return nil, err
	}
	return raw, verify(raw, d, what, false)
}

func (l *layoutSource) tags(context.Context) ([]string, error) {
	idx, err := l.readIndex()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range idx.Manifests {
		if n := d.Annotations[specs.AnnotationRefName]; n != "" {
			out = append(out, n)
		} else {
			out = append(out, d.Digest.String())
		}
	}
	return out, nil
}

func (l *layoutSource) name(ref string) string {
	if strings.HasPrefix(ref, "sha256:") {
		return LayoutPrefix + l.dir + "@" + ref
	}
	return LayoutPrefix + l.dir + ":" + ref
}
