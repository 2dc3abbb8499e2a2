package audit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/treetest"
	"github.com/mlaudit/mlaudit/ref"
)

func TestParseShard(t *testing.T) {
	tests := []struct {
		in   string
		want audit.Shard
		err  string // in the error, "" for none
	}{
		{"0/3", audit.Shard{Index: 0, Count: 3}, ""},
		{"2/3", audit.Shard{Index: 2, Count: 3}, ""},
		{"0/1", audit.Shard{Index: 0, Count: 1}, ""},
		{"3/3", audit.Shard{}, "below 3"},
		{"7/3", audit.Shard{}, "below 3"},
		{"1/0", audit.Shard{}, "at least 1"},
		{"0/10001", audit.Shard{}, "at most 10000 shards"},
		{"0/10000", audit.Shard{Index: 0, Count: 10000}, ""},
		{"-1/3", audit.Shard{}, `index "-1"`},
		{"+1/3", audit.Shard{}, `index "+1"`},
		{" 1/3", audit.Shard{}, `index " 1"`},
		{"1/3/4", audit.Shard{}, `count "3/4"`},
		{"1", audit.Shard{}, "INDEX/COUNT"},
		{"", audit.Shard{}, "INDEX/COUNT"},
		{"/3", audit.Shard{}, `index ""`},
		{"a/b", audit.Shard{}, `count "b"`},
		{"1/99999999999999999999999", audit.Shard{}, "count"},
	}
	for _, tt := range tests {
		got, err := audit.ParseShard(tt.in)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("ParseShard(%q): %v", tt.in, err)
		case tt.err != "" && err == nil:
			t.Errorf("ParseShard(%q) = %v, want an error", tt.in, got)
		case err != nil && (!errors.Is(err, audit.ErrShard) || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.in))):
			t.Errorf("ParseShard(%q): %v; want ErrShard naming the input and %s", tt.in, err, tt.err)
		case got != tt.want:
			t.Errorf("ParseShard(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), tt.in)
		}
	}
}

// TestShardOfIsStable pins the documented hash: changing it would move
// repositories between the shards of jobs already running.
func TestShardOfIsStable(t *testing.T) {
	for _, tt := range []struct {
		ref   string
		count int
		want  int
	}{
		{"alpine:3", 3, 0}, // index.docker.io/library/alpine, docs/audit.md
		{"index.docker.io/library/alpine@sha256:" + strings.Repeat("0", 64), 3, 0},
		{"ghcr.io/org/app:1.0", 3, 1}, // FNV-1a 0xefbbb19a00da5e4e
		{"ghcr.io/org/app", 3, 1},
		{"ghcr.io/org/app:1.0", 1, 0},
		{"oci:out:1.0", 3, 2},
	} {
		if got := audit.ShardOf(mustRef(t, tt.ref), tt.count); got != tt.want {
			t.Errorf("ShardOf(%s, %d) = %d, want %d", tt.ref, tt.count, got, tt.want)
		}
	}
	if !(audit.Shard{}).Keeps(mustRef(t, "ghcr.io/org/app:1.0")) {
		t.Error("the zero Shard should keep everything")
	}
	if !(audit.Shard{Index: 2, Count: 3}).Keeps(mustRef(t, "ghcr.io/")) {
		t.Error("every shard keeps a whole registry (its repositories are sharded once listed)")
	}
}

// catalogSource is a memSource that also expands a whole registry into
// every stored reference, and counts listings by target.
type catalogSource struct {
	*memSource
	mu     sync.Mutex
	listed map[string]int
}

