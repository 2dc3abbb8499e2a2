package registry_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/registry"
)

// tagsOf writes references as "repo:tag", without the host.
func tagsOf(host string, refs []ref.Ref) string {
	var out []string
	for _, r := range refs {
		if r.Registry != host {
			return "a reference on another host: " + r.String()
		}
		out = append(out, r.Repository+":"+r.Tag)
	}
	return strings.Join(out, " ")
}

func TestCatalogWalksEveryRepository(t *testing.T) {
	e := storytest.NewEnv(t, testregistry.InProcess(t, nil))
	img := e.Image("linux/amd64", stories.OCI, "catalog")
	for _, ref := range []string{"b/app:1", "a/app:1", "a/app:2", "a/app:sha256-" + strings.Repeat("ab", 32) + ".sig"} {
		e.Push(ref, img)
	}
	refs, err := newClient(t).Expand(context.Background(), mustRef(t, e.Host+"/"))
	if err != nil {
		t.Fatal(err)
	}
	if got := tagsOf(e.Host, refs); got != "a/app:1 a/app:2 b/app:1" {
		t.Errorf("catalog walk = %s (signature tags are skipped)", got)
	}
}

func TestTagFilter(t *testing.T) {
	e := storytest.NewEnv(t, testregistry.InProcess(t, nil))
	img := e.Image("linux/amd64", stories.OCI, "filter")
	sig := "sha256-" + strings.Repeat("cd", 32) + ".sig"
	for _, tag := range []string{"v1.0.0", "v1.1.0-rc.1", "v1.1.0", "latest", "nightly-2026", sig} {
		e.Push("app:"+tag, img)
	}
	tests := []struct {
		filter registry.TagFilter
		want   string
	}{
		{registry.TagFilter{}, "app:latest app:nightly-2026 app:v1.0.0 app:v1.1.0 app:v1.1.0-rc.1"},
		{registry.TagFilter{Include: regexp.MustCompile(`^v\d+\.\d+\.\d+$`)}, "app:v1.0.0 app:v1.1.0"},
		{registry.TagFilter{Exclude: regexp.MustCompile(`rc|nightly`)}, "app:latest app:v1.0.0 app:v1.1.0"},
		{registry.TagFilter{Include: regexp.MustCompile(`^sha256-`), Signatures: true}, "app:" + sig},
	}
	for _, tt := range tests {
		refs, err := newClient(t, registry.WithTagFilter(tt.filter)).Expand(context.Background(), mustRef(t, e.Host+"/app"))
		if err != nil {
			t.Fatal(err)
		}
		if got := tagsOf(e.Host, refs); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.filter, got, tt.want)
		}
	}
	// A tag named explicitly is audited whatever the filter says.
	refs, _ := newClient(t, registry.WithTagFilter(registry.TagFilter{Exclude: regexp.MustCompile(".")})).Expand(context.Background(), mustRef(t, e.Host+"/app:latest"))
	if len(refs) != 1 {
		t.Errorf("an explicit tag was filtered out: %v", refs)
	}
}

func TestCatalogPaginationAndRefusal(t *testing.T) {
	host := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/_catalog" && r.URL.Query().Get("last") == "":
			w.Header().Set("Link", `</v2/_catalog?last=one&n=1>; rel="next"`)
			fmt.Fprint(w, `{"repositories":["one"]}`)
		case r.URL.Path == "/v2/_catalog":
			fmt.Fprint(w, `{"repositories":["two"]}`)
		case strings.HasSuffix(r.URL.Path, "/tags/list"):
			fmt.Fprint(w, `{"tags":["1"]}`)
		default:
			http.NotFound(w, r)
		}
	})
	c := newClient(t)
	refs, err := c.Expand(context.Background(), mustRef(t, host+"/"))
	if err != nil {
		t.Fatal(err)
	}
	if got := tagsOf(host, refs); got != "one:1 two:1" {
		t.Errorf("walk = %s", got)
	}
	if n := c.Stats().Requests["GET catalog"]; n != 2 {
		t.Errorf("GET catalog = %d, want one per page", n)
	}

	refusing := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"catalog disabled"}]}`)
	})
	_, err = newClient(t).Expand(context.Background(), mustRef(t, refusing+"/"))
	if err == nil || !strings.Contains(err.Error(), "does not let mlaudit list its repositories") || !strings.Contains(err.Error(), "name the repositories") {
		t.Errorf("a refused catalog should say what to do: %v", err)
	}
}
