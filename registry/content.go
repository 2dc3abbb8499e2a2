package registry

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/cache"
	"github.com/mlaudit/mlaudit/internal/memo"
)

// content holds manifests and configs by digest: in memory for one run,
// and in the on-disk cache across runs. Each digest is fetched at most
// once per run, however many tags or repositories share it.
type content struct {
	disk *cache.Dir
	warm bool // the disk cache held something when the run started
	hits atomic.Int64

	mu  sync.Mutex
	mem map[v1.Hash]*flight
}

// flight is one digest being fetched, or fetched.
type flight struct {
	done chan struct{}
	b    []byte
	err  error
}

func newContent(disk *cache.Dir) *content {
	return &content{disk: disk, warm: !disk.Empty(), mem: map[v1.Hash]*flight{}}
}

// get returns h's bytes from memory, the cache, or fetch (which must
// verify them), and whether they came from a store rather than fetch. A
// failed fetch is not remembered: another repository may have the content.
func (c *content) get(h v1.Hash, fetch func() ([]byte, error)) ([]byte, bool, error) {
	for {
		c.mu.Lock()
		f, ok := c.mem[h]
		if !ok {
			f = &flight{done: make(chan struct{})}
			c.mem[h] = f
		}
		c.mu.Unlock()
		if ok {
			<-f.done
			if f.err == nil {
				c.hits.Add(1)
				return f.b, true, nil
			}
			continue // the owner failed; try ourselves
		}
		stored := false
		if b, hit := c.disk.Get(h); hit {
			f.b, stored = b, true
			c.hits.Add(1)
		} else {
			f.b, f.err = fetch()
			if f.err == nil {
				_ = c.disk.Put(h, f.b) // a cache that cannot be written only costs requests
			}
		}
		if f.err != nil {
			c.mu.Lock()
			delete(c.mem, h)
			c.mu.Unlock()
		}
		close(f.done)
		return f.b, stored, f.err
	}
}

// existence remembers, per repository, which digests the registry has:
// content served from a store must still exist where it is referenced, or
// a child deleted after the index was pushed would go unnoticed.
type existence struct {
	seen memo.Map[struct{}]
}

func existenceKey(r *remoteRepo, kind string, h v1.Hash) string {
	return r.repo.Name() + "/" + kind + "/" + h.String()
}

// check asks the registry with one HEAD per repository and digest per run.
func (e *existence) check(ctx context.Context, r *remoteRepo, kind string, h v1.Hash) error {
	_, err := e.seen.Do(existenceKey(r, kind, h), func() (struct{}, error) {
		return struct{}{}, r.do(ctx, http.MethodHead, r.url(ctx, kind, h.String()), acceptManifests, func(*http.Response) error { return nil })
	})
	return err
}

// known records that the registry has h in r's repository, learnt from
// another request (a GET of it, or a HEAD of a tag that resolves to it).
func (e *existence) known(r *remoteRepo, kind string, h v1.Hash) {
	e.seen.Set(existenceKey(r, kind, h), struct{}{})
}
