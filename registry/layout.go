package registry

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// layoutRepo is the scheme of an OCI image layout on disk, as `buildx
// --output type=oci` (unpacked), `skopeo copy ... oci:` and `ctr export`
// write it. It reads as every layout is read (ociLayout, over the
// directory's files); index.json is read on every look-up: it is small,
// and repairs write it (layout_write.go).
type layoutRepo struct {
	ociLayout
	dir  string
	path layout.Path
	mu   sync.Mutex // serializes index.json updates
}

func newLayoutRepo(base ref.Ref) *layoutRepo {
	l := &layoutRepo{dir: base.Path, path: layout.Path(base.Path)}
	l.ociLayout = ociLayout{
		base:    base,
		where:   "the layout " + base.Path,
		naming:  refNames,
		partial: "a partial export, such as `docker save --platform` or `containerd export` without --all-platforms, leaves out other platforms",
		load: func() (layoutFiles, []v1.Descriptor, error) {
			idx, err := l.readIndex()
			if err != nil {
				return nil, nil, err
			}
			return dirFiles(l.dir), idx.Manifests, nil
		},
	}
	return l
}

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
	f, err := dirFiles(l.dir).open("index.json")
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
	return l.parseIndex(raw)
}
