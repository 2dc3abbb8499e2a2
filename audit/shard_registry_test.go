package audit_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/registry"
)

var _ audit.Repositories = (*registry.Client)(nil)

// TestShardListsOnlyItsRepositories: a shard of a whole registry reads the
// catalog, then lists the tags of its own repositories only, not every
// repository's (registry.Client lists repositories apart from tags); the
// shards between them audit every tag once.
func TestShardListsOnlyItsRepositories(t *testing.T) {
	var mu sync.Mutex
	listed := map[string]int{} // repository → tag list requests
	host := testregistry.InProcess(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if repo, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/v2/"), "/tags/list"); ok {
				mu.Lock()
				listed[repo]++
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	})
	env := storytest.NewEnv(t, host)
	const repos = 9
	for i := range repos {
		img := env.Image("linux/amd64", stories.OCI, fmt.Sprint("repo ", i))
		env.Push(fmt.Sprintf("org/app%d:1.0", i), img)
		env.Push(fmt.Sprintf("org/app%d:1.1", i), img)
	}
	// Ten shards of nine repositories: some shard holds none, and that
	// is no error.
	const count = 10
	var all []string
	for index := range count {
		mu.Lock()
		clear(listed)
		mu.Unlock()
		shard := audit.Shard{Index: index, Count: count}
		r := audit.Run(context.Background(), testregistry.Client(t), []audit.Target{{Ref: storytest.Parse(t, host+"/")}}, audit.Options{Shard: shard})
		if len(r.Errors) > 0 {
			t.Fatalf("shard %s: %v", shard, r.Errors)
		}
		mine := map[string]bool{}
		for _, img := range r.Images {
			mine[img.Ref.Repository] = true
			all = append(all, img.Ref.Repo().String()+":"+img.Ref.Tag)
			if audit.ShardOf(img.Ref, count) != index {
				t.Errorf("shard %s audited %s, of shard %d", shard, img.Ref, audit.ShardOf(img.Ref, count))
			}
		}
		mu.Lock()
		for repo, n := range listed {
			if !mine[repo] || n != 1 {
				t.Errorf("shard %s listed the tags of %s %d times; want once, and only its own repositories %v", shard, repo, n, mine)
			}
		}
		mu.Unlock()
	}
	slices.Sort(all)
	if len(all) != 2*repos || len(slices.Compact(slices.Clone(all))) != 2*repos {
		t.Errorf("the shards audited %d tags (%v), want each of %d once", len(all), all, 2*repos)
	}
}
