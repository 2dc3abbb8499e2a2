package registry

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Copies and writes go through go-containerregistry's remote package, over
// this client's transport (so requests are counted and the HTTP policy
// holds) and with its keychain.

func (r *remoteRepo) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(r.c.opts.keychain),
		remote.WithTransport(r.c.base),
		remote.WithUserAgent(r.c.opts.userAgent),
		remote.WithJobs(r.c.opts.jobs),
	}
}

// reference is id in this repository, as go-containerregistry names it.
func (r *remoteRepo) reference(id string) name.Reference {
	if _, err := v1.NewHash(id); err == nil {
		return r.repo.Digest(id)
	}
	return r.repo.Tag(id)
}

func (r *remoteRepo) image(ctx context.Context, h v1.Hash) (v1.Image, error) {
	img, err := remote.Image(r.repo.Digest(h.String()), r.remoteOptions(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("reading %s to copy it: %w", r.at(h.String()), sanitizeError(err))
	}
	return img, nil
}

func (r *remoteRepo) index(ctx context.Context, h v1.Hash) (v1.ImageIndex, error) {
	idx, err := remote.Index(r.repo.Digest(h.String()), r.remoteOptions(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("reading %s to copy it: %w", r.at(h.String()), sanitizeError(err))
	}
	return idx, nil
}

func (r *remoteRepo) referrers(ctx context.Context, digest string) ([]v1.Descriptor, error) {
	idx, err := remote.Referrers(r.repo.Digest(digest), r.remoteOptions(ctx)...)
	if err != nil {
		return nil, sanitizeError(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	return im.Manifests, nil
}

// Writes go through go-containerregistry's remote, whose errors quote the
// registry's (or its token server's) answer: sanitized, like every
// registry error mlaudit shows.

func (r *remoteRepo) push(ctx context.Context, id string, t remote.Taggable) error {
	return sanitizeError(remote.Push(r.reference(id), t, r.remoteOptions(ctx)...))
}

func (r *remoteRepo) pushIndex(ctx context.Context, idx v1.ImageIndex) error {
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	return sanitizeError(remote.WriteIndex(r.repo.Digest(d.String()), idx, r.remoteOptions(ctx)...))
}

func (r *remoteRepo) moveTag(ctx context.Context, tag string, raw []byte, mt types.MediaType) error {
	return sanitizeError(remote.Put(r.repo.Tag(tag), rawManifest{raw: raw, mt: mt}, r.remoteOptions(ctx)...))
}

func (r *remoteRepo) delete(ctx context.Context, id string) error {
	return sanitizeError(remote.Delete(r.reference(id), r.remoteOptions(ctx)...))
}

// rawManifest is a manifest given as bytes, for remote.Put.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }
