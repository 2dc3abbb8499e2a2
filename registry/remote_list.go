package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Tag lists and catalogs: paginated, bounded, and read only from the
// registry's own host.

// maxPages bounds list pagination against a registry whose Link headers
// loop.
const maxPages = 10000

// DefaultListLimit is how many entries a tag list or catalog may hold
// before mlaudit stops reading it ([WithListLimit]): far above any real
// repository, far below what exhausts memory.
const DefaultListLimit = 100000

// tags lists the repository's tags, once per run: walking a repository
// and finding per-arch siblings read the same list.
func (r *remoteRepo) tags(ctx context.Context) ([]string, error) {
	r.tagsOnce.Do(func() {
		r.tagList, r.tagsErr = r.list(ctx, r.url(ctx, "tags", "list")+"?n=1000", "tag list of "+r.repo.Name())
		if r.tagsErr != nil {
			r.tagsErr = fmt.Errorf("listing tags of %s: %w", r.repo.Name(), r.tagsErr)
		}
	})
	return r.tagList, r.tagsErr
}

// list reads a paginated list (a tag list or the catalog), following Link
// rel="next" until the registry gives none.
func (r *remoteRepo) list(ctx context.Context, first, what string) ([]string, error) {
	next := first
	var all []string
	seen := map[string]bool{}
	for page := 0; next != "" && page < maxPages && !seen[next]; page++ {
		seen[next] = true
		current := next
		next = ""
		if limit := r.c.opts.listLimit; len(all) > limit {
			return nil, &ListLimitError{What: what, Limit: limit}
		}
		err := r.do(ctx, http.MethodGet, current, "application/json", func(resp *http.Response) error {
			b, err := readLimited(resp.Body, maxManifestBytes, what)
			if err != nil {
				return err
			}
			var page struct {
				Tags         []string `json:"tags"`
				Repositories []string `json:"repositories"`
			}
			if err := json.Unmarshal(b, &page); err != nil {
				return fmt.Errorf("%w: the %s is not JSON: %v", ErrBadResponse, what, err)
			}
			all = append(append(all, page.Tags...), page.Repositories...)
			next = nextLink(resp)
			if next != "" && !sameOrigin(next, current) {
				return fmt.Errorf("%w: the %s's next page is on another host (%s); mlaudit reads pages only from the registry itself", ErrBadResponse, what, hostOf(next))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if limit := r.c.opts.listLimit; len(all) > limit {
		return nil, &ListLimitError{What: what, Limit: limit}
	}
	return all, nil
}

// ListLimitError says a tag list or catalog held more entries than the
// list limit: mlaudit stopped reading it.
type ListLimitError struct {
	What  string
	Limit int
}

func (e *ListLimitError) Error() string {
	return fmt.Sprintf("the %s holds more than %d entries; mlaudit stopped reading it (raise --list-limit if the registry really holds that many, or name tags with --tags)", e.What, e.Limit)
}

// sameOrigin reports whether the URL next has the scheme and host of the
// URL current.
func sameOrigin(next, current string) bool {
	n, err1 := url.Parse(next)
	c, err2 := url.Parse(current)
	return err1 == nil && err2 == nil && n.Scheme == c.Scheme && strings.EqualFold(n.Host, c.Host) && cleanHost(n)
}

// hostOf is the host of a URL, for errors.
func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Host
	}
	return "an unparsable URL"
}

// nextLink returns the absolute URL of a Link header's rel="next", or "".
func nextLink(resp *http.Response) string {
	for _, link := range resp.Header.Values("Link") {
		for _, part := range strings.Split(link, ",") {
			fields := strings.Split(part, ";")
			target := strings.Trim(strings.TrimSpace(fields[0]), "<>")
			for _, f := range fields[1:] {
				if strings.ReplaceAll(strings.TrimSpace(f), " ", "") == `rel="next"` {
					u, err := url.Parse(target)
					if err != nil {
						return ""
					}
					return resp.Request.URL.ResolveReference(u).String()
				}
			}
		}
	}
	return ""
}
