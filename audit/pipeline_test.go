package audit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/treetest"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// slowSource is a memSource whose listing of one target waits until
// another reference has been fetched (or a deadline passes, which the
// tests treat as starvation).
type slowSource struct {
	*memSource
	slow    string // the target whose Expand waits
	waitFor string // the reference whose Fetch releases it
	then    error  // what the slow Expand returns once released

	once     sync.Once
	released chan struct{}
	starved  bool
}

func (s *slowSource) Expand(ctx context.Context, target ref.Ref) ([]ref.Ref, error) {
	if target.String() == s.slow {
		select {
		case <-s.released:
		case <-time.After(10 * time.Second):
			s.starved = true
		}
		if s.then != nil {
			return nil, s.then
		}
	}
	return s.memSource.Expand(ctx, target)
}

func (s *slowSource) Fetch(ctx context.Context, r ref.Ref) (*tree.Node, error) {
	if r.String() == s.waitFor {
		s.once.Do(func() { close(s.released) })
	}
	return s.memSource.Fetch(ctx, r)
}

// TestListingDoesNotStarveAudits lists a repository whose tag list does
// not end until another target has been audited: the other target is
// audited meanwhile, and the report keeps target order.
func TestListingDoesNotStarveAudits(t *testing.T) {
	amd := treetest.Image("amd", "linux/amd64")
	arm := treetest.Image("arm", "linux/arm64")
	idx := treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(arm, "linux/arm64"))
	const endless, honest = "registry.example.com/endless", "registry.example.com/honest:1"
	endlessErr := errors.New("the tag list of endless holds more than 100000 entries")
	src := &slowSource{memSource: newMemSource().put(t, honest, idx), slow: mustRef(t, endless).String(), waitFor: mustRef(t, honest).String(), then: endlessErr, released: make(chan struct{})}

	r := audit.Run(context.Background(), src, []audit.Target{{Ref: mustRef(t, endless)}, {Ref: mustRef(t, honest)}}, audit.Options{})
	if src.starved {
		t.Fatal("the honest target was not audited while the endless one was being listed")
	}
	if got := imageRefs(r); !slices.Equal(got, []string{mustRef(t, honest).String()}) {
		t.Errorf("images %v, want the honest one", got)
	}
	if len(r.Errors) != 1 || !errors.Is(r.Errors[0].Err, endlessErr) {
		t.Errorf("errors %+v, want the endless listing's", r.Errors)
	}
}

// TestReportDoesNotDependOnListingOrder has two targets name the same
// references, the later target's listing ending first: each reference is
// reported once, where the first target naming it puts it, audited with
// that target's settings; a per-arch sibling a target names is not also
// audited on the side.
func TestReportDoesNotDependOnListingOrder(t *testing.T) {
	amd := treetest.Image("amd", "linux/amd64")
	arm := treetest.Image("arm", "linux/arm64")
	idx := treetest.Index(ociIndex, entry(amd, "linux/amd64"))
	const repo = "registry.example.com/app"
	mem := newMemSource().put(t, repo+":1", idx).put(t, repo+":1-amd64", amd).put(t, repo+":2", arm)
	requireArm, err := platform.ParseList("linux/arm64")
	if err != nil {
		t.Fatal(err)
	}
	whole := audit.Target{Ref: mustRef(t, repo), Require: requireArm}
	one := audit.Target{Ref: mustRef(t, repo+":1"), PerArch: []string{"{tag}-{arch}"}}
	tests := []struct {
		name     string
		targets  []audit.Target
		waitFor  string // the repository is listed once this was fetched
		findings []string
	}{
		{"the first target's settings", []audit.Target{whole, one}, repo + ":1", []string{repo + ":1 missing-platform linux/arm64"}},
		{"no sibling audited twice", []audit.Target{one, whole}, repo + ":1-amd64", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 5 {
				src := &slowSource{memSource: mem, slow: whole.Ref.String(), waitFor: mustRef(t, tt.waitFor).String(), released: make(chan struct{})}
				r := audit.Run(context.Background(), src, tt.targets, audit.Options{})
				noErrors(t, r)
				if src.starved {
					t.Fatal("the other target was not audited while the repository was being listed")
				}
				want := []string{repo + ":1", repo + ":1-amd64", repo + ":2"}
				if got := imageRefs(r); !slices.Equal(got, want) {
					t.Errorf("images %v, want %v: each once, in target order", got, want)
				}
				if got := located(r.Findings); !slices.Equal(got, tt.findings) {
					t.Errorf("findings %v, want %v", got, tt.findings)
				}
			}
		})
	}
}

