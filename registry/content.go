package registry

import (
	"container/list"
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
//
// Without a disk cache every digest's bytes stay in memory for the run:
// dropping them would cost a request if another repository asked again.
// With one, memory holds only the most recently used memBudget bytes of
// what the disk holds too: a digest asked again after it was dropped is
// read from the disk, which answers as memory does (the same hit, the
// same existence check, no request), so a run over many repositories
// holds a bounded amount of content whatever its size.
type content struct {
	disk *cache.Dir
	warm bool // the disk cache held something when the run started
	hits atomic.Int64

	mu     sync.Mutex
	mem    map[v1.Hash]*flight
	recent list.List // of *flight on disk as well, most recently used first
	held   int       // bytes of the flights in recent
	budget int
	// onDisk is whether the disk cache reads back what it was given:
	// 0 not known yet, 1 yes, -1 no (a cache that cannot be written).
	onDisk int
}

// memBudget is how many bytes of content also on disk memory keeps.
const memBudget = 4 << 20

// flight is one digest being fetched, or fetched.
type flight struct {
	done chan struct{}
	b    []byte
	err  error
	h    v1.Hash
	at   *list.Element // in content.recent, when the disk holds b too
}

func newContent(disk *cache.Dir) *content {
	return &content{disk: disk, warm: !disk.Empty(), mem: map[v1.Hash]*flight{}, budget: memBudget}
}

// get returns h's bytes from memory, the cache, or fetch (which must
// verify them), and whether they came from a store rather than fetch. A
// failed fetch is not remembered: another repository may have the content.
func (c *content) get(h v1.Hash, fetch func() ([]byte, error)) ([]byte, bool, error) {
	for {
		c.mu.Lock()
		f, ok := c.mem[h]
		if !ok {
			f = &flight{done: make(chan struct{}), h: h}
			c.mem[h] = f
		} else if f.at != nil {
			c.recent.MoveToFront(f.at)
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
		stored, backed := false, false
		if b, hit := c.disk.Get(h); hit {
			f.b, stored, backed = b, true, true
			c.hits.Add(1)
		} else {
			f.b, f.err = fetch()
			if f.err == nil {
				// A cache that cannot be written only costs requests.
				backed = c.disk.Put(h, f.b) == nil && h.Algorithm == "sha256" && len(h.Hex) == 64 && c.readsBack(h)
			}
		}
		c.mu.Lock()
		switch {
		case f.err != nil:
			delete(c.mem, h)
		case backed:
			c.keep(f)
		}
		c.mu.Unlock()
		close(f.done)
		return f.b, stored, f.err
	}
}

// keep puts f, whose bytes the disk holds too, first among the recently
// used, and drops the least recently used past the budget from memory.
// c.mu is held.
func (c *content) keep(f *flight) {
	f.at = c.recent.PushFront(f)
	c.held += len(f.b)
	for c.held > c.budget && c.recent.Len() > 1 {
		old := c.recent.Remove(c.recent.Back()).(*flight)
		old.at = nil
		c.held -= len(old.b)
		if c.mem[old.h] == old {
			delete(c.mem, old.h)
		}
	}
}

// readsBack says whether the disk cache gives back what it was given,
// trying once, with h just put: a cache that takes nothing (a nil one, a
// digest it cannot file) must not be relied on to refill memory.
func (c *content) readsBack(h v1.Hash) bool {
	c.mu.Lock()
	known := c.onDisk
	c.mu.Unlock()
	if known == 0 {
		_, ok := c.disk.Get(h)
		known = -1
		if ok {
			known = 1
		}
		c.mu.Lock()
		c.onDisk = known
		c.mu.Unlock()
	}
	return known == 1
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
