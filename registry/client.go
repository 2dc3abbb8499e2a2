package registry

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// Client reads and writes references in registries and OCI layouts. It is
// safe for concurrent use; make one per run and reuse it, so that each
// registry's ping and each repository's token exchange happen once, and
// Close it when the run is over.
type Client struct {
	opts   *options
	guard  *dialGuard
	base   http.RoundTripper
	stats  *statsCollector
	limits *rateLimits

	content   *content
	existence existence

	mu      sync.Mutex
	hosts   map[string]*host
	repos   map[string]*remoteRepo
	layouts map[string]*layoutRepo
	// archives are the tar archives read (archive.go); the zero value is
	// ready.
	archives archiveSet
	// daemons are the Docker engine and its repositories read
	// (daemon.go); the zero value is ready.
	daemons daemonSet
	// files are the files open until Close (files.go).
	files fileSet
}

// New makes a Client.
func New(opts ...Option) (*Client, error) {
	o, err := makeOptions(opts...)
	if err != nil {
		return nil, err
	}
	stats := &statsCollector{}
	limits := &rateLimits{low: 2 * o.jobs}
	guard := newDialGuard()
	guarded := guard.guarded(o.transport)
	if t, ok := guarded.(*http.Transport); ok && t.MaxIdleConnsPerHost < o.jobs {
		// guarded is a clone. net/http keeps 2 idle connections per host
		// by default: with more requests in flight, every answer beyond
		// the second closes its connection and the next request dials
		// again, inside its job slot.
		t.MaxIdleConnsPerHost = o.jobs
	}
	var base http.RoundTripper = &timeout{d: o.timeout, next: guarded}
	base = &counter{stats: stats, log: o.log, next: base}
	rt := &retrier{next: base, retries: o.retries, budget: o.budget, base: retryBase, sleep: sleepCtx, limits: limits}
	if o.notices != nil {
		rt.warn = func(msg string) { fmt.Fprintln(o.notices, "mlaudit:", msg) }
	}
	base = &schemePolicy{insecure: o.insecure, next: rt}
	return &Client{
		opts:    o,
		guard:   guard,
		base:    base,
		stats:   stats,
		limits:  limits,
		hosts:   map[string]*host{},
		content: newContent(o.cache),
		repos:   map[string]*remoteRepo{},
		layouts: map[string]*layoutRepo{},
	}, nil
}

// Stats returns the requests made so far, and the rate-limit allowances
// registries announced.
func (c *Client) Stats() Stats {
	s := c.stats.snapshot()
	s.RateLimitRemaining = c.limits.snapshot()
	s.CacheHits = c.content.hits.Load()
	return s
}

// scheme is where r's content lives: its repository on a registry, its
// layout, its archive, or the Docker engine. A whole registry has no single scheme.
func (c *Client) scheme(r ref.Ref) (scheme, error) {
	switch r.Scheme {
	case ref.Layout:
		return c.layout(r), nil
	case ref.OCIArchive, ref.DockerArchive:
		return c.archive(r), nil
	case ref.DockerDaemon:
		return c.daemon(r), nil
	case ref.Registry:
		if r.IsRegistry() {
			return nil, fmt.Errorf("%w %q: a registry holds many repositories; name one, e.g. %s/org/app:1.0", ErrInvalidTarget, r.Written(), r.Registry)
		}
		return c.repo(r)
	}
	return nil, fmt.Errorf("%w %q: unknown scheme %q", ErrInvalidTarget, r.Written(), r.Scheme)
}

// Expand turns a target into the image references it names: itself for a
// tag or digest, one per tag for a repository, one per repository tag for
// a registry (through its catalog), one per index.json entry for an OCI
// layout. The tag filter ([WithTagFilter]) applies to listed tags only.
func (c *Client) Expand(ctx context.Context, r ref.Ref) ([]ref.Ref, error) {
	switch {
	case r.IsImage():
		return []ref.Ref{r}, nil
	case r.IsRegistry():
		return c.expandRegistry(ctx, r)
	}
	s, err := c.scheme(r)
	if err != nil {
		return nil, err
	}
	return c.names(ctx, s)
}

