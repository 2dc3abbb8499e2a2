package audit

import (
	"context"
	"fmt"
	"sync"

	"github.com/mlaudit/mlaudit/ref"
)

// The pipeline behind [Run]: targets are listed and their references
// checked side by side, so one slow or endless listing never holds up the
// checks of the targets already listed, and the report is assembled in
// target order whichever listing finished first.

type expansion struct {
	target ref.Ref
	refs   []ref.Ref
	err    error
}

type job struct {
	ref    ref.Ref
	target Target
	index  int // of the target in Run's list
}

// work names one check: a reference, audited for the target at index.
type work struct {
	key    string
	target int
}

// pipeline lists targets and audits their references at once: up to jobs
// listings and jobs checks run together, and a target's references are
// queued for checking as soon as its listing ends.
type pipeline struct {
	a       *auditor
	targets []Target
	opts    Options

	expanded []expansion // by target index; complete once run returns

	mu      sync.Mutex
	owner   map[string]int // reference → lowest target index naming it so far
	checked map[work]*outcome
	queue   []job
	closed  bool
	wake    *sync.Cond
	done    int
	total   int // checks queued
	listing int // targets still being listed
}

func (p *pipeline) run(ctx context.Context, src Source, jobs int) {
	p.expanded = make([]expansion, len(p.targets))
	p.listing = len(p.targets)
	p.wake = sync.NewCond(&p.mu)
	var checks sync.WaitGroup
	for range jobs {
		checks.Add(1)
		go func() {
			defer checks.Done()
			for {
				j, ok := p.next()
				if !ok {
					return
				}
				o := p.a.check(ctx, j)
				p.finish(j, &o)
			}
		}()
	}
	parallel(len(p.targets), jobs, func(i int) {
		refs, err := p.expand(ctx, src, p.targets[i].Ref)
		p.expanded[i] = expansion{target: p.targets[i].Ref, refs: refs, err: err}
		p.listed(i, refs, err)
	})
	p.mu.Lock()
	p.closed = true
	p.wake.Broadcast()
	p.mu.Unlock()
	checks.Wait()
}

// expand lists a target's references in the shard. A target of another
// shard is not listed at all; a registry's repositories are sharded once
// its listing returns (the Source lists every tag of every repository,
// so each shard pays for the whole registry's tag lists, not for its
// manifests).
func (p *pipeline) expand(ctx context.Context, src Source, target ref.Ref) ([]ref.Ref, error) {
	shard := p.opts.Shard
	if !shard.Keeps(target) {
		return nil, nil
	}
	refs, err := src.Expand(ctx, target)
	if err == nil && len(refs) == 0 {
		err = fmt.Errorf("%s has no tags to audit", target)
	}
	return shard.filter(refs), err
}

// listed queues target i's references for checking, except those an
// earlier target (in target order) already named. One that only a later
// target named so far is checked again for this one: the report shows it
// where the first target names it, with that target's settings.
func (p *pipeline) listed(i int, refs []ref.Ref, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.listing--
	if err != nil {
		return
	}
	for _, r := range refs {
		key := r.String()
		if owner, ok := p.owner[key]; ok && owner <= i {
			continue
		}
		p.owner[key] = i
		p.queue = append(p.queue, job{ref: r, target: p.targets[i], index: i})
		p.total++
	}
	p.wake.Broadcast()
}

// next takes the next queued check, waiting for one; false once every
// listing has ended and the queue is empty.
func (p *pipeline) next() (job, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) == 0 && !p.closed {
		p.wake.Wait()
	}
	if len(p.queue) == 0 {
		return job{}, false
	}
	j := p.queue[0]
	p.queue[0] = job{}
	p.queue = p.queue[1:]
	return j, true
}

func (p *pipeline) finish(j job, o *outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checked[work{key: j.ref.String(), target: j.index}] = o
	p.done++
	if p.opts.Progress != nil {
		p.opts.Progress(p.done, p.total+p.listing, j.ref)
	}
}
