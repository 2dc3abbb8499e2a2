package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mlaudit/mlaudit/internal/atomicfile"
)

// annotationContainerdName is how containerd (`ctr export`, docker save
// with the containerd image store) names an entry; a moved tag keeps it.
const annotationContainerdName = "io.containerd.image.name"

// open returns the layout to write to, creating it in a directory that
// does not exist or is empty (or holds only what an interrupted creation
// left: oci-layout and blobs/). A directory holding other files is
// refused: writing a layout into it would mix the two. index.json is
// created last and atomically, so it exists only in a whole layout.
func (l *layoutRepo) open() (layout.Path, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := os.Stat(filepath.Join(l.dir, "index.json")); err == nil {
		return l.path, nil
	}
	if err := l.checkWritable(); err != nil {
		return "", err
	}
	if err := l.path.WriteFile("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		return "", fmt.Errorf("creating the layout %s: %w", l.dir, err)
	}
	raw, err := empty.Index.RawManifest()
	if err == nil {
		err = atomicfile.WriteBytes(filepath.Join(l.dir, "index.json"), 0o644, raw)
	}
	if err != nil {
		return "", fmt.Errorf("creating the layout %s: %w", l.dir, err)
	}
	return l.path, nil
}

// checkWritable reports whether a layout can be written here: one exists,
// or the directory does not, or holds nothing a layout would not.
func (l *layoutRepo) checkWritable() error {
	if _, err := os.Stat(filepath.Join(l.dir, "index.json")); err == nil {
		return nil
	}
	entries, err := os.ReadDir(l.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("opening the layout %s: %w", l.dir, err)
	}
	for _, e := range entries {
		if e.Name() != "oci-layout" && e.Name() != "blobs" {
			return fmt.Errorf("%w: %s is not an OCI layout (it has no index.json) and is not empty; write to a new or empty directory", ErrInvalidTarget, l.dir)
		}
	}
	return nil
}

func (l *layoutRepo) push(_ context.Context, id string, t remote.Taggable) error {
	p, err := l.open()
	if err != nil {
		return err
	}
	var desc *v1.Descriptor
	switch v := t.(type) {
	case v1.ImageIndex:
		if err = p.WriteIndex(v); err == nil {
			desc, err = partial.Descriptor(v)
		}
	case v1.Image:
		if err = p.WriteImage(v); err == nil {
			desc, err = partial.Descriptor(v)
		}
	default:
		return fmt.Errorf("writing to the layout %s: %T is neither an image nor an index", l.dir, t)
	}
	if err != nil {
		return fmt.Errorf("writing to the layout %s: %w", l.dir, err)
	}
	if _, err := v1.NewHash(id); err == nil || id == "" {
		return nil // by digest: the blobs, no entry
	}
	return l.setEntry(id, *desc)
}

func (l *layoutRepo) pushIndex(_ context.Context, idx v1.ImageIndex) error {
	p, err := l.open()
	if err == nil {
		err = p.WriteIndex(idx)
	}
	if err != nil {
		return fmt.Errorf("writing the index to the layout %s: %w", l.dir, err)
	}
	return nil
}

func (l *layoutRepo) moveTag(_ context.Context, tag string, raw []byte, mt types.MediaType) error {
	if _, err := l.open(); err != nil {
		return err
	}
	digest := sha256Of(raw)
	// Written here rather than with go-containerregistry's WriteBlob, which
	// writes in place and takes any file of that name as present: a blob
	// cut short by a killed run would be trusted.
	if existing, err := l.read(dirFiles(l.dir), digest, maxManifestBytes, "manifest"); err != nil || !bytes.Equal(existing, raw) {
		dir := filepath.Join(l.dir, "blobs", digest.Algorithm)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("writing to the layout %s: %w", l.dir, err)
		}
		if err := atomicfile.WriteBytes(filepath.Join(dir, digest.Hex), 0o644, raw); err != nil {
			return fmt.Errorf("writing to the layout %s: %w", l.dir, err)
		}
	}
	return l.setEntry(tag, v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: digest})
}

func (l *layoutRepo) delete(context.Context, string) error {
	return fmt.Errorf("%w %s: mlaudit does not delete from OCI layouts", ErrInvalidTarget, l.base)
}

// setEntry points index.json's entry named tag at desc, in place, keeping
// the entry's name annotations, or adds one. index.json is replaced
// atomically (go-containerregistry's layout rewrites it in place, twice
// for a replacement), so a killed write leaves the old index.json whole.
func (l *layoutRepo) setEntry(tag string, desc v1.Descriptor) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	idx, err := l.readIndex()
	if err != nil {
		return err
	}
	entry := v1.Descriptor{MediaType: desc.MediaType, Size: desc.Size, Digest: desc.Digest, Annotations: map[string]string{specs.AnnotationRefName: tag}}
	replaced := false
	for i, d := range idx.Manifests {
		if d.Annotations[specs.AnnotationRefName] == tag {
			if n, ok := d.Annotations[annotationContainerdName]; ok {
				entry.Annotations[annotationContainerdName] = n
			}
			idx.Manifests[i], replaced = entry, true
		}
	}
	if !replaced {
		idx.Manifests = append(idx.Manifests, entry)
	}
	b, err := json.MarshalIndent(idx, "", "   ") // as go-containerregistry writes it
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(l.dir, "index.json"), 0o644, b); err != nil {
		return fmt.Errorf("updating %s/index.json: %w", l.dir, err)
	}
	return nil
}
