package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// Reading the Docker engine's images (daemon.go): each inspected and
// saved once, the save spooled to a temporary file and read as an
// archive, and what the engine lists but does not hold named as such.

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
