package audit

import (
	"context"

	"github.com/mlaudit/mlaudit/ref"
)

// The checks that need a whole repository's tags, made once every tag of a
// repository walk was audited: platform-dropped (releases.go: a release
// lost a platform its previous release had) and orphan-referrer
// (orphans.go: a signature or referrers tag whose subject no tag reaches).
// They read a summary of each tree the walk fetched (summary.go), recorded
// when its reference was audited, so that the trees themselves need not be
// kept for the whole run; orphan-referrer adds at most one HEAD per
// subject it suspects.

// repoChecks are what the repository checks found for one Run: findings
// about an audited reference (by its key), and findings and errors about
// a target as a whole (tags that were not audited).
type repoChecks struct {
	byRef    map[string][]Finding
	byTarget map[int][]Finding
	errs     map[int][]TargetError
}

// repositories runs the repository checks on every repository a target
// walked (a repository, a registry's repositories, a layout), each
// repository once, in target order.
func (a *auditor) repositories(ctx context.Context, expanded []expansion) repoChecks {
	rc := repoChecks{byRef: map[string][]Finding{}, byTarget: map[int][]Finding{}, errs: map[int][]TargetError{}}
	done := map[string]bool{}
	for i, e := range expanded {
		if e.err != nil || e.target.IsImage() {
			continue
		}
		groups := map[string][]ref.Ref{}
		var order []string
		for _, r := range e.refs {
			key := r.Repo().String()
			if _, ok := groups[key]; !ok {
				order = append(order, key)
			}
			groups[key] = append(groups[key], r)
		}
		for _, key := range order {
			if done[key] {
				continue
			}
			done[key] = true
			refs := groups[key]
			trees := a.summarized(refs)
			for _, f := range platformsDropped(refs, trees) {
				k := f.Ref.String()
				rc.byRef[k] = append(rc.byRef[k], f)
			}
			found, err := a.orphanReferrers(ctx, refs, trees)
			if err != nil {
				rc.errs[i] = append(rc.errs[i], TargetError{Ref: refs[0].Repo(), Message: err.Error(), Err: err})
			}
			rc.byTarget[i] = append(rc.byTarget[i], found...)
		}
	}
	return rc
}
