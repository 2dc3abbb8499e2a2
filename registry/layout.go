package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// layoutRepo is the scheme of an OCI image layout on disk, as `buildx
// --output type=oci` (unpacked), `skopeo copy ... oci:` and `ctr export`
// write it. index.json is read on every look-up: it is small, and repairs
// write it. Any manifest in blobs/ can be read by digest, however deep it
// sits below index.json.
type layoutRepo struct {
	base ref.Ref
	dir  string
	path layout.Path
	mu   sync.Mutex // serializes index.json updates
}

func newLayoutRepo(base ref.Ref) *layoutRepo {
	return &layoutRepo{base: base, dir: base.Path, path: layout.Path(base.Path)}
}

func (l *layoutRepo) at(id string) ref.Ref { return at(l.base, id) }

// check reports whether the directory is a layout that can be read; r is
// the reference as given, for the message.
func (l *layoutRepo) check(r ref.Ref, write bool) error {
	if write {
		return l.checkWritable()
	}
	info, err := os.Stat(l.dir)
	if err != nil || !info.IsDir() {
		return fmt.Errorf("%w %q: %s is not a directory; give the folder written by `buildx --output type=oci,dest=DIR,tar=false` or `skopeo copy ... oci:DIR`", ErrInvalidTarget, r.Written(), l.dir)
	}
	if _, err := os.Stat(filepath.Join(l.dir, "index.json")); err != nil {
		return fmt.Errorf("%w %q: %s has no index.json, so it is not an OCI image layout", ErrInvalidTarget, r.Written(), l.dir)
	}
	return nil
}

func (l *layoutRepo) readIndex() (*v1.IndexManifest, error) {
	f, err := os.Open(filepath.Join(l.dir, "index.json"))
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

// entry finds the index.json entry for a ref name, or describes a digest
// (listed in index.json or not: children are blobs too).
func (l *layoutRepo) entry(id string) (v1.Descriptor, error) {
	idx, err := l.readIndex()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, d := range idx.Manifests {
		if d.Annotations[specs.AnnotationRefName] == id || d.Digest.String() == id {
			return d, nil
		}
	}
	if h, err := v1.NewHash(id); err == nil {
		return v1.Descriptor{Digest: h}, nil
	}
	return v1.Descriptor{}, fmt.Errorf("%w: %s has no entry named %q in index.json", tree.ErrMissing, l.dir, id)
}

func (l *layoutRepo) head(_ context.Context, id string) (v1.Descriptor, error) {
	d, err := l.entry(id)
	if err != nil {
		return v1.Descriptor{}, err
	}
	if _, err := os.Stat(l.blobPath(d.Digest)); err != nil {
		return v1.Descriptor{}, fmt.Errorf("%w: blobs/%s/%s is not in the layout %s", tree.ErrMissing, d.Digest.Algorithm, d.Digest.Hex, l.dir)
	}
	return d, nil
}

func (l *layoutRepo) manifest(_ context.Context, id string) (fetched, error) {
	d, err := l.entry(id)
	if err != nil {
		return fetched{}, err
	}
	raw, err := l.read(d.Digest, maxManifestBytes, "manifest")
	if d.Size == 0 {
		d.Size = int64(len(raw))
	}
	if err != nil {
		return fetched{desc: d, raw: raw}, fmt.Errorf("reading manifest %s: %w", l.at(id), err)
	}
	return fetched{desc: d, raw: raw}, nil
}

func (l *layoutRepo) blob(_ context.Context, d v1.Hash, limit int64, what string) ([]byte, error) {
	raw, err := l.read(d, limit, what)
	if err != nil {
		return raw, fmt.Errorf("reading %s %s: %w", what, l.at(d.String()), err)
	}
	return raw, nil
}

func (l *layoutRepo) blobPath(d v1.Hash) string {
	return filepath.Join(l.dir, "blobs", d.Algorithm, d.Hex)
}

// read returns a blob's bytes, checked against its digest.
func (l *layoutRepo) read(d v1.Hash, limit int64, what string) ([]byte, error) {
	rc, err := l.openBlob(d)
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

func (l *layoutRepo) openBlob(d v1.Hash) (io.ReadCloser, error) {
	rc, err := l.path.Blob(d)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: blobs/%s/%s was not exported to the layout %s (a partial export, such as `docker save --platform` or `containerd export` without --all-platforms, leaves out other platforms)", tree.ErrMissing, d.Algorithm, d.Hex, l.dir)
	}
	return rc, err
}

func (l *layoutRepo) openLayer(_ context.Context, d v1.Hash) (io.ReadCloser, error) {
	rc, err := l.openBlob(d)
	if err != nil {
		return nil, fmt.Errorf("opening layer %s in %s: %w", d, l.dir, err)
	}
	return rc, nil
}

func (l *layoutRepo) tags(context.Context) ([]string, error) {
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

// referrers reads the layout's fallback referrers tag (sha256-<hex>): a
// layout has no referrers API.
func (l *layoutRepo) referrers(ctx context.Context, digest string) ([]v1.Descriptor, error) {
	f, err := l.manifest(ctx, ref.ReferrersTag(digest))
	if errors.Is(err, tree.ErrMissing) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(f.raw))
	if err != nil {
		return nil, fmt.Errorf("%w: the referrers tag %s is not an index: %v", ErrBadResponse, l.at(ref.ReferrersTag(digest)), err)
	}
	return idx.Manifests, nil
}
