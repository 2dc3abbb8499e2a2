package registry_test

import (
	"context"
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/cache"
	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/tree"
)

// twoTags pushes two tags whose indexes share both children (and their
// configs), as release tags of one build do.
func twoTags(t *testing.T) (*storytest.Env, v1.Image) {
	e := storytest.NewEnv(t, testregistry.InProcess(t, nil))
	amd, arm := e.Image("linux/amd64", stories.OCI, "cache"), e.Image("linux/arm64", stories.OCI, "cache")
	e.Push("app:1.0", e.Index(stories.OCI, stories.Entry{Image: amd, Platform: "linux/amd64"}, stories.Entry{Image: arm, Platform: "linux/arm64"}))
	e.Push("app:latest", e.Index(stories.OCI, stories.Entry{Image: arm, Platform: "linux/arm64"}, stories.Entry{Image: amd, Platform: "linux/amd64"}))
	return e, arm
}

func fetchAll(t *testing.T, c *registry.Client, refs ...string) {
	t.Helper()
	for _, ref := range refs {
		n, err := c.Fetch(context.Background(), mustRef(t, ref))
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range n.Images() {
			if img.Err != nil || img.Config == nil {
				t.Fatalf("%s: an image was not read: %v", ref, img.Err)
			}
		}
	}
}

func TestSharedChildrenAreFetchedOnce(t *testing.T) {
	e, _ := twoTags(t)
	c := newClient(t)
	fetchAll(t, c, e.Host+"/app:1.0", e.Host+"/app:latest")
	got := c.Stats()
	// Two tags, two children, two configs: each fetched once.
	if got.Requests["GET manifest"] != 4 || got.Requests["GET blob"] != 2 {
		t.Errorf("requests = %v, want 4 GET manifest and 2 GET blob", got.Requests)
	}
}

func TestWarmCacheMakesNoGETs(t *testing.T) {
	e, arm := twoTags(t)
	dir := t.TempDir()
	refs := []string{e.Host + "/app:1.0", e.Host + "/app:latest"}
	cold := newClient(t, registry.WithCache(openCache(t, dir)))
	fetchAll(t, cold, refs...)

	warm := newClient(t, registry.WithCache(openCache(t, dir)))
	fetchAll(t, warm, refs...)
	got := warm.Stats()
	if got.Requests["GET manifest"] != 0 || got.Requests["GET blob"] != 0 {
		t.Errorf("a warm run made GETs: %v", got.Requests)
	}
	// One HEAD per tag, then one per distinct child to check it still
	// exists in the repository; none for configs of confirmed manifests.
	if got.Requests["HEAD manifest"] != 4 || got.Requests["HEAD blob"] != 0 || got.CacheHits == 0 {
		t.Errorf("requests = %v, cache hits %d; want 4 HEAD manifest, no HEAD blob", got.Requests, got.CacheHits)
	}

	// The cache holds content, not existence: a child deleted since is
	// still a missing child.
	e.Delete("app", arm)
	n, err := newClient(t, registry.WithCache(openCache(t, dir))).Fetch(context.Background(), mustRef(t, refs[0]))
	if err != nil {
		t.Fatal(err)
	}
	missing := 0
	for _, img := range n.Images() {
		if errors.Is(img.Err, tree.ErrMissing) {
			missing++
		}
	}
	if missing != 1 {
		t.Errorf("%d children reported missing, want the deleted one", missing)
	}
}

func openCache(t *testing.T, dir string) *cache.Dir {
	t.Helper()
	d, err := cache.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
