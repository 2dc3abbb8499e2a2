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

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// layoutFiles is the way to an OCI image layout's files: a directory
// (dirFiles) or a tar archive's index (archiveContent, which also shows a
// classic docker save as a layout). Names are slash-separated, below the
// layout's root ("index.json", "blobs/sha256/<hex>").
type layoutFiles interface {
	// open streams the file name, or returns an error wrapping
	// fs.ErrNotExist.
	open(name string) (io.ReadCloser, error)
	// has reports whether the file name is there.
	has(name string) bool
}

// dirFiles is a layout directory's files.
type dirFiles string

func (d dirFiles) path(name string) string { return filepath.Join(string(d), filepath.FromSlash(name)) }

func (d dirFiles) open(name string) (io.ReadCloser, error) { return os.Open(d.path(name)) }

func (d dirFiles) has(name string) bool {
	_, err := os.Stat(d.path(name))
	return err == nil
}

// blobPath is the file holding the blob d in a layout.
func blobPath(d v1.Hash) string { return "blobs/" + d.Algorithm + "/" + d.Hex }

// ociLayout reads an OCI image layout wherever its files lie: it is the
// reading half of layoutRepo (a directory) and archiveRepo (a tar), whose
// scheme methods it gives them: index.json's entries by name, any manifest
// or blob by digest however deep it sits below index.json (each checked
// against its digest), the listed names, and the fallback referrers tag.
// Only the way to the files (load) and the wording of errors differ.
type ociLayout struct {
	base ref.Ref
	// where names the layout in messages ("the layout DIR", "the
	// archive FILE").
	where string
	// naming is how index.json's entries are named.
	naming naming
	// partial says, in the error for a blob the layout does not hold,
	// what leaves blobs out.
	partial string
	// load gives the layout's files and index.json's entries as they are
	// now.
	load func() (layoutFiles, []v1.Descriptor, error)
	// fresh, when set, is load for lookups by name (a tag's resolution,
	// the names listed): where load gives a version read before, fresh
	// checks that it is still the one on disk.
	fresh func() (layoutFiles, []v1.Descriptor, error)
}

// byName is how lookups by name load the layout: fresh, or load.
func (o *ociLayout) byName() (layoutFiles, []v1.Descriptor, error) {
	if o.fresh != nil {
		return o.fresh()
	}
	return o.load()
}

// naming is how a layout's entries are named: by annotations, the one
// listed as the entry's tag first.
type naming struct {
	keys []string
	// loose matches Docker image names as Docker does: "app:1.0" is
	// "docker.io/library/app:1.0".
	loose bool
}

var (
	// refNames: an OCI layout's ref names.
	refNames = naming{keys: []string{specs.AnnotationRefName}}
	// archiveNames: an OCI archive's ref names, or containerd's image
	// names where there is none.
	archiveNames = naming{keys: []string{specs.AnnotationRefName, annotationContainerdName}}
	// saveNames: a docker save's image names, as it was given them.
	saveNames = naming{keys: []string{annotationContainerdName, specs.AnnotationRefName}, loose: true}
)

// names are what the entry d is called, the listed name first.
func (n naming) names(d v1.Descriptor) []string {
	var out []string
	for _, k := range n.keys {
		if v := d.Annotations[k]; v != "" {
			out = append(out, v)
		}
	}
	return out
}

// match reports whether id names the entry d.
func (n naming) match(d v1.Descriptor, id string) bool {
	if d.Digest.String() == id {
		return true
	}
	for _, name := range n.names(d) {
		if name == id || (n.loose && sameImageName(name, id)) {
			return true
		}
	}
	return false
}

func (o *ociLayout) at(id string) ref.Ref { return at(o.base, id) }

// parseIndex parses index.json's bytes.
func (o *ociLayout) parseIndex(raw []byte) (*v1.IndexManifest, error) {
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: index.json in %s is not an OCI index: %v", ErrBadResponse, o.where, err)
	}
	return idx, nil
}

// entry finds the entry id names (a name, or a digest listed), or
// describes a digest that is not listed (children are blobs too).
func (o *ociLayout) entry(id string) (layoutFiles, v1.Descriptor, error) {
	load := o.byName
	if _, err := v1.NewHash(id); err == nil {
		load = o.load
	}
	files, entries, err := load()
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	for _, d := range entries {
		if o.naming.match(d, id) {
			return files, d, nil
		}
	}
	if h, err := v1.NewHash(id); err == nil {
		return files, v1.Descriptor{Digest: h}, nil
	}
	var names []string
	for _, d := range entries {
		names = append(names, o.naming.names(d)...)
	}
	return nil, v1.Descriptor{}, fmt.Errorf("%w: %s has no image named %q (it has %q)", tree.ErrMissing, o.where, id, names)
}

func (o *ociLayout) head(_ context.Context, id string) (v1.Descriptor, error) {
	files, d, err := o.entry(id)
	if err != nil {
		return v1.Descriptor{}, err
	}
	if !files.has(blobPath(d.Digest)) {
		return v1.Descriptor{}, o.notExported(d.Digest)
	}
	return d, nil
}

func (o *ociLayout) manifest(_ context.Context, id string) (fetched, error) {
	files, d, err := o.entry(id)
	if err != nil {
		return fetched{}, err
	}
	raw, err := o.read(files, d.Digest, maxManifestBytes, "manifest")
	if d.Size == 0 {
		d.Size = int64(len(raw))
	}
	if err != nil {
		return fetched{desc: d, raw: raw}, fmt.Errorf("reading manifest %s: %w", o.at(id), err)
	}
	return fetched{desc: d, raw: raw}, nil
}

func (o *ociLayout) blob(_ context.Context, d v1.Hash, limit int64, what string) ([]byte, error) {
	files, _, err := o.load()
	if err != nil {
		return nil, err
	}
	raw, err := o.read(files, d, limit, what)
	if err != nil {
		return raw, fmt.Errorf("reading %s %s: %w", what, o.at(d.String()), err)
	}
	return raw, nil
}

// read returns a blob's bytes, checked against its digest.
func (o *ociLayout) read(files layoutFiles, d v1.Hash, limit int64, what string) ([]byte, error) {
	rc, err := o.open(files, d)
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

// open streams a blob, unchecked: the deep check and go-containerregistry
// check what they read.
func (o *ociLayout) open(files layoutFiles, d v1.Hash) (io.ReadCloser, error) {
	rc, err := files.open(blobPath(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, o.notExported(d)
	}
	return rc, err
}

// notExported is the error for a blob the layout does not hold.
func (o *ociLayout) notExported(d v1.Hash) error {
	return fmt.Errorf("%w: %s was not exported to %s (%s)", tree.ErrMissing, d, o.where, o.partial)
}

func (o *ociLayout) openLayer(_ context.Context, d v1.Hash) (io.ReadCloser, error) {
	files, _, err := o.load()
	if err != nil {
		return nil, err
	}
	rc, err := o.open(files, d)
	if err != nil {
		return nil, fmt.Errorf("opening layer %s in %s: %w", d, o.where, err)
	}
	return rc, nil
}

// tags lists an entry per name (its listed name); unnamed entries by
// digest.
func (o *ociLayout) tags(context.Context) ([]string, error) {
	_, entries, err := o.byName()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range entries {
		if names := o.naming.names(d); len(names) > 0 {
			out = append(out, names[0])
		} else {
			out = append(out, d.Digest.String())
		}
	}
	return out, nil
}

// referrers reads the fallback referrers tag (sha256-<hex>): a layout has
// no referrers API.
func (o *ociLayout) referrers(ctx context.Context, digest string) ([]v1.Descriptor, error) {
	f, err := o.manifest(ctx, ref.ReferrersTag(digest))
	if errors.Is(err, tree.ErrMissing) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(f.raw))
	if err != nil {
		return nil, fmt.Errorf("%w: the referrers tag %s is not an index: %v", ErrBadResponse, o.at(ref.ReferrersTag(digest)), err)
	}
	return idx.Manifests, nil
}
