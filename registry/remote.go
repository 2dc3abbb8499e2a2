package registry

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/ref"
)

// acceptManifests is the Accept header for manifest requests: every
// multi-arch and single-image format mlaudit understands. Schema 1 is left
// out on purpose; registries convert or refuse.
var acceptManifests = strings.Join([]string{
	string(types.OCIImageIndex),
	string(types.DockerManifestList),
	string(types.OCIManifestSchema1),
	string(types.DockerManifestSchema2),
}, ", ")

// remoteRepo is one repository on a registry. Its registry is pinged
// once per run; on a registry that issues bearer tokens, its token is
// shared with other repositories (tokens.go).
//
// Manifests and blobs are fetched here rather than through
// go-containerregistry's remote package because audits need what remote
// hides: a typed digest-mismatch error, a check of the registry's declared
// Docker-Content-Digest for tags (remote skips it), a 4 MiB manifest cap,
// and one place where every request is counted. The ping and token
// exchange are go-containerregistry's transport package.
type remoteRepo struct {
	c    *Client
	repo name.Repository
	// base is the repository as a reference, for naming what is in it.
	base ref.Ref
	// scope overrides the token scope: the catalog's is
	// "registry:catalog:*", not a repository's.
	scope string

	once   sync.Once
	client *http.Client

	// tok is guarded by its registry's tokenSource.mu.
	tok repoToken

	// writer is go-containerregistry's transport for writes here, with a
	// push token on a registry that issues them (remote_write.go).
	writerMu sync.Mutex
	writer   http.RoundTripper

	tagsOnce sync.Once
	tagList  []string
	tagsErr  error
}

// httpClient returns the client for this repository: the registry's shared
// one, or, for a registry that issues bearer tokens, one that adds the
// repository's token, which is fetched here if need be (before the caller
// takes a slot of the registry's cap: the exchange takes its own).
func (r *remoteRepo) httpClient(ctx context.Context) (*http.Client, error) {
	client, _, err := r.authorized(ctx)
	return client, err
}

// authorized is httpClient, also returning the token requests will carry
// (nil for a registry without tokens).
func (r *remoteRepo) authorized(ctx context.Context) (*http.Client, *bearerToken, error) {
	h := r.c.host(r.repo.Registry)
	if err := h.init(ctx, r.c, r.repo.Registry); err != nil {
		return nil, nil, err
	}
	if !h.bearer {
		return h.shared, nil, nil
	}
	tok, err := h.tokens.token(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	r.once.Do(func() {
		r.client = &http.Client{Transport: &bearerAuth{host: r.repo.RegistryStr(), src: h.tokens, repo: r, next: r.c.base}, CheckRedirect: checkRedirect}
	})
	return r.client, tok, nil
}

// explainAuthError wraps a failed ping or token exchange with what to do.
func explainAuthError(registry, repo string, err error) error {
	// The ping tries HTTPS and HTTP for loopback hosts; one timeout says it.
	var timeout *TimeoutError
	if errors.As(err, &timeout) {
		return fmt.Errorf("connecting to %s: %w", registry, timeout)
	}
	what := registry
	if repo != "" {
		what = repo + " on " + registry
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("%w: %s refused the credentials for %s; run `docker login %s` (mlaudit reads the Docker config and its credential helpers): %v", ErrUnauthorized, registry, what, registry, err)
		case http.StatusForbidden:
			return fmt.Errorf("%w: %s denied access to %s: %v", ErrDenied, registry, what, err)
		}
	}
	return fmt.Errorf("connecting to %s: %w", registry, err)
}

// url is a URL in the repository, with the scheme the registry's ping
// found (waiting for that ping if it is under way).
func (r *remoteRepo) url(ctx context.Context, kind, ref string) string {
	return fmt.Sprintf("%s://%s/v2/%s/%s/%s", r.scheme(ctx), r.repo.RegistryStr(), r.repo.RepositoryStr(), kind, ref)
}

// scheme is the registry's scheme, pinging it first if need be.
func (r *remoteRepo) scheme(ctx context.Context) string {
	h := r.c.host(r.repo.Registry)
	if h.init(ctx, r.c, r.repo.Registry) == nil && h.scheme != "" {
		return h.scheme
	}
	return r.repo.Scheme()
}

// do sends a request with the repository's transport, holding one of the
// registry's job slots until fn has read the body. A 401 or 403 to a
// bearer token is tried once more with a new token (one for this
// repository alone if the refused token covered several).
func (r *remoteRepo) do(ctx context.Context, method, u, accept string, fn func(*http.Response) error) error {
	for attempt := 0; ; attempt++ {
		client, tok, err := r.authorized(ctx)
		if err != nil {
			return err
		}
		retry, err := r.send(ctx, client, tok, method, u, accept, fn, attempt == 0)
		if !retry {
			return err
		}
		r.c.host(r.repo.Registry).tokens.refused(r, tok)
	}
}

