package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mlaudit/mlaudit/deep"
	"github.com/mlaudit/mlaudit/internal/memo"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// Source is where an audit reads from. registry.Client implements it.
type Source interface {
	// Expand turns a target into the image references it names.
	Expand(ctx context.Context, target ref.Ref) ([]ref.Ref, error)
	// Fetch reads an image reference and everything below it.
	Fetch(ctx context.Context, r ref.Ref) (*tree.Node, error)
}

// Coster is implemented by sources that count what an audit cost; [Run]
// copies the counts into the result's stats. registry.Client is one.
type Coster interface {
	// RequestCounts counts HTTP requests by "METHOD kind".
	RequestCounts() map[string]int64
	// CacheHits counts manifests and configs served without a GET.
	CacheHits() int64
	// RateLimitRemaining is the allowance each registry host announced.
	RateLimitRemaining() map[string]int
}

// Target is one thing to audit and what it must provide.
type Target struct {
	// Ref is what the Source expands: an image reference, a repository, a
	// registry, or an OCI layout.
	Ref ref.Ref
	// Require lists the platforms each image must provide; empty checks
	// consistency only.
	Require []platform.Platform
	// RequireFor, when set, decides the platforms per image reference
	// instead of Require (a policy's rules).
	RequireFor func(ref.Ref) []platform.Platform
	// PerArch lists per-arch tag templates ("{tag}-{arch}"): each
	// audited tag's siblings are audited too and compared with it
	// (stale-arch-tag). The Source must implement [Siblings].
	PerArch []string
	// Mirrors lists prefixes under which copies of the target live
	// (registry.internal/mirror); each audited tag is compared with its
	// copy (mirror-drift), as [ref.Ref.Rebase] names it.
	Mirrors []ref.Ref
	// Deep reads each image's binaries and checks they are built for its
	// platform (binary-arch-mismatch). Options.Deep must be set, and the
	// Source must implement [Layers].
	Deep bool
}

// Options tune [Run].
type Options struct {
	// Jobs is how many references are worked on at once; 0 means 32.
	// Each reference's requests wait one after another (tag, children,
	// configs), so this is best several times the Source's own cap on
	// requests in flight, which is what bounds the load on a registry.
	Jobs int
	// Progress, when set, is called after each reference is audited, with
	// how many are done out of how many are known so far.
	Progress func(done, total int, r ref.Ref)
	// Deep inspects binaries for targets with Deep set.
	Deep *deep.Inspector
	// Ignore drops findings with these codes, and Severity changes the
	// severity of others (a policy's ignore and severity), before the
	// result is returned.
	Ignore   map[Code]bool
	Severity map[Code]Severity
}

// Run audits every target and returns what it found, in target order. A
// target or reference that cannot be read is recorded in Result.Errors and
// the others are still audited. Run returns early only if ctx ends.
func Run(ctx context.Context, src Source, targets []Target, opts Options) *Result {
	start := time.Now()
	jobs := opts.Jobs
	if jobs < 1 {
		jobs = 32
	}
	r := &Result{Images: []Image{}, Findings: []Finding{}, Errors: []TargetError{}}
	a := &auditor{src: src, inspector: opts.Deep, planned: map[string]bool{}, extra: map[string]bool{}}

	expanded := expandAll(ctx, src, targets, jobs)
	var work []job
	index := map[string]int{}
	for i, e := range expanded {
		for _, r := range e.refs {
			key := r.String()
			if _, ok := index[key]; !ok {
				index[key] = len(work)
				work = append(work, job{ref: r, target: targets[i]})
				a.planned[key] = true
			}
		}
	}
	checked := make([]outcome, len(work))
	var mu sync.Mutex
	done := 0
	parallel(len(work), jobs, func(i int) {
		checked[i] = a.check(ctx, work[i])
		if opts.Progress != nil {
			mu.Lock()
			done++
			opts.Progress(done, len(work), work[i].ref)
			mu.Unlock()
		}
	})

	reported := map[string]bool{}
	for _, e := range expanded {
		if e.err != nil {
			r.Errors = append(r.Errors, TargetError{Ref: e.target, Message: e.err.Error(), Err: e.err})
			continue
		}
		for _, ref := range e.refs {
			if key := ref.String(); !reported[key] {
				reported[key] = true
				r.add(checked[index[key]])
			}
		}
	}
	r.Findings = judge(r.Findings, opts)
	if c, ok := src.(Coster); ok {
		r.Stats.Requests = c.RequestCounts()
		for _, n := range r.Stats.Requests {
			r.Stats.RequestsTotal += n
		}
		r.Stats.Pulls = r.Stats.Requests["GET manifest"]
		r.Stats.CacheHits = c.CacheHits()
		r.Stats.RateLimitRemaining = c.RateLimitRemaining()
	}
	r.Stats.DeepBytes = a.deepBytes
	r.Stats.DurationMs = time.Since(start).Milliseconds()
	r.Stats.StartedAt = start.UTC().Truncate(time.Second)
	return r
}

