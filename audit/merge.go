package audit

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Part is one result to [Merge], with the name its errors give it (the
// file it was read from).
type Part struct {
	Name   string
	Result *Result
}

// ErrMerge is wrapped by every error about results that do not make one
// audit together: a shard missing or given twice, shards of different
// counts, a shard mixed with a whole audit, an image in two parts.
var ErrMerge = errors.New("the results do not make one audit")

// Merge combines results into one: the shards of one audit (each of
// 0..N-1 exactly once), or whole audits that share no image. Images,
// findings and errors are put repository by repository, repositories in
// name order (the order a registry target lists them) and each
// repository's in the order its part listed them, so the shards of a
// registry target merge into the images one unsharded run lists, in its
// order. A finding or error about a reference outside the audited
// repositories (a mirror copy) stays with the one listed before it. An
// error every part reports (a catalog that could not be read) is kept
// once. Stats add up, but StartedAt is the earliest start and DurationMs
// the longest part's, as shards run side by side. One part is returned
// as it is.
func Merge(parts ...Part) (*Result, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("%w: nothing to merge", ErrMerge)
	}
	ordered, err := shardOrder(parts)
	if err != nil {
		return nil, err
	}
	if len(ordered) == 1 {
		return ordered[0].Result, nil
	}
	out := &Result{Images: []Image{}, Findings: []Finding{}, Errors: []TargetError{}, Stats: Stats{Requests: map[string]int64{}}}
	owner := map[string]string{} // image → the part that reports it
	repos := map[string]bool{}
	for _, p := range ordered {
		for _, img := range p.Result.Images {
			key := img.Ref.String()
			if first, ok := owner[key]; ok {
				return nil, fmt.Errorf("%w: %s is in both %s and %s", ErrMerge, key, first, p.Name)
			}
			owner[key] = p.Name
			repos[img.Ref.Repo().String()] = true
		}
	}
	var images []keyed[Image]
	var findings []keyed[Finding]
	var errs []keyed[TargetError]
	seen := map[string]bool{}
	for _, p := range ordered {
		r := p.Result
		for _, img := range r.Images {
			images = append(images, keyed[Image]{img.Ref.Repo().String(), img})
		}
		last := ""
		for _, f := range r.Findings {
			last = repoKey(f.Ref.Repo().String(), last, repos)
			findings = append(findings, keyed[Finding]{last, f})
		}
		last = ""
		for _, e := range r.Errors {
			last = repoKey(e.Ref.Repo().String(), last, repos)
			if id := e.Ref.String() + "\x00" + e.Message; !seen[id] {
				seen[id] = true
				errs = append(errs, keyed[TargetError]{last, e})
			}
		}
		addStats(&out.Stats, r.Stats)
	}
	out.Images = sortByRepo(images)
	out.Findings = sortByRepo(findings)
	out.Errors = sortByRepo(errs)
	out.CompletenessNotChecked = completeness(out.Images)
	return out, nil
}

// maxProblems is how many missing or repeated shards an error names.
const maxProblems = 10

// shardOrder checks that parts are the shards of one audit, each once,
// and returns them by index; parts without a shard are returned as given.
func shardOrder(parts []Part) ([]Part, error) {
	var whole, sharded []Part
	for _, p := range parts {
		if p.Result == nil {
			return nil, fmt.Errorf("%w: %s holds no result", ErrMerge, p.Name)
		}
		if p.Result.Shard == nil {
			whole = append(whole, p)
		} else {
			sharded = append(sharded, p)
		}
	}
	if len(sharded) == 0 {
		return whole, nil
	}
	if len(whole) > 0 {
		return nil, fmt.Errorf("%w: %s is shard %s but %s is a whole audit", ErrMerge, sharded[0].Name, sharded[0].Result.Shard, whole[0].Name)
	}
	count := sharded[0].Result.Shard.Count
	if count < 1 || count > MaxShards {
		return nil, fmt.Errorf("%w: %s says it is shard %s: at most %d shards", ErrMerge, sharded[0].Name, sharded[0].Result.Shard, MaxShards)
	}
	byIndex := make([][]string, count)
	ordered := make([]Part, count)
	for _, p := range sharded {
		s := *p.Result.Shard
		if s.Count != count {
			return nil, fmt.Errorf("%w: %s is shard %s but %s is shard %s: give the shards of one audit", ErrMerge, sharded[0].Name, sharded[0].Result.Shard, p.Name, s)
		}
		if s.Index < 0 || s.Index >= count {
			return nil, fmt.Errorf("%w: %s holds shard %d of %d", ErrMerge, p.Name, s.Index, count)
		}
		byIndex[s.Index] = append(byIndex[s.Index], p.Name)
		ordered[s.Index] = p
	}
	var problems []string
	for i, names := range byIndex {
		switch {
		case len(names) == 0:
			problems = append(problems, fmt.Sprintf("shard %d/%d is missing", i, count))
		case len(names) > 1:
			problems = append(problems, fmt.Sprintf("shard %d/%d is given %d times (%s)", i, count, len(names), strings.Join(names, ", ")))
		}
	}
	if len(problems) > maxProblems {
		problems = append(problems[:maxProblems], fmt.Sprintf("and %d more", len(problems)-maxProblems))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrMerge, strings.Join(problems, "; "))
	}
	return ordered, nil
}

// keyed is an item of a result with the repository it is listed under.
type keyed[T any] struct {
	repo string
	item T
}

// repoKey is the repository an item is listed under: its own when an
// image of the merge is in it, else the one the item before it (last)
// is listed under.
func repoKey(own, last string, repos map[string]bool) string {
	if repos[own] || last == "" {
		return own
	}
	return last
}

func sortByRepo[T any](items []keyed[T]) []T {
	slices.SortStableFunc(items, func(a, b keyed[T]) int { return strings.Compare(a.repo, b.repo) })
	out := make([]T, 0, len(items))
	for _, k := range items {
		out = append(out, k.item)
	}
	return out
}

// addStats adds a part's stats to sum.
func addStats(sum *Stats, s Stats) {
	for k, n := range s.Requests {
		sum.Requests[k] += n
	}
	sum.RequestsTotal += s.RequestsTotal
	sum.Pulls += s.Pulls
	sum.CacheHits += s.CacheHits
	sum.DeepBytes += s.DeepBytes
	// The lowest allowance a host announced to any shard.
	for host, n := range s.RateLimitRemaining {
		if sum.RateLimitRemaining == nil {
			sum.RateLimitRemaining = map[string]int{}
		}
		if old, ok := sum.RateLimitRemaining[host]; !ok || n < old {
			sum.RateLimitRemaining[host] = n
		}
	}
	sum.DurationMs = max(sum.DurationMs, s.DurationMs)
	if !s.StartedAt.IsZero() && (sum.StartedAt.IsZero() || s.StartedAt.Before(sum.StartedAt)) {
		sum.StartedAt = s.StartedAt
	}
}