// names lists a scheme's tags that the tag filter keeps, as references.
func (c *Client) names(ctx context.Context, s scheme) ([]ref.Ref, error) {
	tags, err := s.tags(ctx)
	if err != nil {
		return nil, err
	}
	var out []ref.Ref
	for _, tag := range tags {
		if c.opts.tagFilter.keep(tag) {
			out = append(out, s.at(tag))
		}
	}
	return out, nil
}

// Fetch reads the manifest r names and everything below it.
func (c *Client) Fetch(ctx context.Context, r ref.Ref) (*tree.Node, error) {
	if !r.IsImage() {
		return nil, fmt.Errorf("%w %q: it names many images; give a tag or digest, e.g. %s", ErrInvalidTarget, r.Written(), exampleTag(r))
	}
	s, err := c.scheme(r)
	if err != nil {
		return nil, err
	}
	return walk(ctx, s, r.Identifier())
}

func exampleTag(r ref.Ref) ref.Ref {
	t, _ := r.WithTag("latest")
	return t
}

// repo is the scheme of r's repository on its registry, made once per run.
func (c *Client) repo(r ref.Ref) (*remoteRepo, error) {
	key := r.Repo().String()
	c.mu.Lock()
	defer c.mu.Unlock()
	if rr, ok := c.repos[key]; ok {
		return rr, nil
	}
	named, err := name.NewRepository(r.Registry+"/"+r.Repository, c.nameOptions(r.Registry)...)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalidTarget, r.Written(), err)
	}
	rr := &remoteRepo{c: c, repo: named, base: r.Repo()}
	c.repos[key] = rr
	if h := c.hosts[named.RegistryStr()]; h != nil && h.tokens != nil {
		h.tokens.add(rr)
	}
	// The user named this registry (see dialGuard); go-containerregistry
	// may spell it otherwise in URLs (index.docker.io), so both count.
	c.guard.name(r.Registry)
	c.guard.name(named.RegistryStr())
	return rr, nil
}

// Expect tells the Client which repositories it is about to read, so that
// a registry issuing bearer tokens is asked for one token covering many of
// them rather than one per repository as each is reached. Targets that
// name no repository on a registry (layouts, whole registries) are
// ignored; a catalog's repositories are made known as it is listed. It
// makes no request.
func (c *Client) Expect(targets ...ref.Ref) {
	for _, r := range targets {
		if r.Scheme == ref.Registry && !r.IsRegistry() {
			_, _ = c.repo(r)
		}
	}
}

// layout is the scheme of r's layout directory, made once per run and
// keyed by absolute path, so two spellings of one directory share its
// index.json lock.
func (c *Client) layout(r ref.Ref) *layoutRepo {
	key := r.Path
	if abs, err := filepath.Abs(r.Path); err == nil {
		key = abs
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.layouts[key]
	if !ok {
		l = newLayoutRepo(r.Repo())
		c.layouts[key] = l
	}
	return l
}

// registry is r's registry as go-containerregistry names it.
func (c *Client) registry(r ref.Ref) (name.Registry, error) {
	reg, err := name.NewRegistry(r.Registry, c.nameOptions(r.Registry)...)
	if err != nil {
		return name.Registry{}, fmt.Errorf("%w %q: %v", ErrInvalidTarget, r.Written(), err)
	}
	c.guard.name(r.Registry)
	c.guard.name(reg.RegistryStr())
	return reg, nil
}

// nameOptions marks a registry insecure (plain HTTP allowed) when its host
// is loopback or named with WithInsecure.
func (c *Client) nameOptions(host string) []name.Option {
	policy := schemePolicy{insecure: c.opts.insecure}
	if policy.allowed(host) {
		return []name.Option{name.Insecure}
	}
	return nil
}

// RequestCounts returns the requests made so far by "METHOD kind" (for
// audit.Coster, as are CacheHits and RateLimitRemaining).
func (c *Client) RequestCounts() map[string]int64 { return c.Stats().Requests }

// CacheHits counts manifests and configs served without a GET.
func (c *Client) CacheHits() int64 { return c.content.hits.Load() }

// RateLimitRemaining returns the allowance each registry host announced.
func (c *Client) RateLimitRemaining() map[string]int { return c.limits.snapshot() }
