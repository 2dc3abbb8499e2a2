package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Bearer tokens for many repositories.
//
// A registry that answers its ping with a Bearer challenge (Docker Hub,
// GHCR, Harbor, GitLab, Quay, distribution in token mode) is pinged once
// per run. One token request then carries the pull scopes of up to
// tokenBatch repositories, as repeated scope parameters (the distribution
// token specification allows several), and every repository in it uses
// that token until it expires.
//
// Where the registry refuses such a request (401 or 403 from the token
// server), narrows it (a JWT whose access claim lacks one of the
// repositories asked for), or a multi-repository token is refused on use
// (401 or 403 from the registry), the registry gets one repository per
// token for the rest of the run (tokenSource.single).
//
// The token exchange itself is go-containerregistry's transport.Exchange
// (its realm checks and its basic or OAuth2 refresh-token flows); what it
// does not do is batching, expiry before the registry refuses, or holding a
// slot of the registry's request cap.

// tokenBatch is the most repositories one token covers. A token travels
// in every request's Authorization header, and proxies and registries cap
// header size: nginx's large_client_header_buffers and Apache's
// LimitRequestFieldSize default to 8 KiB a line. A JWT grows by its access
// entry for each repository ({"type":"repository","name":...,
// "actions":["pull"]}, 60 bytes plus the name) times 4/3 for base64: 16
// repositories with names of 100 characters make about 3.4 KiB, well
// under 8 KiB with the header's other parts; tokenScopeBytes bounds the
// names in one request so that long names make smaller batches, and keeps
// the token request's URL short as well.
const (
	tokenBatch      = 16
	tokenScopeBytes = 2048
)

// tokenSource hands out bearer tokens for one registry's repositories.
type tokenSource struct {
	c         *Client
	reg       name.Registry
	sem       chan struct{}
	challenge *transport.Challenge

	mu      sync.Mutex
	single  bool          // one repository per token, for the rest of the run
	forming *tokenFetch   // a batch still taking repositories
	known   []*remoteRepo // repositories in the order they became known
	next    int           // known[:next] have had a token or a fetch
}

// bearerToken is one token and what it covers.
type bearerToken struct {
	value   string
	expires time.Time // zero: never (a registry token from the keychain)
	repos   int       // repositories it was issued for
}

func (t *bearerToken) valid(now time.Time) bool {
	return t != nil && (t.expires.IsZero() || now.Before(t.expires))
}

// tokenFetch is one token request, being formed or under way.
type tokenFetch struct {
	repos  []*remoteRepo
	bytes  int
	sealed bool
	done   chan struct{}
	err    error
}

// repoToken is a repository's share of its registry's tokens.
type repoToken struct {
	tok   *bearerToken
	fetch *tokenFetch
	seen  bool // had a token or a fetch: not picked up as pending
}

// add makes r known, so a batch for another repository can carry r's
// scope before r asks.
func (s *tokenSource) add(r *remoteRepo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.known = append(s.known, r)
}

func (r *remoteRepo) pullScope() string {
	if r.scope != "" {
		return r.scope
	}
	return r.repo.Scope(transport.PullScope)
}

// batchable reports whether r's scope may share a token: a repository's
// pull scope may, the catalog's registry scope never does.
func (s *tokenSource) batchable(r *remoteRepo) bool {
	return !s.single && r.scope == ""
}

// token returns a valid token for r, fetching one if need be. It never
// holds a slot of the registry's cap while waiting; the exchange itself
// takes one.
func (s *tokenSource) token(ctx context.Context, r *remoteRepo) (*bearerToken, error) {
	s.mu.Lock()
	for {
		rt := &r.tok
		if rt.tok.valid(time.Now()) {
			s.mu.Unlock()
			return rt.tok, nil
		}
		if f := rt.fetch; f != nil {
			s.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			s.mu.Lock()
			if f.err != nil {
				s.mu.Unlock()
				return nil, f.err
			}
			continue
		}
		if f := s.forming; f != nil && s.batchable(r) && s.fits(f, r) {
			s.join(f, r)
			continue
		}
		f := &tokenFetch{done: make(chan struct{})}
		s.join(f, r)
		if s.batchable(r) {
			s.forming = f
			s.fill(f)
		}
		s.mu.Unlock()
		s.run(ctx, f)
		if f.err != nil {
			return nil, f.err
		}
		s.mu.Lock()
	}
}

func (s *tokenSource) fits(f *tokenFetch, r *remoteRepo) bool {
	return !f.sealed && len(f.repos) < tokenBatch && f.bytes+len(r.pullScope()) <= tokenScopeBytes
}

func (s *tokenSource) join(f *tokenFetch, r *remoteRepo) {
	f.repos = append(f.repos, r)
	f.bytes += len(r.pullScope())
	r.tok.fetch = f
	r.tok.seen = true
}

// fill adds known repositories that never had a token to f, in the order
// they became known, while they fit.
func (s *tokenSource) fill(f *tokenFetch) {
	for ; s.next < len(s.known); s.next++ {
		k := s.known[s.next]
		if k.tok.seen || !s.batchable(k) {
			continue
		}
		if !s.fits(f, k) {
			return
		}
		s.join(f, k)
	}
}