// send is one try of do. It reports retry when a token was refused and
// another may be tried.
func (r *remoteRepo) send(ctx context.Context, client *http.Client, tok *bearerToken, method, u, accept string, fn func(*http.Response) error, first bool) (bool, error) {
	sem := r.c.host(r.repo.Registry).sem
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-sem }()
	if tok != nil {
		ctx = withToken(ctx, tok)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return false, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := client.Do(req)
	if err != nil {
		// A token exchange's failure quotes the token server's answer.
		return false, sanitizeError(err)
	}
	defer resp.Body.Close()
	if tok != nil && first && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
		return true, nil
	}
	if err := checkResponse(resp); err != nil {
		return false, err
	}
	return false, fn(resp)
}

// manifest fetches a manifest by tag or digest. By digest, or by tag
// once the cache holds anything, the bytes come from the content store
// when it has them (the registry is asked, with HEAD, only that they still
// exist there); a cold run GETs tags directly, one request each.
func (r *remoteRepo) manifest(ctx context.Context, id string) (fetched, error) {
	if h, err := v1.NewHash(id); err == nil {
		raw, stored, err := r.c.content.get(h, func() ([]byte, error) {
			f, err := r.getManifest(ctx, id)
			if err == nil {
				r.c.existence.known(r, "manifests", h)
			}
			return f.raw, err
		})
		if err == nil && stored {
			err = r.c.existence.check(ctx, r, "manifests", h)
		}
		if err != nil {
			return fetched{raw: raw}, r.wrap("fetching manifest", id, err)
		}
		return fetched{raw: raw, desc: v1.Descriptor{Digest: h, Size: int64(len(raw))}}, nil
	}
	if !r.c.content.warm {
		f, err := r.getManifest(ctx, id)
		if err == nil {
			r.c.existence.known(r, "manifests", f.desc.Digest)
			_, _, _ = r.c.content.get(f.desc.Digest, func() ([]byte, error) { return f.raw, nil })
		}
		return f, r.wrap("fetching manifest", id, err)
	}
	desc, err := r.head(ctx, id)
	if err != nil {
		return fetched{}, r.wrap("resolving", id, err)
	}
	r.c.existence.known(r, "manifests", desc.Digest)
	f, err := r.manifest(ctx, desc.Digest.String())
	f.desc.MediaType = desc.MediaType
	return f, err
}

func (r *remoteRepo) wrap(what, id string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s: %w", what, r.at(id), err)
}

// head resolves a tag to the descriptor the registry declares for it.
func (r *remoteRepo) head(ctx context.Context, id string) (v1.Descriptor, error) {
	var d v1.Descriptor
	err := r.do(ctx, http.MethodHead, r.url(ctx, "manifests", id), acceptManifests, func(resp *http.Response) error {
		h, err := v1.NewHash(resp.Header.Get("Docker-Content-Digest"))
		if err != nil {
			return fmt.Errorf("%w: HEAD %s gave no Docker-Content-Digest", ErrBadResponse, r.at(id))
		}
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		d = v1.Descriptor{Digest: h, MediaType: types.MediaType(mt), Size: resp.ContentLength}
		return nil
	})
	return d, err
}

// getManifest GETs a manifest and checks it against the digest asked for,
// or for a tag the digest the registry declared.
func (r *remoteRepo) getManifest(ctx context.Context, id string) (fetched, error) {
	var f fetched
	err := r.do(ctx, http.MethodGet, r.url(ctx, "manifests", id), acceptManifests, func(resp *http.Response) error {
		raw, err := readLimited(resp.Body, maxManifestBytes, "manifest "+r.at(id).String())
		if err != nil {
			return err
		}
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		f = fetched{raw: raw, desc: v1.Descriptor{MediaType: types.MediaType(mt), Size: int64(len(raw)), Digest: sha256Of(raw)}}
		if want, err := v1.NewHash(id); err == nil {
			return verify(raw, want, "manifest", false)
		}
		if declared, err := v1.NewHash(resp.Header.Get("Docker-Content-Digest")); err == nil {
			return verify(raw, declared, "manifest", true)
		}
		return nil
	})
	return f, err
}

// blob fetches a config by digest through the content store. Bytes the
// store holds are not checked against the registry with a HEAD: the walk
// asks for a config only once its manifest was served or confirmed in this
// repository, and a registry keeps the blobs of the manifests it holds
// (it refuses a manifest whose config is missing, and its garbage
// collector deletes only blobs no manifest references). A child manifest,
// which a list does not keep alive, is still checked (manifest).
func (r *remoteRepo) blob(ctx context.Context, d v1.Hash, limit int64, what string) ([]byte, error) {
	raw, _, err := r.c.content.get(d, func() ([]byte, error) {
		return r.getBlob(ctx, d, limit, what)
	})
	return raw, r.wrap("fetching "+what, d.String(), err)
}

func (r *remoteRepo) getBlob(ctx context.Context, d v1.Hash, limit int64, what string) ([]byte, error) {
	var raw []byte
	err := r.do(ctx, http.MethodGet, r.url(ctx, "blobs", d.String()), "", func(resp *http.Response) error {
		b, err := readLimited(resp.Body, limit, what+" "+r.at(d.String()).String())
		if err != nil {
			return err
		}
		raw = b
		return verify(b, d, what, false)
	})
	return raw, err
}

func (r *remoteRepo) at(id string) ref.Ref { return at(r.base, id) }

// check passes: what a registry holds is learnt by asking it.
func (r *remoteRepo) check(ref.Ref, bool) error { return nil }
