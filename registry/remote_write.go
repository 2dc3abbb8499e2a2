package registry

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Copies and writes go through go-containerregistry's remote package, over
// this client's transport (so requests are counted and the HTTP policy
// holds) and under the registry's cap on requests in flight: the
// transport given to remote is a transport.Wrapper, so remote neither
// pings nor exchanges tokens of its own. The registry's one ping
// (hosts.go) serves writes as well as reads; reads share the
// repository's pull token (tokens.go); writes get a token for push and
// pull on this repository alone, once, renewed by go-containerregistry
// when the registry refuses it.

// remoteOptions are remote's options for reading this repository, or,
// with write, writing to it.
func (r *remoteRepo) remoteOptions(ctx context.Context, write bool) ([]remote.Option, error) {
	rt, err := r.remoteTransport(ctx, write)
	if err != nil {
		return nil, err
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(rt),
		remote.WithJobs(r.c.opts.jobs),
	}, nil
}

// remoteTransport is the transport.Wrapper remote reads (or writes) this
// repository with.
func (r *remoteRepo) remoteTransport(ctx context.Context, write bool) (http.RoundTripper, error) {
	reg := r.repo.Registry
	h := r.c.host(reg)
	if err := h.init(ctx, r.c, reg); err != nil {
		return nil, err
	}
	if !h.bearer {
		if h.plainErr != nil {
			return nil, fmt.Errorf("making the transport for %s: %w", reg.RegistryStr(), sanitizeError(h.plainErr))
		}
		return h.plain, nil
	}
	if !write {
		return transport.FromToken(reg, authn.Anonymous, &tokenAuth{host: reg.RegistryStr(), src: h.tokens, repo: r, next: h.capped}, &transport.Challenge{}, &transport.Token{})
	}
	r.writerMu.Lock()
	defer r.writerMu.Unlock()
	if r.writer != nil {
		return r.writer, nil
	}
	auth, err := r.c.opts.keychain.Resolve(reg)
	if err != nil {
		return nil, fmt.Errorf("reading credentials for %s from the Docker config: %w", reg.RegistryStr(), err)
	}
	tok, err := transport.Exchange(ctx, reg, auth, h.capped, []string{r.repo.Scope(transport.PushScope)}, h.challenge)
	if err != nil {
		return nil, explainAuthError(reg.RegistryStr(), r.repo.RepositoryStr(), sanitizeError(err))
	}
	if tok.Token == "" {
		tok.Token = tok.AccessToken
	}
	rt, err := transport.FromToken(reg, auth, h.capped, h.challenge, tok)
	if err != nil {
		return nil, explainAuthError(reg.RegistryStr(), r.repo.RepositoryStr(), sanitizeError(err))
	}
	r.writer = rt
	return rt, nil
}

// reference is id in this repository, as go-containerregistry names it.
func (r *remoteRepo) reference(id string) name.Reference {
	if _, err := v1.NewHash(id); err == nil {
		return r.repo.Digest(id)
	}
	return r.repo.Tag(id)
}

func (r *remoteRepo) image(ctx context.Context, h v1.Hash) (v1.Image, error) {
	opts, err := r.remoteOptions(ctx, false)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(r.repo.Digest(h.String()), opts...)
	if err != nil {
		return nil, fmt.Errorf("reading %s to copy it: %w", r.at(h.String()), sanitizeError(err))
	}
	return img, nil
}

func (r *remoteRepo) index(ctx context.Context, h v1.Hash) (v1.ImageIndex, error) {
	opts, err := r.remoteOptions(ctx, false)
	if err != nil {
		return nil, err
	}
	idx, err := remote.Index(r.repo.Digest(h.String()), opts...)
	if err != nil {
		return nil, fmt.Errorf("reading %s to copy it: %w", r.at(h.String()), sanitizeError(err))
	}
	return idx, nil
}

func (r *remoteRepo) referrers(ctx context.Context, digest string) ([]v1.Descriptor, error) {
	opts, err := r.remoteOptions(ctx, false)
	if err != nil {
		return nil, err
	}
	idx, err := remote.Referrers(r.repo.Digest(digest), opts...)
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
	opts, err := r.remoteOptions(ctx, true)
	if err != nil {
		return err
	}
	return sanitizeError(remote.Push(r.reference(id), t, opts...))
}

func (r *remoteRepo) pushIndex(ctx context.Context, idx v1.ImageIndex) error {
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	opts, err := r.remoteOptions(ctx, true)
	if err != nil {
		return err
	}
	return sanitizeError(remote.WriteIndex(r.repo.Digest(d.String()), idx, opts...))
}

func (r *remoteRepo) moveTag(ctx context.Context, tag string, raw []byte, mt types.MediaType) error {
	opts, err := r.remoteOptions(ctx, true)
	if err != nil {
		return err
	}
	return sanitizeError(remote.Put(r.repo.Tag(tag), rawManifest{raw: raw, mt: mt}, opts...))
}

func (r *remoteRepo) delete(ctx context.Context, id string) error {
	opts, err := r.remoteOptions(ctx, true)
	if err != nil {
		return err
	}
	return sanitizeError(remote.Delete(r.reference(id), opts...))
}

// rawManifest is a manifest given as bytes, for remote.Put.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }
