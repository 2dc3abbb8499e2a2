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

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// archiveRepo is the scheme of a tar archive, read in place: an OCI
// layout in a tar (oci-archive:, what `buildx --output type=oci,dest=`,
// `skopeo copy ... oci-archive:` and `ctr export` write) or what `docker
// save` writes (docker-archive:): with the containerd image store an OCI
// layout whose index.json entries carry io.containerd.image.name, else the
// classic manifest.json, one image per entry, whose manifests mlaudit
// writes itself from the configs and layers it lists (see
// archive_docker.go). Reads go through the archive's index (archive_tar.go);
// an archive is never written (repair --to oci:DIR writes a layout).
type archiveRepo struct {
	base ref.Ref
	tar  *lazyTar

	once    sync.Once
	content *archiveContent
	err     error
}

// archiveContent is what an archive holds, in either shape.
type archiveContent struct {
	t *tarFile
	// entries are index.json's manifests, or one per classic manifest.json
	// image and name.
	entries []v1.Descriptor
	// made are the manifests written for a classic save, by digest; files
	// its configs and layers, by digest. Other blobs are blobs/ALG/HEX.
	made  map[v1.Hash][]byte
	files map[v1.Hash]string
}

// lazyTar is one archive file, indexed on first use; the oci-archive: and
// docker-archive: schemes of one file (standard input included) share it.
type lazyTar struct {
	path  string
	stdin io.Reader
	once  sync.Once
	t     *tarFile
	err   error
}

func (l *lazyTar) get() (*tarFile, error) {
	l.once.Do(func() { l.t, l.err = openTar(l.path, l.stdin) })
	return l.t, l.err
}

// archiveSet holds a Client's archives, each opened and indexed once per
// run. The zero value is ready; stdin is os.Stdin unless set.
type archiveSet struct {
	mu    sync.Mutex
	stdin io.Reader
	tars  map[string]*lazyTar
	repos map[string]*archiveRepo
}

// archive is the scheme of r's archive, made once per run and keyed by
// absolute path.
func (c *Client) archive(r ref.Ref) *archiveRepo {
	s := &c.archives
	key := r.Path
	if abs, err := filepath.Abs(r.Path); err == nil && r.Path != "-" {
		key = abs
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tars == nil {
		s.tars, s.repos = map[string]*lazyTar{}, map[string]*archiveRepo{}
	}
	if a, ok := s.repos[string(r.Scheme)+":"+key]; ok {
		return a
	}
	t, ok := s.tars[key]
	if !ok {
		stdin := s.stdin
		if stdin == nil {
			stdin = os.Stdin
		}
		t = &lazyTar{path: r.Path, stdin: stdin}
		s.tars[key] = t
	}
	a := &archiveRepo{base: r.Repo(), tar: t}
	s.repos[string(r.Scheme)+":"+key] = a
	return a
}

func (a *archiveRepo) at(id string) ref.Ref { return at(a.base, id) }

// what names the archive in messages.
func (a *archiveRepo) what() string {
	if a.base.Path == "-" {
		return "the archive on standard input"
	}
	return "the archive " + a.base.Path
}

// load indexes the archive and reads its index.json or manifest.json, once.
func (a *archiveRepo) load() (*archiveContent, error) {
	a.once.Do(func() {
		t, err := a.tar.get()
		if err != nil {
			a.err = err
			return
		}
		switch {
		case t.has("index.json"):
			a.content, a.err = a.loadOCI(t)
		case t.has("manifest.json") && a.base.Scheme == ref.DockerArchive:
			a.content, a.err = a.loadClassic(t)
		case t.has("manifest.json"):
			a.err = fmt.Errorf("%w: %s has no index.json but a manifest.json: it is a classic docker save; audit it as docker-archive:%s", ErrInvalidTarget, a.what(), a.base.Path)
		default:
			a.err = fmt.Errorf("%w: %s has neither index.json nor manifest.json, so it is neither an OCI archive nor a docker save", ErrInvalidTarget, a.what())
		}
	})
	return a.content, a.err
}

func (a *archiveRepo) loadOCI(t *tarFile) (*archiveContent, error) {
	raw, err := t.readFile("index.json", maxManifestBytes)
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: index.json in %s is not an OCI index: %v", ErrBadResponse, a.what(), err)
	}
	return &archiveContent{t: t, entries: idx.Manifests}, nil
}

// check opens and indexes the archive: a file that is not one is refused
// before any audit (standard input is read here, once). Archives are read
// only.
func (a *archiveRepo) check(r ref.Ref, write bool) error {
	if write {
		return fmt.Errorf("%w %q: mlaudit does not write archives; write a layout (oci:DIR:TAG) and tar it (tar -cf out.tar -C DIR .)", ErrInvalidTarget, r.Written())
	}
	if r.Path != "-" {
		if info, err := os.Stat(r.Path); err == nil && info.IsDir() {
			return fmt.Errorf("%w %q: %s is a directory; audit an unpacked layout as oci:%s", ErrInvalidTarget, r.Written(), r.Path, r.Path)
		}
	}
	_, err := a.load()
	return err
}

// names are what an entry is called: its ref name and its containerd
// image name.
func entryNames(d v1.Descriptor) []string {
	var out []string
	for _, k := range []string{specs.AnnotationRefName, annotationContainerdName} {
		if n := d.Annotations[k]; n != "" {
			out = append(out, n)
		}
	}
	return out
}

// sameImageName reports whether two Docker references name one image
// ("app:1.0" and "docker.io/library/app:1.0").
func sameImageName(a, b string) bool {
	if a == b {
		return true
	}
	ra, err1 := name.ParseReference(a)
	rb, err2 := name.ParseReference(b)
	return err1 == nil && err2 == nil && ra.Name() == rb.Name()
}

