package audit

import (
	"context"
	"fmt"
	"sync"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go/v1"

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
	// repository, or an OCI layout.
	Name string
	// Require lists the platforms each image must provide; empty checks
	// consistency only.
	Require []specs.Platform
}

// Options tune [Run].
type Options struct {
	// Jobs is how many references are fetched at once; 0 means 8.
	Jobs int
	// Progress, when set, is called after each reference is audited, with
	// how many are done out of how many are known so far.
	Progress func(done, total int, ref string)
}

// Run audits every target and returns what it found, in target order. A
// target or reference that cannot be read is recorded in Result.Errors and
// the others are still audited. Run returns early only if ctx ends.
func Run(ctx context.Context, src Source, targets []Target, opts Options) *Result {
	start := time.Now()
	jobs := opts.Jobs
	if jobs < 1 {
		jobs = 8
	}
	r := &Result{Images: []Image{}, Findings: []Finding{}, Errors: []TargetError{}}

	expanded := expandAll(ctx, src, targets, jobs)
	var work []job
	index := map[string]int{}
	for i, e := range expanded {
		for _, ref := range e.refs {
			if _, ok := index[ref]; !ok {
				index[ref] = len(work)
				work = append(work, job{ref: ref, require: targets[i].Require})
			}
		}
	}
	checked := checkAll(ctx, src, work, jobs, opts.Progress)

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
	ref     string
	require []specs.Platform
}

type outcome struct {
	job      job
	image    *Image
	findings []Finding
	errs     []error
}

func (r *Result) add(o outcome) {
	if o.image != nil {
		r.Images = append(r.Images, *o.image)
	}
	r.Findings = append(r.Findings, o.findings...)
	for _, err := range o.errs {
		r.Errors = append(r.Errors, TargetError{Ref: o.job.ref, Message: err.Error()})
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

// checkAll fetches and checks each job, returning outcomes in job order.
func checkAll(ctx context.Context, src Source, work []job, jobs int, progress func(int, int, string)) []outcome {
	out := make([]outcome, len(work))
	var mu sync.Mutex
	done := 0
	parallel(len(work), jobs, func(i int) {
		out[i] = checkOne(ctx, src, work[i])
		if progress != nil {
			mu.Lock()
			done++
			progress(done, len(work), work[i].ref)
			mu.Unlock()
		}
	})
	return out
}

func checkOne(ctx context.Context, src Source, j job) outcome {
	root, err := src.Fetch(ctx, j.ref)
	if err != nil {
		return outcome{job: j, errs: []error{err}}
	}
	img, findings, problems := Check(j.ref, root, j.require)
	return outcome{job: j, image: &img, findings: findings, errs: problems}
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
