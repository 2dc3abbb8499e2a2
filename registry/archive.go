package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/ref"
)

// archiveRepo is the scheme of a tar archive, read in place: an OCI
// layout in a tar (oci-archive:, what `buildx --output type=oci,dest=`,
// `skopeo copy ... oci-archive:` and `ctr export` write) or what `docker
// save` writes (docker-archive:): with the containerd image store an OCI
// layout whose index.json entries carry io.containerd.image.name, else the
// classic manifest.json, one image per entry, whose manifests mlaudit
// writes itself from the configs and layers it lists (see
// archive_docker.go). Either is read as a layout (ociLayout) whose files
// are the archive's index (archive_tar.go). An OCI archive in a file is
// written by rewriting it whole (archive_write.go); a docker save and
// standard input are read only.
//
// Each version of the file is read once and kept (its content indexed,
// the file open until Client.Close). Lookups by name (a tag's
// resolution, the tags) first check that the file on disk is still the
// version read (sameFile) and read it anew if another program replaced
// it, as a layout's index.json is read on every lookup; a rewrite refuses
// to write over a file that changed since its version was read
// ([ErrArchiveChanged]).
type archiveRepo struct {
	ociLayout

	mu  sync.Mutex
	cur *archiveRead // the archive as last read or written
	wmu sync.Mutex   // serializes rewrites
}

// archiveRead is one version of the archive's file, loaded once.
type archiveRead struct {
	tar     *lazyTar
	once    sync.Once
	content *archiveContent
	err     error
}

func newArchiveRepo(base ref.Ref, t *lazyTar) *archiveRepo {
	a := &archiveRepo{cur: &archiveRead{tar: t}}
	where := "the archive " + base.Path
	if base.Path == "-" {
		where = "the archive on standard input"
	}
	a.ociLayout = ociLayout{
		base:    base,
		where:   where,
		naming:  archiveNames,
		partial: "an export of some platforms only (`ctr export` without --all-platforms) leaves out the others",
		load: func() (layoutFiles, []v1.Descriptor, error) {
			c, err := a.load()
			if err != nil {
				return nil, nil, err
			}
			return c, c.entries, nil
		},
		fresh: func() (layoutFiles, []v1.Descriptor, error) {
			c, err := a.fresh()
			if err != nil {
				return nil, nil, err
			}
			return c, c.entries, nil
		},
	}
	if base.Scheme == ref.DockerArchive {
		a.naming = saveNames
		a.partial = "`docker save --platform`, or saving an image the engine holds only some platforms of, leaves out the others: pull every platform first, then docker save without --platform"
	}
	return a
}

// archiveContent is what an archive holds, in either shape, as a
// layout's files.
type archiveContent struct {
	t *tarFile
	// entries are index.json's manifests, or one per classic manifest.json
	// image and name.
	entries []v1.Descriptor
	// made are the manifests written for a classic save, and files the
	// archive's files holding its configs and layers, by blob path
	// (blobs/ALG/HEX). Other blobs are at their blob path.
	made  map[string][]byte
	files map[string]string
}

// file is the archive's file holding the layout's file name.
func (c *archiveContent) file(name string) string {
	if f, ok := c.files[name]; ok {
		return f
	}
	return name
}

func (c *archiveContent) open(name string) (io.ReadCloser, error) {
	if raw, ok := c.made[name]; ok {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}
	r, err := c.t.open(c.file(name))
	if err != nil {
		return nil, err
	}
	return io.NopCloser(r), nil
}

func (c *archiveContent) has(name string) bool {
	_, ok := c.made[name]
	return ok || c.t.has(c.file(name))
}

// lazyTar is one version of an archive file, indexed on first use; the
// oci-archive: and docker-archive: schemes of one file (standard input
// included) share it. A lazyTar made with its tarFile (an engine's save)
// is never read from a path.
type lazyTar struct {
	path  string
	stdin io.Reader
	files *fileSet
	once  sync.Once
	t     *tarFile
	err   error
	// info is the file opened (nil for standard input and an engine's
	// save), whose identity later reads compare with the path's.
	info os.FileInfo
}

