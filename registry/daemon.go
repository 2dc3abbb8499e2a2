package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// daemonRepo is the scheme of one repository's images in the local Docker
// engine (docker-daemon:), read only. Each image is asked for once: image
// inspect with the manifests option says which manifests the engine holds
// and whether each one's content is there; the image save endpoint gives
// the content, a docker save tar, which is copied to a temporary file
// (removed at once; it lives until Client.Close) and read in place
// through an archiveRepo, as docker-archive: reads a file. The containerd
// image store saves an image's whole index but only the content it has,
// so a platform the engine lists as not available is reported missing.
type daemonRepo struct {
	c    *Client
	base ref.Ref // the repository, DockerDaemon scheme

	// mu guards images and what each image publishes once read (done,
	// info, archive, err): images of one repository are read side by
	// side, and each reads what the others loaded.
	mu     sync.Mutex
	images map[string]*daemonImage
}

// daemonImage is one image of the engine, as one name asked for it.
type daemonImage struct {
	name string // the Docker reference sent to the engine ("app:1.0")

	// loading is held while the image is read, so that it is read once.
	loading sync.Mutex

	// Set once, under daemonRepo.mu, when the image was read: info and
	// archive when it was, err when it could not be. A read cut short by
	// its context sets nothing: the next one asks again.
	done    bool
	info    *inspected
	archive *archiveRepo
	err     error
}

// daemonSet holds a Client's engine and its repositories; the zero value
// is ready.
type daemonSet struct {
	mu     sync.Mutex
	engine *engine
	repos  map[string]*daemonRepo
}

// daemon is the scheme of r's repository in the Docker engine, made once
// per run.
func (c *Client) daemon(r ref.Ref) *daemonRepo {
	s := &c.daemons
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repos == nil {
		s.repos = map[string]*daemonRepo{}
	}
	key := r.Repo().String()
	d, ok := s.repos[key]
	if !ok {
		d = &daemonRepo{c: c, base: r.Repo(), images: map[string]*daemonImage{}}
		s.repos[key] = d
	}
	return d
}

// engine is the Client's Docker engine, at $DOCKER_HOST, read once.
func (c *Client) engine() (*engine, error) {
	s := &c.daemons
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.engine == nil {
		addr, err := dockerHost()
		if err != nil {
			return nil, err
		}
		s.engine = c.newEngine(addr)
	}
	return s.engine, nil
}

func (d *daemonRepo) at(id string) ref.Ref { return at(d.base, id) }

// engineName is how the engine is asked for id in this repository: the
// name docker would print ("app", "org/app", "ghcr.io/org/app") and the
// tag or digest.
func (d *daemonRepo) engineName(id string) string {
	n := d.base.Registry + "/" + d.base.Repository
	if d.base.Registry == name.DefaultRegistry {
		n = strings.TrimPrefix(d.base.Repository, "library/")
	}
	if _, err := v1.NewHash(id); err == nil {
		return n + "@" + id
	}
	return n + ":" + id
}

// read is id's image, inspected and saved once (again only when a read
// was cut short by its context).
func (d *daemonRepo) read(ctx context.Context, id string) (*daemonImage, error) {
	d.mu.Lock()
	img, ok := d.images[id]
	if !ok {
		img = &daemonImage{name: d.engineName(id)}
		d.images[id] = img
	}
	d.mu.Unlock()
	img.loading.Lock()
	defer img.loading.Unlock()
	d.mu.Lock()
	done, err := img.done, img.err
	d.mu.Unlock()
	if done {
		return img, err
	}
	info, archive, err := d.load(ctx, img.name)
	if err != nil && ctx.Err() != nil {
		return nil, err // the caller's context ended: not this image's answer
	}
	d.mu.Lock()
	img.done, img.info, img.archive, img.err = true, info, archive, err
	d.mu.Unlock()
	return img, err
}

// load inspects and saves the image the engine calls name, and reads the
// save.
func (d *daemonRepo) load(ctx context.Context, name string) (*inspected, *archiveRepo, error) {
	e, err := d.c.engine()
	if err != nil {
		return nil, nil, err
	}
	info, err := e.inspect(ctx, name)
	var status *engineStatusError
	if errors.As(err, &status) && status.status == http.StatusNotFound {
		return nil, nil, fmt.Errorf("%w: the Docker engine at %s has no image %s; pull it (docker pull %s) or build it first (%v)", tree.ErrMissing, e.addr.host, name, name, err)
	}
	if err != nil {
		return nil, nil, err
	}
	body, err := e.save(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	defer body.Close()
	what := "docker save " + name
	f, err := spoolSave(ctx, body, what, &d.c.files)
	if err != nil {
		return nil, nil, err
	}
	t, err := indexTar(f, "("+what+")")
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("reading what the Docker engine at %s saved for %s: %w", e.addr.host, name, err)
	}
	if err := d.c.files.keep(f); err != nil {
		return nil, nil, err
	}
	lt := &lazyTar{path: "(" + what + ")"}
	lt.once.Do(func() { lt.t = t })
	archive := newArchiveRepo(ref.Ref{Scheme: ref.DockerArchive, Path: "(" + what + ")"}, lt)
	if _, err := archive.load(); err != nil {
		return nil, nil, fmt.Errorf("reading what the Docker engine at %s saved for %s: %w", e.addr.host, name, err)
	}
	return info, archive, nil
}

// spoolSave copies a save, at most MaxDaemonSave bytes, to a temporary
// file that is already removed (on Unix: it lives as long as the open
// file, that is until Client.Close; where an open file cannot be removed,
// files removes it then).
func spoolSave(ctx context.Context, r io.Reader, what string, files *fileSet) (*os.File, error) {
	f, err := files.temp("mlaudit-docker-save-*.tar")
	if err != nil {
		return nil, fmt.Errorf("copying %s to a temporary file: %w", what, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, MaxDaemonSave+1))
	if err == nil && n > MaxDaemonSave {
		err = fmt.Errorf("%w: it holds more than %d bytes; docker save it to a file (docker save -o save.tar IMAGE) and audit docker-archive:save.tar", ErrBadResponse, MaxDaemonSave)
	}
	if err != nil {
		discard(f)
		var te *TimeoutError
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.As(err, &te):
			return nil, fmt.Errorf("reading %s: %w", what, err)
		}
		return nil, fmt.Errorf("reading %s from the Docker engine: %s", what, redact(err.Error()))
	}
	return f, nil
}

// loaded are the images read so far, in a stable order.
func (d *daemonRepo) loaded() []*daemonImage {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := make([]string, 0, len(d.images))
	for id := range d.images {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []*daemonImage
	for _, id := range ids {
		if img := d.images[id]; img.archive != nil {
			out = append(out, img)
		}
	}
	return out
}

// holder is the image whose save holds the blob or manifest h, or the
// error for content the engine does not have: one it lists as not
// available, or one it never listed.
func (d *daemonRepo) holder(h v1.Hash) (*daemonImage, error) {
	imgs := d.loaded()
	if err := unavailable(imgs, h); err != nil {
		return nil, err
	}
	if img := saved(imgs, h); img != nil {
		return img, nil
	}
	return nil, fmt.Errorf("%w: %s is not in what the Docker engine saved for %s", tree.ErrMissing, h, d.base.Repository)
}

// saved is the first of imgs whose save holds h, or nil.
func saved(imgs []*daemonImage, h v1.Hash) *daemonImage {
	for _, img := range imgs {
		if c, err := img.archive.load(); err == nil && c.has(blobPath(h)) {
			return img
		}
	}
	return nil
}

// unavailable is the error for a manifest one of imgs lists as not
// available (its content is not in the engine, even when the save holds
// the manifest itself), or nil.
func unavailable(imgs []*daemonImage, h v1.Hash) error {
	for _, img := range imgs {
		for _, m := range img.info.Manifests {
			if m.Descriptor.Digest == h && !m.Available {
				return notAvailable(img, m)
			}
		}
	}
	return nil
}

// notAvailable is the error for a manifest the engine lists but does not
// hold the content of: a platform that was never pulled.
func notAvailable(img *daemonImage, m engineManifest) error {
	what := "manifest " + m.Descriptor.Digest.String()
	pull := "docker pull --platform PLATFORM " + img.name
	switch {
	case m.ImageData != nil && m.ImageData.Platform.OS != "":
		p := platform.Format(platform.FromV1(&m.ImageData.Platform))
		what = p + " (" + what + ")"
		pull = "docker pull --platform " + p + " " + img.name
	case m.Kind == "attestation":
		what = "the attestation " + what
	}
	return fmt.Errorf("%w: %s was not exported from the Docker engine: the engine lists it but does not hold its content (it was not pulled); %s, or audit the registry the image came from", tree.ErrMissing, what, pull)
}

// resolve turns a tag into the digest the engine's image points at, once
// the image is read; a digest is itself, looked for in the images read,
// and asked of the engine (name@digest) when none of them holds it, so
// that a digest target reads the same whichever images were read first.
func (d *daemonRepo) resolve(ctx context.Context, id string) (*daemonImage, v1.Hash, error) {
	if h, err := v1.NewHash(id); err == nil {
		imgs := d.loaded()
		if err := unavailable(imgs, h); err != nil {
			return nil, h, err
		}
		if img := saved(imgs, h); img != nil {
			return img, h, nil
		}
		img, err := d.read(ctx, id)
		if err != nil {
			return nil, v1.Hash{}, err
		}
		return img, h, nil
	}
	img, err := d.read(ctx, id)
	if err != nil {
		return nil, v1.Hash{}, err
	}
	if img.info.Descriptor != nil {
		return img, img.info.Descriptor.Digest, nil
	}
	// The classic image store: the save's one entry is the image.
	_, desc, err := img.archive.entry(img.name)
	if err != nil {
		return nil, v1.Hash{}, err
	}
	return img, desc.Digest, nil
}

func (d *daemonRepo) head(ctx context.Context, id string) (v1.Descriptor, error) {
	img, h, err := d.resolve(ctx, id)
	if err != nil {
		return v1.Descriptor{}, err
	}
	return img.archive.head(ctx, h.String())
}

func (d *daemonRepo) manifest(ctx context.Context, id string) (fetched, error) {
	img, h, err := d.resolve(ctx, id)
	if err != nil {
		return fetched{}, err
	}
	return img.archive.manifest(ctx, h.String())
}

func (d *daemonRepo) blob(ctx context.Context, h v1.Hash, limit int64, what string) ([]byte, error) {
	img, err := d.holder(h)
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", what, d.at(h.String()), err)
	}
	return img.archive.blob(ctx, h, limit, what)
}

