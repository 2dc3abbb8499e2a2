package registry

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/mlaudit/mlaudit/tree"
)

// Client reads targets from registries and OCI layouts. It is safe for
// concurrent use; make one per run and reuse it, so that each repository's
// ping and token exchange happen once.
type Client struct {
	opts   *options
	base   http.RoundTripper
	stats  *statsCollector
	limits *rateLimits

	content   *content
	existence existence

	mu      sync.Mutex
	hosts   map[string]*host
	repos   map[string]*remoteRepo
	layouts map[string]*layoutSource
}

// New makes a Client.
func New(opts ...Option) (*Client, error) {
	o, err := makeOptions(opts...)
	if err != nil {
		return nil, err
	}
	stats := &statsCollector{}
	limits := &rateLimits{low: 2 * o.jobs}
	var base http.RoundTripper = &timeout{d: o.timeout, next: o.transport}
	base = &counter{stats: stats, log: o.log, next: base}
	rt := &retrier{next: base, retries: o.retries, budget: o.budget, base: retryBase, sleep: sleepCtx, limits: limits}
	if o.notices != nil {
		rt.warn = func(msg string) { fmt.Fprintln(o.notices, "mlaudit:", msg) }
	}
	base = &schemePolicy{insecure: o.insecure, next: rt}
	return &Client{
		opts:    o,
		base:    base,
		stats:   stats,
		limits:  limits,
		hosts:   map[string]*host{},
		content: newContent(o.cache),
		repos:   map[string]*remoteRepo{},
		layouts: map[string]*layoutSource{},
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

// Expand turns a target into the references it names: itself for an image
// reference, one per tag for a repository, one per index.json entry (or the
// named one) for an OCI layout.
func (c *Client) Expand(ctx context.Context, target string) ([]string, error) {
	t, err := c.ParseTarget(target)
	if err != nil {
		return nil, err
	}
	switch t.Kind {
	case KindImage:
		return []string{t.Ref.Name()}, nil
	case KindLayout:
		src := c.layout(t.Dir)
		if t.Tag != "" {
			return []string{src.name(t.Tag)}, nil
		}
		return c.names(ctx, src)
	case KindRegistry:
		return c.expandRegistry(ctx, t.Registry)
	default:
		return c.names(ctx, c.repo(t))
	}
}

// names lists a source's tags that the tag filter keeps, as references.
func (c *Client) names(ctx context.Context, src source) ([]string, error) {
	tags, err := src.tags(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, tag := range tags {
		if c.opts.tagFilter.keep(tag) {
			out = append(out, src.name(tag))
		}
	}
	return out, nil
}

// Fetch reads one reference (an image reference, or an OCI layout reference
// with a tag or digest) and everything below it.
func (c *Client) Fetch(ctx context.Context, ref string) (*tree.Node, error) {
	t, err := c.ParseTargetForWrite(ref)
	if err != nil {
		return nil, err
	}
	switch t.Kind {
	case KindImage:
		return walk(ctx, c.repo(t), t.Ref.Identifier())
	case KindLayout:
		if t.Tag == "" {
			return nil, fmt.Errorf("%w %q: name one entry, e.g. %s:latest, or expand the layout first", ErrInvalidTarget, ref, ref)
		}
		return walk(ctx, c.layout(t.Dir), t.Tag)
	default:
		return nil, fmt.Errorf("%w %q: a repository names many images; give a tag or digest", ErrInvalidTarget, ref)
	}
}

func (c *Client) repo(t Target) *remoteRepo {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := t.Repo.Name()
	r, ok := c.repos[key]
	if !ok {
		r = &remoteRepo{c: c, repo: t.Repo}
		c.repos[key] = r
	}
	return r
}

func (c *Client) layout(dir string) *layoutSource {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.layouts[dir]
	if !ok {
		l = &layoutSource{dir: dir, path: layout.Path(dir)}
		c.layouts[dir] = l
	}
	return l
}

// RequestCounts returns the requests made so far by "METHOD kind" (for
// audit.Coster, as are CacheHits and RateLimitRemaining).
func (c *Client) RequestCounts() map[string]int64 { return c.Stats().Requests }

// CacheHits counts manifests and configs served without a GET.
func (c *Client) CacheHits() int64 { return c.content.hits.Load() }

// RateLimitRemaining returns the allowance each registry host announced.
func (c *Client) RateLimitRemaining() map[string]int { return c.limits.snapshot() }
