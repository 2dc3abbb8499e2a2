package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/deep"
	"github.com/mlaudit/mlaudit/internal/memo"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

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
	// RequireSignatures says which manifests of each audited tag must be
	// signed (unsigned); none when 0. The Source must implement
	// [Siblings] and [Referrers].
	RequireSignatures Signatures
}

// Options tune [Run].
type Options struct {
	// Jobs is how many references are worked on at once, and how many
	// targets are listed at once besides; 0 means 32.
	// Each reference's requests wait one after another (tag, children,
	// configs), so this is best several times the Source's own cap on
	// requests in flight, which is what bounds the load on a registry.
	Jobs int
	// Progress, when set, is called after each reference is audited, with
	// how many are done out of how many are known so far (a target still
	// being listed counts as one).
	Progress func(done, total int, r ref.Ref)
	// Deep inspects binaries for targets with Deep set.
	Deep *deep.Inspector
	// Ignore drops findings with these codes, and Severity changes the
	// severity of others (a policy's ignore and severity), before the
	// result is returned.
	Ignore   map[Code]bool
	Severity map[Code]Severity
	// Shard, when set, audits only the references whose repository
	// belongs to it (see [Shard]); the zero Shard audits everything.
	Shard Shard
}

// Run audits every target and returns what it found, in target order. A
// target or reference that cannot be read is recorded in Result.Errors and
// the others are still audited. Run returns early only if ctx ends.
//
// Listing and auditing interleave: each target's references are audited as
// soon as its own listing ends, while other targets are still being listed,
// so a repository whose tag list never ends holds up only itself. The
// result does not depend on which finished first: a reference named by
// several targets is reported once, where the first of them (in target
// order) names it, and audited with that target's settings.
func Run(ctx context.Context, src Source, targets []Target, opts Options) *Result {
	start := time.Now()
	jobs := opts.Jobs
	if jobs < 1 {
		jobs = 32
	}
	r := &Result{Images: []Image{}, Findings: []Finding{}, Errors: []TargetError{}}
	if opts.Shard.Count > 0 {
		shard := opts.Shard
		r.Shard = &shard
	}
	a := &auditor{src: src, inspector: opts.Deep}
	p := newPipeline(a, targets, opts)
	p.run(ctx, src, jobs)

	planned := map[string]bool{}
	for _, e := range p.expanded {
		for _, ref := range e.refs {
			planned[ref.String()] = true
		}
	}
	repos := a.repositories(ctx, p.expanded)
	asm := assembly{result: r, planned: planned, reported: map[string]bool{}, extra: map[string]bool{}}
	for i, e := range p.expanded {
		if e.err != nil {
			r.Errors = append(r.Errors, TargetError{Ref: e.target, Message: e.err.Error(), Err: e.err})
			continue
		}
		for _, ref := range e.refs {
			if key := ref.String(); !asm.reported[key] {
				asm.reported[key] = true
				asm.add(p.checked[work{key: key, target: i}])
				r.Findings = append(r.Findings, repos.byRef[key]...)
			}
		}
		r.Findings = append(r.Findings, repos.byTarget[i]...)
		r.Errors = append(r.Errors, repos.errs[i]...)
	}
	r.Findings = judge(r.Findings, opts)
	r.CompletenessNotChecked = completeness(r.Images)
	if c, ok := src.(Coster); ok {
		r.Stats.Requests = c.RequestCounts()
		for _, n := range r.Stats.Requests {
			r.Stats.RequestsTotal += n
		}
		r.Stats.Pulls = r.Stats.Requests["GET manifest"]
		r.Stats.CacheHits = c.CacheHits()
		r.Stats.RateLimitRemaining = c.RateLimitRemaining()
	}
	r.Stats.DeepBytes = asm.deepBytes
	r.Stats.DurationMs = time.Since(start).Milliseconds()
	r.Stats.StartedAt = start.UTC().Truncate(time.Second)
	return r
}

// outcome is what checking one reference found, related references (its
// per-arch siblings, its mirror copies) included.
type outcome struct {
	images   []Image
	findings []Finding
	errs     []TargetError
	// sides are per-arch siblings audited along the way; whether each is
	// reported with this reference is decided when the report is put
	// together (see assembly.add).
	sides     []side
	deepBytes int64
}

// side is a per-arch sibling's own audit, and where it goes among its
// outcome's images, findings and errors.
type side struct {
	ref                    ref.Ref
	images, findings, errs int
	audit                  outcome
}

func (o *outcome) fail(r ref.Ref, err error) {
	o.errs = append(o.errs, TargetError{Ref: r, Message: err.Error(), Err: err})
}