type expansion struct {
	target ref.Ref
	refs   []ref.Ref
	err    error
}

type job struct {
	ref    ref.Ref
	target Target
}

// outcome is what checking one reference found, related references (its
// per-arch siblings, its mirror copies) included.
type outcome struct {
	images   []Image
	findings []Finding
	errs     []TargetError
}

func (o *outcome) fail(r ref.Ref, err error) {
	o.errs = append(o.errs, TargetError{Ref: r, Message: err.Error(), Err: err})
}

func (r *Result) add(o outcome) {
	r.Images = append(r.Images, o.images...)
	r.Findings = append(r.Findings, o.findings...)
	r.Errors = append(r.Errors, o.errs...)
}

// auditor holds what one Run shares between references.
type auditor struct {
	src       Source
	nodes     memo.Map[*tree.Node]
	inspector *deep.Inspector
	deepBytes int64

	mu      sync.Mutex
	planned map[string]bool // references the targets name
	extra   map[string]bool // siblings audited on the side
}

// fetch reads a reference once per run, however many checks need it.
func (a *auditor) fetch(ctx context.Context, r ref.Ref) (*tree.Node, error) {
	return a.nodes.Do(r.String(), func() (*tree.Node, error) { return a.src.Fetch(ctx, r) })
}

// check audits one reference, then its per-arch siblings and mirrors.
func (a *auditor) check(ctx context.Context, j job) outcome {
	var o outcome
	root, err := a.fetch(ctx, j.ref)
	if err != nil {
		o.fail(j.ref, err)
		return o
	}
	require := j.target.Require
	if j.target.RequireFor != nil {
		require = j.target.RequireFor(j.ref)
	}
	a.audit(&o, j.ref, root, require)
	if j.target.Deep {
		a.deepCheck(ctx, &o, j.ref, root, &o.images[0])
	}
	a.siblings(ctx, &o, j, root)
	a.mirrors(ctx, &o, j, root)
	return o
}

func (a *auditor) audit(o *outcome, r ref.Ref, root *tree.Node, require []platform.Platform) {
	img, findings, problems := Check(r, root, require)
	o.images = append(o.images, img)
	o.findings = append(o.findings, findings...)
	for _, p := range problems {
		o.fail(r, p)
	}
}

// siblings audits the per-arch tags of j's tag (unless a target names them
// already) and reports those that point elsewhere than the index.
func (a *auditor) siblings(ctx context.Context, o *outcome, j job, root *tree.Node) {
	refs, err := perArchSiblings(ctx, a.src, j.ref, j.target.PerArch)
	if err != nil {
		o.fail(j.ref, fmt.Errorf("finding per-arch tags: %w", err))
		return
	}
	for _, sib := range refs {
		node, err := a.fetch(ctx, sib)
		if err != nil {
			o.fail(sib, err)
			continue
		}
		if a.claim(sib) {
			a.audit(o, sib, node, nil)
		}
		o.findings = append(o.findings, staleArchTag(j.ref, root, sib, node)...)
	}
}

// claim reports whether r should be audited here: it is not a planned
// target and no other check has audited it.
func (a *auditor) claim(r ref.Ref) bool {
	key := r.String()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.planned[key] || a.extra[key] {
		return false
	}
	a.extra[key] = true
	return true
}

// mirrors compares j's tag with its copy under each mirror prefix.
func (a *auditor) mirrors(ctx context.Context, o *outcome, j job, root *tree.Node) {
	if j.ref.Scheme != ref.Registry {
		return // a layout has no copy in a mirror
	}
	for _, prefix := range j.target.Mirrors {
		mirror, err := j.ref.Rebase(prefix)
		if err != nil {
			o.fail(j.ref, err)
			continue
		}
		copy, err := a.fetch(ctx, mirror)
		if err != nil && !errors.Is(err, tree.ErrMissing) {
			o.fail(mirror, err)
			continue
		}
		o.findings = append(o.findings, mirrorDrift(j.ref, root, mirror, copy, err)...)
	}
}

func expandAll(ctx context.Context, src Source, targets []Target, jobs int) []expansion {
	out := make([]expansion, len(targets))
	parallel(len(targets), jobs, func(i int) {
		refs, err := src.Expand(ctx, targets[i].Ref)
		if err == nil && len(refs) == 0 {
			err = fmt.Errorf("%s has no tags to audit", targets[i].Ref)
		}
		out[i] = expansion{target: targets[i].Ref, refs: refs, err: err}
	})
	return out
}

// parallel calls fn(0..n-1) with at most jobs calls at once.
func parallel(n, jobs int, fn func(int)) {
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}
