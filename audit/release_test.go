package audit

import (
	"context"
	"testing"

	"github.com/mlaudit/mlaudit/internal/treetest"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// flatSource holds one tree per reference, in repositories of its tags.
type flatSource map[string]*tree.Node

func (s flatSource) Expand(_ context.Context, target ref.Ref) ([]ref.Ref, error) {
	var out []ref.Ref
	for key := range s {
		if r, err := ref.Parse(key); err == nil && (r.Equal(target) || (!target.IsImage() && r.SameRepository(target))) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s flatSource) Fetch(_ context.Context, r ref.Ref) (*tree.Node, error) {
	return s[r.String()], nil
}

// TestTreesReleased checks that a run keeps no tree once its checks are
// done (auditor.held is empty: every repository was released), while the
// repository checks, which read summaries, still report.
func TestTreesReleased(t *testing.T) {
	amd := treetest.Image("amd", "linux/amd64")
	arm := treetest.Image("arm", "linux/arm64")
	both := treetest.Index("application/vnd.oci.image.index.v1+json", treetest.Entry(amd, "linux/amd64"), treetest.Entry(arm, "linux/arm64"))
	amdOnly := treetest.Index("application/vnd.oci.image.index.v1+json", treetest.Entry(amd, "linux/amd64"))
	src := flatSource{}
	var targets []Target
	for _, repo := range []string{"registry.example.com/a", "registry.example.com/b"} {
		src[repo+":1.0"], src[repo+":1.1"] = both, amdOnly
		r, err := ref.Parse(repo)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, Target{Ref: r})
	}
	one, err := ref.Parse("registry.example.com/a:1.0")
	if err != nil {
		t.Fatal(err)
	}
	targets = append(targets, Target{Ref: one})
	a := &auditor{src: src}
	p := newPipeline(a, targets, Options{})
	p.run(context.Background(), src, 4)
	if len(a.held) != 0 {
		t.Errorf("trees still held after the run: %v", a.held)
	}
	if len(a.summaries) != 4 {
		t.Errorf("%d summaries, want one per tag (4)", len(a.summaries))
	}
	found := a.repositories(context.Background(), p.expanded)
	if n := len(found.byRef["registry.example.com/a:1.1"]) + len(found.byRef["registry.example.com/b:1.1"]); n != 2 {
		t.Errorf("platform-dropped found %d times, want twice: %v", n, found.byRef)
	}
}