// auditor holds what one Run shares between references.
type auditor struct {
	src       Source
	inspector *deep.Inspector
	// nodes holds the trees read, by reference, while a check may still
	// ask for them: the pipeline lets a repository's trees go (release)
	// once no queued check, and no listing still running, can ask for
	// them again. held lists the references read in each repository.
	nodes memo.Map[*tree.Node]
	mu    sync.Mutex
	held  map[ref.Ref][]string
	// summaries is what the repository checks need of each reference
	// audited (repository.go), kept for the whole run instead of trees.
	summaries map[string]*summary
	// tagLists and referrerLists hold what signature checks listed, by
	// repository and by reference (signatures.go).
	tagLists      memo.Map[[]string]
	referrerLists memo.Map[[]v1.Descriptor]
}

// fetch reads a reference once per run, however many checks need it,
// as long as the pipeline keeps its repository's trees (release).
func (a *auditor) fetch(ctx context.Context, r ref.Ref) (*tree.Node, error) {
	key := r.String()
	return a.nodes.Do(key, func() (*tree.Node, error) {
		a.mu.Lock()
		if a.held == nil {
			a.held = map[ref.Ref][]string{}
		}
		a.held[r.Repo()] = append(a.held[r.Repo()], key)
		a.mu.Unlock()
		return a.src.Fetch(ctx, r)
	})
}

// release lets go of the trees read in repo: nothing will ask for them
// again.
func (a *auditor) release(repo ref.Ref) {
	a.mu.Lock()
	keys := a.held[repo]
	delete(a.held, repo)
	a.mu.Unlock()
	for _, key := range keys {
		a.nodes.Forget(key)
	}
}

// check audits one reference, then its per-arch siblings and mirrors.
func (a *auditor) check(ctx context.Context, j job) outcome {
	var o outcome
	root, err := a.fetch(ctx, j.ref)
	if err != nil {
		o.fail(j.ref, err)
		return o
	}
	a.summarize(j.ref, root)
	require := j.target.Require
	if j.target.RequireFor != nil {
		require = j.target.RequireFor(j.ref)
	}
	a.audit(&o, j.ref, root, require)
	a.subject(ctx, &o, j.ref, root)
	a.requireSignatures(ctx, &o, j.ref, root, j.target.RequireSignatures)
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

// missingSubjectHint is missing-child's hint for an artifact whose
// subject is gone: there is no index entry to drop.
const missingSubjectHint = "Push the subject again, or delete the artifact (and its referrers tag sha256-<hex> where the registry has no referrers API)."

// subject reports an artifact or referrer whose subject the repository
// does not have (missing-child), at the cost of one HEAD: the root's
// own subject, or for a referrers index the one subject its artifacts
// share.
func (a *auditor) subject(ctx context.Context, o *outcome, r ref.Ref, root *tree.Node) {
	res, ok := a.src.(Resolver)
	if !ok || !root.IsArtifact() {
		return
	}
	subject := root.Subject()
	if subject == (v1.Hash{}) && root.Index != nil {
		for _, c := range root.Children {
			s := c.Subject()
			switch {
			case s == (v1.Hash{}):
			case subject == (v1.Hash{}):
				subject = s
			case s != subject:
				return // several subjects: more than one request
			}
		}
	}
	if subject == (v1.Hash{}) {
		return
	}
	got, err := res.Resolve(ctx, r.WithDigest(subject.String()))
	if err != nil {
		o.fail(r, fmt.Errorf("checking the subject %s: %w", ref.ShortDigest(subject.String()), err))
		return
	}
	if got != "" {
		return
	}
	info := MissingChild.Info()
	o.findings = append(o.findings, Finding{
		Ref: r, Digest: root.Descriptor.Digest.String(), Code: MissingChild, Severity: info.Severity,
		Message: fmt.Sprintf("the artifact names the subject %s, which %s does not have", ref.ShortDigest(subject.String()), r.Repo()),
		Hint:    missingSubjectHint,
	})
}

// completeness says, when no image had platforms required or inferred,
// that platform completeness was not checked and how to check it; "" when
// some image was checked (or there was nothing to check).
func completeness(images []Image) string {
	judged := 0
	for _, img := range images {
		if len(img.Required) > 0 || len(img.Inferred) > 0 {
			return ""
		}
		if _, perArch := platform.FromTag(img.Ref.Tag); !img.Artifact && !perArch {
			judged++
		}
	}
	if judged == 0 {
		return ""
	}
	return "platform completeness was not checked: nothing said which platforms each tag must hold, so a tag that lost platforms passes; " +
		"give --require (e.g. --require linux/amd64,linux/arm64), a policy's require, or --per-arch '{tag}-{arch}' to compare with per-arch tags"
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
		s := side{ref: sib, images: len(o.images), findings: len(o.findings), errs: len(o.errs)}
		a.audit(&s.audit, sib, node, nil)
		o.sides = append(o.sides, s)
		o.findings = append(o.findings, staleArchTag(j.ref, root, sib, node)...)
		o.findings = append(o.findings, siblingNotListed(&o.images[0], o.findings, j.ref, root, sib, node)...)
	}
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
		if err == nil {
			found, err := a.mirrorSignatures(ctx, j.ref, root, mirror, copy)
			if err != nil {
				o.fail(mirror, err)
			}
			o.findings = append(o.findings, found...)
		}
	}
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
