package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mlaudit/mlaudit/deep"
	"github.com/mlaudit/mlaudit/internal/memo"
	"github.com/mlaudit/mlaudit/tree"
)

// Source is where an audit reads from. registry.Client implements it.
type Source interface {
	// Expand turns a target into the references it names.
	Expand(ctx context.Context, target string) ([]string, error)
	// Fetch reads a reference and everything below it.
	Fetch(ctx context.Context, ref string) (*tree.Node, error)
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
	// Name is a target the Source can expand: an image reference, a
	// repository, a registry, or an OCI layout.
	Name string
	// Require lists the platforms each image must provide; empty checks
	// consistency only.
	Require []specs.Platform
	// PerArch lists per-arch tag templates ("{tag}-{arch}"): each
	// audited tag's siblings are audited too and compared with it
	// (stale-arch-tag). The Source must implement [Siblings].
	PerArch []string
	// Mirrors lists prefixes under which copies of the target live
	// ("registry.internal/mirror"); each audited tag is compared with its
	// copy (mirror-drift). The Source must implement [Mirrors].
	Mirrors []string
	// Rules decides requirements per reference when set, instead of
	// Require (a policy file's rules).
	Rules func(ref string) []specs.Platform
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
	Progress func(done, total int, ref string)
	// Deep inspects binaries for targets with Deep set.
	Deep *deep.Inspector
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
		for _, ref := range e.refs {
			if _, ok := index[ref]; !ok {
				index[ref] = len(work)
				work = append(work, job{ref: ref, target: targets[i]})
				a.planned[ref] = true
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
			r.Errors = append(r.Errors, TargetError{Ref: e.target, Message: e.err.Error()})
			continue
		}
		for _, ref := range e.refs {
			if !reported[ref] {
				reported[ref] = true
				r.add(checked[index[ref]])
			}
		}
	}
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
	target string
	refs   []string
	err    error
}

type job struct {
	ref    string
	target Target
}

// outcome is what checking one reference found, related references (its
// per-arch siblings, its mirror copies) included.
type outcome struct {
	images   []Image
	findings []Finding
	errs     []TargetError
}

func (o *outcome) fail(ref string, err error) {
	o.errs = append(o.errs, TargetError{Ref: ref, Message: err.Error()})
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
func (a *auditor) fetch(ctx context.Context, ref string) (*tree.Node, error) {
	return a.nodes.Do(ref, func() (*tree.Node, error) { return a.src.Fetch(ctx, ref) })
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
	if j.target.Rules != nil {
		require = j.target.Rules(j.ref)
	}
	a.audit(&o, j.ref, root, require)
	if j.target.Deep {
		a.deepCheck(ctx, &o, j.ref, root, &o.images[0])
	}
	a.siblings(ctx, &o, j, root)
	a.mirrors(ctx, &o, j, root)
	return o
}

func (a *auditor) audit(o *outcome, ref string, root *tree.Node, require []specs.Platform) {
	img, findings, problems := Check(ref, root, require)
	o.images = append(o.images, img)
	o.findings = append(o.findings, findings...)
	for _, p := range problems {
		o.fail(ref, p)
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
	for _, ref := range refs {
		node, err := a.fetch(ctx, ref)
		if err != nil {
			o.fail(ref, err)
			continue
		}
		if a.claim(ref) {
			a.audit(o, ref, node, nil)
		}
		o.findings = append(o.findings, staleArchTag(j.ref, root, ref, node)...)
	}
}

// claim reports whether ref should be audited here: it is not a planned
// target and no other check has audited it.
func (a *auditor) claim(ref string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.planned[ref] || a.extra[ref] {
		return false
	}
	a.extra[ref] = true
	return true
}

// mirrors compares j's tag with its copy under each mirror prefix.
func (a *auditor) mirrors(ctx context.Context, o *outcome, j job, root *tree.Node) {
	if len(j.target.Mirrors) == 0 {
		return
	}
	m, ok := a.src.(Mirrors)
	if !ok {
		o.fail(j.ref, errors.New("this source cannot compare with mirrors"))
		return
	}
	for _, prefix := range j.target.Mirrors {
		ref, err := m.Rebase(j.ref, prefix)
		if err != nil {
			o.fail(j.ref, err)
			continue
		}
		copy, err := a.fetch(ctx, ref)
		if err != nil && !errors.Is(err, tree.ErrMissing) {
			o.fail(ref, err)
			continue
		}
		o.findings = append(o.findings, mirrorDrift(j.ref, root, ref, copy, err)...)
	}
}

func expandAll(ctx context.Context, src Source, targets []Target, jobs int) []expansion {
	out := make([]expansion, len(targets))
	parallel(len(targets), jobs, func(i int) {
		refs, err := src.Expand(ctx, targets[i].Name)
		if err == nil && len(refs) == 0 {
			err = fmt.Errorf("%s has no tags to audit", targets[i].Name)
		}
		out[i] = expansion{target: targets[i].Name, refs: refs, err: err}
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