func (d *daemonRepo) openLayer(ctx context.Context, h v1.Hash) (io.ReadCloser, error) {
	img, err := d.holder(h)
	if err != nil {
		return nil, fmt.Errorf("opening layer %s: %w", h, err)
	}
	return img.archive.openLayer(ctx, h)
}

// tags are the tags of this repository the engine gave the images read
// so far (image inspect's RepoTags): the engine is not listed.
func (d *daemonRepo) tags(context.Context) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, img := range d.loaded() {
		for _, rt := range img.info.RepoTags {
			t, err := name.NewTag(rt)
			if err != nil || t.RegistryStr() != d.base.Registry || t.RepositoryStr() != d.base.Repository || seen[t.TagStr()] {
				continue
			}
			seen[t.TagStr()] = true
			out = append(out, t.TagStr())
		}
	}
	sort.Strings(out)
	return out, nil
}

// referrers: a save holds the image's index (attestations included, as
// its entries), no referrers.
func (d *daemonRepo) referrers(context.Context, string) ([]v1.Descriptor, error) { return nil, nil }

func (d *daemonRepo) image(ctx context.Context, h v1.Hash) (v1.Image, error) {
	img, err := d.holder(h)
	if err != nil {
		return nil, fmt.Errorf("reading %s to copy it: %w", d.at(h.String()), err)
	}
	return img.archive.image(ctx, h)
}

func (d *daemonRepo) index(ctx context.Context, h v1.Hash) (v1.ImageIndex, error) {
	img, err := d.holder(h)
	if err != nil {
		return nil, fmt.Errorf("reading %s to copy it: %w", d.at(h.String()), err)
	}
	return img.archive.index(ctx, h)
}

// check reads $DOCKER_HOST, without a request; the engine is read only.
func (d *daemonRepo) check(r ref.Ref, write bool) error {
	if write {
		return fmt.Errorf("%w %q: mlaudit does not write to the Docker engine; write a layout (oci:DIR:TAG) or push to a registry, then docker pull or docker load it", ErrInvalidTarget, r.Written())
	}
	_, err := d.c.engine()
	return err
}

func (d *daemonRepo) readOnly() error {
	return fmt.Errorf("%w %s: mlaudit does not write to the Docker engine; write a layout (oci:DIR:TAG) or push to a registry instead", ErrInvalidTarget, d.base)
}

func (d *daemonRepo) push(context.Context, string, remote.Taggable) error { return d.readOnly() }
func (d *daemonRepo) pushIndex(context.Context, v1.ImageIndex) error      { return d.readOnly() }
func (d *daemonRepo) moveTag(context.Context, string, []byte, types.MediaType) error {
	return d.readOnly()
}
func (d *daemonRepo) delete(context.Context, string) error { return d.readOnly() }