// run takes a slot, seals f (repositories that asked while it waited ride
// along), exchanges it for a token and hands the token out.
func (s *tokenSource) run(ctx context.Context, f *tokenFetch) {
	var tok *bearerToken
	err := func() error {
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-s.sem }()
		s.mu.Lock()
		if s.forming == f {
			s.fill(f)
			s.forming = nil
		}
		f.sealed = true
		scopes := make([]string, len(f.repos))
		for i, r := range f.repos {
			scopes[i] = r.pullScope()
		}
		s.mu.Unlock()
		var err error
		tok, err = s.exchange(ctx, scopes)
		return err
	}()

	s.mu.Lock()
	defer s.mu.Unlock()
	defer close(f.done)
	if s.forming == f {
		s.forming = nil
	}
	for _, r := range f.repos {
		r.tok.fetch = nil
	}
	if err != nil {
		var te *transport.Error
		if len(f.repos) > 1 && errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
			// Refused as a batch: ask for each repository alone.
			s.single = true
			return
		}
		f.err = explainAuthError(s.reg.RegistryStr(), f.repos[0].repo.RepositoryStr(), sanitizeError(err))
		return
	}
	granted := grantedRepositories(tok.value)
	for _, r := range f.repos {
		if len(f.repos) > 1 && granted != nil && !granted[r.repo.RepositoryStr()] {
			// Narrowed: this repository asks again, alone.
			s.single = true
			continue
		}
		r.tok.tok = tok
	}
}

// exchange asks the registry's token server for one token for scopes.
func (s *tokenSource) exchange(ctx context.Context, scopes []string) (*bearerToken, error) {
	auth, err := s.c.opts.keychain.Resolve(s.reg)
	if err != nil {
		return nil, err
	}
	cfg, err := authn.Authorization(ctx, auth)
	if err != nil {
		return nil, err
	}
	if cfg.RegistryToken != "" {
		return &bearerToken{value: cfg.RegistryToken, repos: len(scopes)}, nil
	}
	t, err := transport.Exchange(ctx, s.reg, auth, s.c.base, scopes, s.challenge)
	if err != nil {
		return nil, err
	}
	value := t.Token
	if value == "" {
		value = t.AccessToken
	}
	// The specification's default lifetime is 60 seconds; a token is
	// renewed a tenth of its lifetime (at most 30 seconds) early, so a
	// request queued for a slot does not carry it past its expiry.
	life := time.Duration(t.ExpiresIn) * time.Second
	if life <= 0 {
		life = 60 * time.Second
	}
	life -= min(life/10, 30*time.Second)
	return &bearerToken{value: value, expires: time.Now().Add(life), repos: len(scopes)}, nil
}

// refused is told that the registry answered 401 or 403 to a request made
// with tok: a token for many repositories means the registry does not
// honour them (one per repository from now on); any token is dropped, so
// the next request asks for a new one.
func (s *tokenSource) refused(r *remoteRepo, tok *bearerToken) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok.repos > 1 {
		s.single = true
	}
	if r.tok.tok == tok {
		r.tok.tok = nil
	}
}

// grantedRepositories reads the repositories a JWT's access claim grants
// pull on, or nil when the token is not a JWT (then only a refusal on use
// tells).
func grantedRepositories(token string) map[string]bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil
	}
	var claims struct {
		Access *[]struct {
			Type    string   `json:"type"`
			Name    string   `json:"name"`
			Actions []string `json:"actions"`
		} `json:"access"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Access == nil {
		return nil
	}
	out := map[string]bool{}
	for _, a := range *claims.Access {
		if a.Type != "repository" {
			continue
		}
		for _, act := range a.Actions {
			if act == "pull" || act == "*" {
				out[a.Name] = true
			}
		}
	}
	return out
}

// current is r's token as it stands, valid or not.
func (s *tokenSource) current(r *remoteRepo) *bearerToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	return r.tok.tok
}

// bearerAuth adds the repository's token (the one its request carries in
// its context, else the repository's current one) to requests for the
// registry's own host; redirects elsewhere (blob storage) go without it.
type bearerAuth struct {
	host string
	src  *tokenSource
	repo *remoteRepo
	next http.RoundTripper
}

type tokenKey struct{}

func withToken(ctx context.Context, tok *bearerToken) context.Context {
	return context.WithValue(ctx, tokenKey{}, tok)
}

func (b *bearerAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, _ := req.Context().Value(tokenKey{}).(*bearerToken)
	if tok == nil {
		tok = b.src.current(b.repo)
	}
	if tok != nil && strings.EqualFold(req.URL.Host, b.host) {
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", "Bearer "+tok.value)
	}
	return b.next.RoundTrip(req)
}

// tokenAuth adds the repository's token to go-containerregistry's reads
// (copies) of it: the token the repository shares with others, valid
// (fetched or renewed first if need be), on requests for the registry's
// own host. A request refused with 401 or 403 is tried once more with a
// new token, as remoteRepo.do does, when its body can be sent again.
type tokenAuth struct {
	host string
	src  *tokenSource
	repo *remoteRepo
	next http.RoundTripper
}

func (a *tokenAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.EqualFold(req.URL.Host, a.host) {
		return a.next.RoundTrip(req)
	}
	for attempt := 0; ; attempt++ {
		tok, err := a.src.token(req.Context(), a.repo)
		if err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
		out := req.Clone(req.Context())
		if attempt > 0 && req.Body != nil {
			if out.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		out.Header.Set("Authorization", "Bearer "+tok.value)
		resp, err := a.next.RoundTrip(out)
		again := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
		if err != nil || attempt > 0 || !again || resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			return resp, err
		}
		resp.Body.Close()
		a.src.refused(a.repo, tok)
	}
}