// entry finds the entry id names (a ref name, an image name as docker
// save was given it, or a digest), or describes a digest not listed.
func (a *archiveRepo) entry(id string) (*archiveContent, v1.Descriptor, error) {
	c, err := a.load()
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	for _, d := range c.entries {
		if d.Digest.String() == id {
			return c, d, nil
		}
		for _, n := range entryNames(d) {
			if n == id || (a.base.Scheme == ref.DockerArchive && sameImageName(n, id)) {
				return c, d, nil
			}
		}
	}
	if h, err := v1.NewHash(id); err == nil {
		return c, v1.Descriptor{Digest: h}, nil
	}
	var names []string
	for _, d := range c.entries {
		names = append(names, entryNames(d)...)
	}
	return nil, v1.Descriptor{}, fmt.Errorf("%w: %s has no image named %q (it has %q)", tree.ErrMissing, a.what(), id, names)
}

func (a *archiveRepo) head(_ context.Context, id string) (v1.Descriptor, error) {
	c, d, err := a.entry(id)
	if err != nil {
		return v1.Descriptor{}, err
	}
	if _, ok := c.made[d.Digest]; !ok && !c.t.has(c.blobName(d.Digest)) {
		return v1.Descriptor{}, a.notExported(d.Digest)
	}
	return d, nil
}

func (a *archiveRepo) manifest(_ context.Context, id string) (fetched, error) {
	c, d, err := a.entry(id)
	if err != nil {
		return fetched{}, err
	}
	raw, err := a.read(c, d.Digest, maxManifestBytes, "manifest")
	if d.Size == 0 {
		d.Size = int64(len(raw))
	}
	if err != nil {
		return fetched{desc: d, raw: raw}, fmt.Errorf("reading manifest %s: %w", a.at(id), err)
	}
	return fetched{desc: d, raw: raw}, nil
}

func (a *archiveRepo) blob(_ context.Context, d v1.Hash, limit int64, what string) ([]byte, error) {
	c, err := a.load()
	if err != nil {
		return nil, err
	}
	raw, err := a.read(c, d, limit, what)
	if err != nil {
		return raw, fmt.Errorf("reading %s %s: %w", what, a.at(d.String()), err)
	}
	return raw, nil
}

// blobName is the file holding the blob d.
func (c *archiveContent) blobName(d v1.Hash) string {
	if f, ok := c.files[d]; ok {
		return f
	}
	return "blobs/" + d.Algorithm + "/" + d.Hex
}

// read returns a blob's bytes, checked against its digest.
func (a *archiveRepo) read(c *archiveContent, d v1.Hash, limit int64, what string) ([]byte, error) {
	if raw, ok := c.made[d]; ok {
		return raw, nil
	}
	rc, err := a.open(c, d)
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

// open streams a blob (unchecked: the deep check and go-containerregistry
// check what they read).
func (a *archiveRepo) open(c *archiveContent, d v1.Hash) (io.ReadCloser, error) {
	if raw, ok := c.made[d]; ok {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}
	r, err := c.t.open(c.blobName(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, a.notExported(d)
	}
	if err != nil {
		return nil, err
	}
	return io.NopCloser(r), nil
}

// notExported is the error for a blob the archive does not hold.
func (a *archiveRepo) notExported(d v1.Hash) error {
	how := "an export of some platforms only (`ctr export` without --all-platforms) leaves out the others"
	if a.base.Scheme == ref.DockerArchive {
		how = "`docker save --platform`, or saving an image the engine holds only some platforms of, leaves out the others: pull every platform first, then docker save without --platform"
	}
	return fmt.Errorf("%w: %s was not exported to %s (%s)", tree.ErrMissing, d, a.what(), how)
}

func (a *archiveRepo) openLayer(_ context.Context, d v1.Hash) (io.ReadCloser, error) {
	c, err := a.load()
	if err != nil {
		return nil, err
	}
	rc, err := a.open(c, d)
	if err != nil {
		return nil, fmt.Errorf("opening layer %s in %s: %w", d, a.what(), err)
	}
	return rc, nil
}

// tags lists an entry per name: for an OCI archive its ref name, for a
// docker save the image name it was saved as; unnamed entries by digest.
func (a *archiveRepo) tags(context.Context) ([]string, error) {
	c, err := a.load()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range c.entries {
		names := entryNames(d)
		switch {
		case len(names) == 0:
			out = append(out, d.Digest.String())
		case a.base.Scheme == ref.DockerArchive:
			out = append(out, names[len(names)-1])
		default:
			out = append(out, names[0])
		}
	}
	return out, nil
}

// referrers reads the fallback referrers tag (sha256-<hex>), as a layout's.
func (a *archiveRepo) referrers(ctx context.Context, digest string) ([]v1.Descriptor, error) {
	f, err := a.manifest(ctx, ref.ReferrersTag(digest))
	if errors.Is(err, tree.ErrMissing) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(f.raw))
	if err != nil {
		return nil, fmt.Errorf("%w: the referrers tag %s is not an index: %v", ErrBadResponse, a.at(ref.ReferrersTag(digest)), err)
	}
	return idx.Manifests, nil
}

func (a *archiveRepo) readOnly() error {
	return fmt.Errorf("%w %s: mlaudit does not write archives; write a layout (oci:DIR:TAG) instead", ErrInvalidTarget, a.base)
}

func (a *archiveRepo) push(context.Context, string, remote.Taggable) error { return a.readOnly() }
func (a *archiveRepo) pushIndex(context.Context, v1.ImageIndex) error      { return a.readOnly() }
func (a *archiveRepo) moveTag(context.Context, string, []byte, types.MediaType) error {
	return a.readOnly()
}
func (a *archiveRepo) delete(context.Context, string) error { return a.readOnly() }