func (s *catalogSource) Expand(ctx context.Context, target ref.Ref) ([]ref.Ref, error) {
	s.mu.Lock()
	s.listed[target.String()]++
	s.mu.Unlock()
	if !target.IsRegistry() {
		return s.memSource.Expand(ctx, target)
	}
	var out []ref.Ref
	for key := range s.nodes {
		r, err := ref.Parse(key)
		if err != nil {
			return nil, err
		}
		if r.Registry == target.Registry {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// shardedRegistry stores twelve repositories of two tags, each tag
// missing linux/arm64.
func shardedRegistry(t *testing.T) *catalogSource {
	src := &catalogSource{memSource: newMemSource(), listed: map[string]int{}}
	img := treetest.Image("amd", "linux/amd64")
	idx := treetest.Index(ociIndex, entry(img, "linux/amd64"))
	for i := range 12 {
		for _, tag := range []string{"1.0", "latest"} {
			src.put(t, fmt.Sprintf("registry.example.com/team/app%02d:%s", i, tag), idx)
		}
	}
	return src
}

// TestRunShardsByRepository audits a registry in three shards: every
// repository is in exactly one, with all of its tags, and the merge
// equals the unsharded run.
func TestRunShardsByRepository(t *testing.T) {
	ctx := context.Background()
	src := shardedRegistry(t)
	targets := []audit.Target{{Ref: mustRef(t, "registry.example.com/"), Require: mustPlatforms(t, "linux/amd64,linux/arm64")}}
	whole := audit.Run(ctx, src, targets, audit.Options{})
	noErrors(t, whole)
	if len(whole.Images) != 24 || whole.Shard != nil {
		t.Fatalf("the unsharded run: %d images, shard %v", len(whole.Images), whole.Shard)
	}
	in := map[string][]int{}
	var parts []audit.Part
	for i := range 3 {
		s := audit.Shard{Index: i, Count: 3}
		r := audit.Run(ctx, src, targets, audit.Options{Shard: s})
		noErrors(t, r)
		if r.Shard == nil || *r.Shard != s {
			t.Errorf("shard %s's result records %v", s, r.Shard)
		}
		if len(r.Images) == 24 || len(r.Images) == 0 {
			t.Errorf("shard %s holds %d of 24 images: not a share", s, len(r.Images))
		}
		for _, img := range r.Images {
			repo := img.Ref.Repo().String()
			if !slices.Contains(in[repo], i) {
				in[repo] = append(in[repo], i)
			}
			if got := audit.ShardOf(img.Ref, 3); got != i {
				t.Errorf("%s is in shard %d, ShardOf says %d", img.Ref, i, got)
			}
		}
		parts = append(parts, audit.Part{Name: s.String(), Result: r})
	}
	if len(in) != 12 {
		t.Errorf("%d repositories in the shards, want 12", len(in))
	}
	for repo, shards := range in {
		if len(shards) != 1 {
			t.Errorf("%s is in shards %v", repo, shards)
		}
	}
	slices.Reverse(parts) // the order given does not matter
	merged, err := audit.Merge(parts...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(merged.Images, whole.Images, func(a, b audit.Image) bool { return a.Ref.String() == b.Ref.String() && a.Digest == b.Digest }) {
		t.Errorf("merged images differ from the unsharded run's:\n%v\n%v", merged.Images, whole.Images)
	}
	if !slices.EqualFunc(merged.Findings, whole.Findings, func(a, b audit.Finding) bool { return a.String() == b.String() }) {
		t.Errorf("merged findings differ from the unsharded run's:\n%v\n%v", merged.Findings, whole.Findings)
	}
	if merged.Shard != nil {
		t.Errorf("a merge of every shard is whole, not shard %v", merged.Shard)
	}
}

// TestShardSkipsOtherShardsRepositories: a repository target of another
// shard is not even listed, and is no error.
func TestShardSkipsOtherShardsRepositories(t *testing.T) {
	src := shardedRegistry(t)
	var targets []audit.Target
	for i := range 12 {
		targets = append(targets, audit.Target{Ref: mustRef(t, fmt.Sprintf("registry.example.com/team/app%02d", i))})
	}
	r := audit.Run(context.Background(), src, targets, audit.Options{Shard: audit.Shard{Index: 1, Count: 3}})
	noErrors(t, r)
	for key, n := range src.listed {
		if audit.ShardOf(mustRef(t, key), 3) != 1 {
			t.Errorf("%s was listed %d times by shard 1/3, which it is not in", key, n)
		}
	}
	if len(src.listed) == 0 || len(r.Images) != 2*len(src.listed) {
		t.Errorf("shard 1/3 listed %d repositories and audited %d images", len(src.listed), len(r.Images))
	}
}

func TestMergeRefusesIncompleteShards(t *testing.T) {
	shard := func(i, n int) *audit.Result {
		return &audit.Result{Shard: &audit.Shard{Index: i, Count: n}}
	}
	tests := []struct {
		name  string
		parts []audit.Part
		want  []string
	}{
		{"missing", []audit.Part{{"a.json", shard(0, 3)}, {"c.json", shard(2, 3)}}, []string{"shard 1/3 is missing"}},
		{"twice", []audit.Part{{"a.json", shard(0, 2)}, {"b.json", shard(1, 2)}, {"b2.json", shard(1, 2)}}, []string{"shard 1/2 is given 2 times", "b.json", "b2.json"}},
		{"counts differ", []audit.Part{{"a.json", shard(0, 2)}, {"b.json", shard(1, 3)}}, []string{"a.json is shard 0/2", "b.json is shard 1/3"}},
		{"whole and shard", []audit.Part{{"a.json", shard(0, 1)}, {"w.json", &audit.Result{}}}, []string{"w.json is a whole audit"}},
		{"nothing", nil, []string{"nothing"}},
		// A report may say anything: a count no audit has is refused
		// before anything is made for it, and a long list of missing
		// shards is cut short.
		{"a count no audit has", []audit.Part{{"a.json", shard(0, 1<<40)}, {"b.json", shard(1, 1<<40)}}, []string{"a.json says it is shard 0/1099511627776", "at most 10000"}},
		{"most shards missing", []audit.Part{{"a.json", shard(0, 10000)}}, []string{"shard 1/10000 is missing", "shard 10/10000 is missing; and 9989 more"}},
	}
	for _, tt := range tests {
		_, err := audit.Merge(tt.parts...)
		if !errors.Is(err, audit.ErrMerge) {
			t.Errorf("%s: %v, want ErrMerge", tt.name, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v; want it to say %q", tt.name, err, w)
			}
		}
	}
	img := audit.Image{Ref: mustRef(t, "registry.example.com/a:1")}
	_, err := audit.Merge(audit.Part{Name: "x.json", Result: &audit.Result{Images: []audit.Image{img}}}, audit.Part{Name: "y.json", Result: &audit.Result{Images: []audit.Image{img}}})
	if !errors.Is(err, audit.ErrMerge) || !strings.Contains(err.Error(), "x.json and y.json") {
		t.Errorf("an image in two reports: %v", err)
	}
}

// TestMergeStatsAndErrors: requests add up, the start is the earliest,
// the duration the longest shard's, and an error every shard reports is
// kept once.
func TestMergeStatsAndErrors(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	catalog := audit.TargetError{Ref: mustRef(t, "registry.example.com/"), Message: "the catalog answered 500"}
	part := func(i int, requests int64, d time.Duration, errs ...audit.TargetError) audit.Part {
		return audit.Part{Name: fmt.Sprint(i), Result: &audit.Result{
			Shard:  &audit.Shard{Index: i, Count: 2},
			Errors: errs,
			Stats: audit.Stats{
				Requests: map[string]int64{"GET manifest": requests}, RequestsTotal: requests, Pulls: requests,
				RateLimitRemaining: map[string]int{"index.docker.io": 100 - int(requests)},
				DurationMs:         int64(i+1) * 1000, StartedAt: start.Add(d),
			},
		}}
	}
	broken := audit.TargetError{Ref: mustRef(t, "registry.example.com/b:1"), Message: "unreadable"}
	m, err := audit.Merge(part(0, 5, time.Minute, catalog), part(1, 7, 0, catalog, broken))
	if err != nil {
		t.Fatal(err)
	}
	s := m.Stats
	if s.RequestsTotal != 12 || s.Requests["GET manifest"] != 12 || s.Pulls != 12 || s.RateLimitRemaining["index.docker.io"] != 93 ||
		s.DurationMs != 2000 || !s.StartedAt.Equal(start) {
		t.Errorf("merged stats: %+v", s)
	}
	if len(m.Errors) != 2 || m.Errors[0].Message != catalog.Message || m.Errors[1].Message != broken.Message {
		t.Errorf("merged errors: %+v", m.Errors)
	}
}
