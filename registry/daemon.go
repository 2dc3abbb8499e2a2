package registry

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/ref"
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
