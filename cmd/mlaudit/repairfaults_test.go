package main

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/registry"
)

const runtimeTag = "aibrix/runtime:v0.3.0-rc.2"

// resolve returns the digest a reference holds, asking the registry
// directly.
func resolve(t *testing.T, s string) string {
	t.Helper()
	c, err := registry.New()
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Resolve(context.Background(), storytest.Parse(t, s))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRepairPushFailsHalfWay: the registry refuses the new index; the tag
// keeps pointing at the old one.
func TestRepairPushFailsHalfWay(t *testing.T) {
	upstream := testregistry.Distribution(t)
	seedStories(t, upstream)
	faults := (&testregistry.Faults{}).Add(testregistry.Path(http.MethodPut, "/v2/aibrix/runtime/manifests/sha256:"), 0, testregistry.Status(500))
	host := faults.Proxy(t, upstream)
	before := resolve(t, upstream+"/"+runtimeTag)
	r := mlaudit(t, "", "repair", "--per-arch", "{tag}-{arch}", "--require", "linux/amd64,linux/arm64", "--backup-tag", "{tag}-backup", "--apply", host+"/"+runtimeTag)
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if after := resolve(t, upstream+"/"+runtimeTag); after != before {
		t.Errorf("the tag moved to %s after a failed push", after)
	}
	if d := resolve(t, upstream+"/aibrix/runtime:v0.3.0-rc.2-backup"); d != "" {
		t.Errorf("no backup tag may be written before the push succeeds, found %s", d)
	}
}

// TestRepairKilledAtEachStep kills mlaudit (SIGKILL) while the registry
// holds each request of --apply in turn. The tag never points at
// something incomplete: it holds the old index until the last step.
func TestRepairKilledAtEachStep(t *testing.T) {
	steps := []struct {
		name  string
		match func(*http.Request) bool
	}{
		{"pushing the new index by digest", testregistry.Path(http.MethodPut, "/v2/aibrix/runtime/manifests/sha256:")},
		{"re-reading the tag", testregistry.Path(http.MethodHead, "/v2/aibrix/runtime/manifests/v0.3.0-rc.2")},
		{"writing the backup tag", testregistry.Path(http.MethodPut, "/v2/aibrix/runtime/manifests/v0.3.0-rc.2-backup")},
		{"moving the tag", func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/v2/aibrix/runtime/manifests/v0.3.0-rc.2")
		}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			upstream := testregistry.Distribution(t)
			seedStories(t, upstream)
			before := resolve(t, upstream+"/"+runtimeTag)
			reached := make(chan string, 1)
			release := make(chan struct{})
			host := (&testregistry.Faults{}).Add(step.match, 1, testregistry.Hold(reached, release)).Proxy(t, upstream)
			t.Cleanup(func() { close(release) }) // before the proxy closes: cleanups run last first

			cmd := exec.Command(binary, "repair", "--per-arch", "{tag}-{arch}", "--require", "linux/amd64,linux/arm64",
				"--backup-tag", "{tag}-backup", "--apply", "--no-cache", host+"/"+runtimeTag)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-reached:
			case <-time.After(60 * time.Second): // a guard, not a synchronisation
				_ = cmd.Process.Kill()
				t.Fatal("mlaudit never reached this step")
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()

			if after := resolve(t, upstream+"/"+runtimeTag); after != before {
				t.Errorf("killed while %s: the tag moved to %s", step.name, after)
			}
			// The old index is whole and still readable.
			r := mlaudit(t, "", "audit", "--format", "json", upstream+"/"+runtimeTag)
			if rep := decode(t, r.stdout); len(rep.Errors) != 0 || len(rep.Images) != 1 || rep.Images[0].Digest != before {
				t.Errorf("after the kill the tag should still hold the old, readable index: %+v %v", rep.Images, rep.Errors)
			}
		})
	}
}
