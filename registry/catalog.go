package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"sync"

	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
)

// catalog lists the repositories of a registry through its _catalog API,
// following pagination. Registries that do not offer it (Docker Hub, most
// cloud registries) answer 401, 403 or 404: the error says to name
// repositories instead.
func (c *Client) catalog(ctx context.Context, r ref.Ref) ([]string, error) {
	reg, err := c.registry(r)
	if err != nil {
		return nil, err
	}
	cat := &remoteRepo{c: c, repo: reg.Repo("_catalog"), base: r, scope: "registry:catalog:*"}
	u := fmt.Sprintf("%s://%s/v2/_catalog?n=1000", cat.scheme(ctx), r.Registry)
	repos, err := cat.list(ctx, u, "catalog of "+r.Registry)
	var se *StatusError
	if errors.As(err, &se) && (se.StatusCode == http.StatusUnauthorized || se.StatusCode == http.StatusForbidden || se.StatusCode == http.StatusNotFound) {
		return nil, fmt.Errorf("%s does not let mlaudit list its repositories (GET /v2/_catalog answered %d): name the repositories to audit instead, e.g. %s/org/app", r.Registry, se.StatusCode, r.Registry)
	}
	if err != nil {
		return nil, fmt.Errorf("listing the repositories of %s: %w", r.Registry, err)
	}
	return repos, nil
}

// Repositories lists the repositories of registry r (REGISTRY/) through
// its catalog, in name order, without their tags: a sharded audit lists
// the tags of its own repositories only.
func (c *Client) Repositories(ctx context.Context, r ref.Ref) ([]ref.Ref, error) {
	repos, err := c.catalog(ctx, r)
	if err != nil {
		return nil, err
	}
	sort.Strings(repos)
	out := make([]ref.Ref, len(repos))
	for i, repo := range repos {
		out[i] = ref.Ref{Scheme: ref.Registry, Registry: r.Registry, Repository: repo}
	}
	return out, nil
}

// expandRegistry lists every tag of every repository the catalog names.
func (c *Client) expandRegistry(ctx context.Context, r ref.Ref) ([]ref.Ref, error) {
	repos, err := c.Repositories(ctx, r)
	if err != nil {
		return nil, err
	}
	return c.ExpandAll(ctx, repos)
}

// ExpandAll lists the tags of every repository in repos, in parallel (the
// registry's request cap holds), and returns them in the order of repos;
// the first error, in that order, is returned alone.
func (c *Client) ExpandAll(ctx context.Context, repos []ref.Ref) ([]ref.Ref, error) {
	refs := make([][]ref.Ref, len(repos))
	errs := make([]error, len(repos))
	var wg sync.WaitGroup
	for i, repo := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rr, err := c.repo(repo)
			if err == nil {
				refs[i], err = c.names(ctx, rr)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	var out []ref.Ref
	for i := range repos {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out = append(out, refs[i]...)
	}
	return out, nil
}

// TagFilter chooses which tags a repository or registry target names. A
// tag named explicitly (registry/repo:tag) is always taken.
type TagFilter struct {
	// Include, when set, keeps only tags it matches.
	Include *regexp.Regexp
	// Exclude drops tags it matches.
	Exclude *regexp.Regexp
	// Signatures keeps cosign's signature, attestation and SBOM tags
	// (sha256-<hex>.sig, .att, .sbom) and OCI 1.1 referrers tags
	// (sha256-<hex>), which are not images and are dropped by default.
	Signatures bool
	// Backups keeps a repair's backup tags (see ref.IsBackupTag), dropped
	// by default.
	Backups bool
	// PerArch drops tags that name an architecture ("1.0-arm64"): a
	// repair of a repository rebuilds its multi-arch tags from them, it
	// does not make each one a target.
	PerArch bool
}

// keep reports whether the filter keeps tag.
func (f TagFilter) keep(tag string) bool {
	switch {
	case !f.Signatures && (ref.IsSignatureTag(tag) || ref.IsReferrersTag(tag)),
		!f.Backups && ref.IsBackupTag(tag),
		f.PerArch && platform.NamesArch(tag),
		f.Include != nil && !f.Include.MatchString(tag):
		return false
	}
	return f.Exclude == nil || !f.Exclude.MatchString(tag)
}

// WithTagFilter sets which tags repository and registry targets audit. The
// default keeps every tag but cosign's signature tags.
func WithTagFilter(f TagFilter) Option {
	return func(o *options) error {
		o.tagFilter = f
		return nil
	}
}