func (l *lazyTar) get() (*tarFile, error) {
	l.once.Do(func() { l.t, l.info, l.err = openTar(l.path, l.stdin, l.files) })
	return l.t, l.err
}

// current reports whether the file at the path is still the version l
// read: the same file, or still no file. Standard input, an engine's save
// and a version not read yet are current.
func (l *lazyTar) current() bool {
	if l.path == "-" || l.files == nil {
		return true
	}
	l.get()
	now, err := os.Stat(l.path)
	switch {
	case l.info != nil:
		return err == nil && sameFile(l.info, now)
	case errors.Is(l.err, errNoArchive):
		return errors.Is(err, fs.ErrNotExist)
	}
	return true
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
		t = &lazyTar{path: r.Path, stdin: stdin, files: &c.files}
		s.tars[key] = t
	}
	a := newArchiveRepo(r.Repo(), t)
	s.repos[string(r.Scheme)+":"+key] = a
	return a
}

// load indexes the version of the archive last read or written and reads
// its index.json or manifest.json, once.
func (a *archiveRepo) load() (*archiveContent, error) {
	_, c, err := a.version()
	return c, err
}

// version is the archive's version last read or written, loaded.
func (a *archiveRepo) version() (*archiveRead, *archiveContent, error) {
	a.mu.Lock()
	r := a.cur
	a.mu.Unlock()
	r.once.Do(func() { r.content, r.err = a.loadTar(r.tar) })
	return r, r.content, r.err
}

// fresh is the archive as the file is now: the version last read, or,
// when another program replaced the file since, the new one, read.
func (a *archiveRepo) fresh() (*archiveContent, error) {
	r, c, err := a.version()
	if r.tar.current() {
		return c, err
	}
	a.mu.Lock()
	if a.cur == r {
		a.cur = &archiveRead{tar: &lazyTar{path: r.tar.path, files: r.tar.files}}
	}
	a.mu.Unlock()
	return a.load()
}

// loadTar indexes the archive and reads its index.json or manifest.json.
func (a *archiveRepo) loadTar(lt *lazyTar) (*archiveContent, error) {
	t, err := lt.get()
	if err != nil {
		return nil, err
	}
	switch {
	case t.has("index.json"):
		return a.loadOCI(t)
	case t.has("manifest.json") && a.base.Scheme == ref.DockerArchive:
		return a.loadClassic(t)
	case t.has("manifest.json"):
		return nil, fmt.Errorf("%w: %s has no index.json but a manifest.json: it is a classic docker save; audit it as docker-archive:%s", ErrInvalidTarget, a.where, a.base.Path)
	}
	return nil, fmt.Errorf("%w: %s has neither index.json nor manifest.json, so it is neither an OCI archive nor a docker save", ErrInvalidTarget, a.where)
}

func (a *archiveRepo) loadOCI(t *tarFile) (*archiveContent, error) {
	raw, err := t.readFile("index.json", maxManifestBytes)
	if err != nil {
		return nil, err
	}
	idx, err := a.parseIndex(raw)
	if err != nil {
		return nil, err
	}
	return &archiveContent{t: t, entries: idx.Manifests}, nil
}

// check opens and indexes the archive: a file that is not one is refused
// before any audit (standard input is read here, once). As a destination,
// an OCI archive in a file that exists must be one; one that does not
// exist is created.
func (a *archiveRepo) check(r ref.Ref, write bool) error {
	if write {
		if err := a.writable(); err != nil {
			return fmt.Errorf("%w %q: %v", ErrInvalidTarget, r.Written(), err)
		}
	}
	if r.Path != "-" {
		if info, err := os.Stat(r.Path); err == nil && info.IsDir() {
			return fmt.Errorf("%w %q: %s is a directory; audit an unpacked layout as oci:%s", ErrInvalidTarget, r.Written(), r.Path, r.Path)
		}
	}
	_, err := a.load()
	if write && errors.Is(err, errNoArchive) {
		return nil
	}
	return err
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
