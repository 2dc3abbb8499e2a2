package audit

import (
	"context"
	"fmt"
	"strings"
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
	target *Target
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

	// What keeps a repository's trees (auditor.release): the checks
	// queued or running that read in it, and the targets still being
	// listed that may queue such checks (scopes). A repository whose
	// checks are done while a listing may still name it waits in
	// waiting until that listing ends.
	reading map[ref.Ref]int
	scopes  scopes
	waiting map[ref.Ref]bool
}

func newPipeline(a *auditor, targets []Target, opts Options) *pipeline {
	p := &pipeline{
		a: a, targets: targets, opts: opts,
		expanded: make([]expansion, len(targets)),
		owner:    map[string]int{}, checked: map[work]*outcome{},
		listing: len(targets),
		reading: map[ref.Ref]int{}, waiting: map[ref.Ref]bool{},
	}
	p.wake = sync.NewCond(&p.mu)
	for _, t := range targets {
		p.scopes.add(t, 1)
	}
	return p
}

func (p *pipeline) run(ctx context.Context, src Source, jobs int) {
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
// shard is not listed at all. A registry's repositories are sharded as
// soon as the catalog is read, where the Source lists repositories apart
// ([Repositories]), so a shard lists only its own repositories' tags;
// otherwise once the whole listing returns.
func (p *pipeline) expand(ctx context.Context, src Source, target ref.Ref) ([]ref.Ref, error) {
	shard := p.opts.Shard
	if !shard.Keeps(target) {
		return nil, nil
	}
	noTags := fmt.Errorf("%w: %s: check the name, and whether --tags, --exclude-tags or the policy's tag filters left any (signature, referrers and backup tags are skipped unless included)", ErrNoTags, target)
	if lister, ok := src.(Repositories); ok && shard.Count > 0 && target.IsRegistry() {
		repos, err := lister.Repositories(ctx, target)
		if err != nil {
			return nil, err
		}
		if len(repos) == 0 {
			return nil, noTags
		}
		// A shard that holds none of the registry's repositories has
		// nothing to do; that is no error.
		return lister.ExpandAll(ctx, shard.filter(repos))
	}
	refs, err := src.Expand(ctx, target)
	if err == nil && len(refs) == 0 {
		err = noTags
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
	p.scopes.add(p.targets[i], -1)
	if err == nil {
		for _, r := range refs {
			key := r.String()
			if owner, ok := p.owner[key]; ok && owner <= i {
				continue
			}
			p.owner[key] = i
			j := job{ref: r, target: &p.targets[i], index: i}
			for _, repo := range j.reads() {
				p.reading[repo]++
			}
			p.queue = append(p.queue, j)
			p.total++
		}
		p.wake.Broadcast()
	}
	for repo := range p.waiting {
		p.release(repo)
	}
}

// reads lists the repositories j's check reads in: its reference's (it
// and its per-arch siblings) and each of its mirror copies'.
func (j job) reads() []ref.Ref {
	out := []ref.Ref{j.ref.Repo()}
	if j.ref.Scheme != ref.Registry {
		return out
	}
	for _, prefix := range j.target.Mirrors {
		if m, err := j.ref.Rebase(prefix); err == nil {
			out = append(out, m.Repo())
		}
	}
	return out
}

// release lets repo's trees go once no check queued or running reads in
// it and no target still being listed may name it; until then it waits.
// p.mu is held.
func (p *pipeline) release(repo ref.Ref) {
	switch {
	case p.reading[repo] > 0:
		delete(p.waiting, repo) // its last check will release it
	case p.scopes.cover(repo):
		p.waiting[repo] = true
	default:
		delete(p.waiting, repo)
		delete(p.reading, repo)
		p.a.release(repo)
	}
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
	for _, repo := range j.reads() {
		p.reading[repo]--
		p.release(repo)
	}
	p.done++
	if p.opts.Progress != nil {
		p.opts.Progress(p.done, p.total+p.listing, j.ref)
	}
}

// scopes counts the targets still being listed by what they may name:
// one repository (a repository, an image, a layout), every repository of
// a registry, and the mirror copies under a prefix.
type scopes struct {
	repos      map[ref.Ref]int
	registries map[ref.Ref]int
	mirrors    map[ref.Ref]int
}

func (s *scopes) add(t Target, n int) {
	if s.repos == nil {
		s.repos, s.registries, s.mirrors = map[ref.Ref]int{}, map[ref.Ref]int{}, map[ref.Ref]int{}
	}
	bump := func(m map[ref.Ref]int, k ref.Ref) {
		if m[k] += n; m[k] <= 0 {
			delete(m, k)
		}
	}
	if t.Ref.Repository == "" && t.Ref.Path == "" {
		bump(s.registries, ref.Ref{Scheme: t.Ref.Scheme, Registry: t.Ref.Registry})
	} else {
		bump(s.repos, t.Ref.Repo())
	}
	for _, prefix := range t.Mirrors {
		bump(s.mirrors, prefix.Repo())
	}
}

// cover says whether a target still being listed may name a reference
// in repo, or one whose mirror copy is in repo.
func (s *scopes) cover(repo ref.Ref) bool {
	if s.repos[repo] > 0 || s.registries[ref.Ref{Scheme: repo.Scheme, Registry: repo.Registry}] > 0 {
		return true
	}
	for prefix := range s.mirrors {
		if repo.Scheme == ref.Registry && repo.Registry == prefix.Registry &&
			(prefix.Repository == "" || strings.HasPrefix(repo.Repository, prefix.Repository+"/")) {
			return true
		}
	}
	return false
}