// countingSource is a memSource that counts Fetch calls by reference.
type countingSource struct {
	*memSource
	mu      sync.Mutex
	fetches map[string]int
}

func (s *countingSource) Fetch(ctx context.Context, r ref.Ref) (*tree.Node, error) {
	s.mu.Lock()
	s.fetches[r.String()]++
	s.mu.Unlock()
	return s.memSource.Fetch(ctx, r)
}

// TestEachReferenceFetchedOnce audits references that several checks ask
// for: a tag two targets name (listed in either order), per-arch siblings
// that are targets' tags too, and mirror copies in a repository that is a
// target as well. Trees are let go once a repository's checks are done,
// but never while a check or a listing may still ask for them: each
// reference is fetched once, and the repository checks still see every
// tag.
func TestEachReferenceFetchedOnce(t *testing.T) {
	amd := treetest.Image("amd", "linux/amd64")
	arm := treetest.Image("arm", "linux/arm64")
	both := treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(arm, "linux/arm64"))
	amdOnly := treetest.Index(ociIndex, entry(amd, "linux/amd64"))
	const repo, copies = "registry.example.com/app", "registry.internal/mirror/app"
	mem := newMemSource()
	for _, at := range []string{repo, copies} {
		mem.put(t, at+":1.0", both).put(t, at+":1.0-amd64", amd).put(t, at+":1.0-arm64", arm).
			put(t, at+":1.1", amdOnly).put(t, at+":1.1-amd64", amd).put(t, at+":latest", amdOnly)
	}
	for i := range 20 {
		mem.put(t, fmt.Sprintf("registry.example.com/other%02d:1.0", i), both)
	}
	whole := audit.Target{Ref: mustRef(t, repo), PerArch: []string{"{tag}-{arch}"}, Mirrors: []ref.Ref{mustPrefix(t, "registry.internal/mirror")}}
	one := audit.Target{Ref: mustRef(t, repo+":1.1"), PerArch: []string{"{tag}-{arch}"}}
	mirror := audit.Target{Ref: mustRef(t, copies)}
	var others []audit.Target
	for i := range 20 {
		others = append(others, audit.Target{Ref: mustRef(t, fmt.Sprintf("registry.example.com/other%02d", i))})
	}
	for _, tt := range []struct {
		name    string
		targets []audit.Target
	}{
		{"the repository first", append([]audit.Target{whole, one, mirror}, others...)},
		{"the tag first", append([]audit.Target{one, mirror, whole}, others...)},
		{"among others", append(append(slices.Clone(others[:10]), mirror, whole, one), others[10:]...)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, jobs := range []int{1, 2, 32} {
				for range 10 {
					src := &countingSource{memSource: mem, fetches: map[string]int{}}
					r := audit.Run(context.Background(), src, tt.targets, audit.Options{Jobs: jobs})
					noErrors(t, r)
					for key, n := range src.fetches {
						if n != 1 {
							t.Fatalf("jobs %d: %s fetched %d times, want once", jobs, key, n)
						}
					}
					var dropped []string
					for _, f := range r.Findings {
						if f.Code == audit.PlatformDropped {
							dropped = append(dropped, f.Ref.String())
						}
					}
					slices.Sort(dropped)
					if want := []string{repo + ":1.1", copies + ":1.1"}; !slices.Equal(dropped, want) {
						t.Fatalf("jobs %d: platform-dropped on %v, want %v", jobs, dropped, want)
					}
				}
			}
		})
	}
}
