package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// The docker-daemon: target through the built binary, against
// testregistry.NewEngine: a test server answering the Engine API
// endpoints mlaudit uses in the documented shapes, since no Docker engine
// can run on the machines these tests run on. DOCKER_HOST points at its
// unix socket.

// twoArchEngineIndex is a linux/amd64 + linux/arm64 index, and its arm64
// image.
func twoArchEngineIndex(t *testing.T) (v1.ImageIndex, v1.Image) {
	t.Helper()
	e := storytest.NewEnv(t, testregistry.InProcess(t, nil))
	amd, arm := e.Image("linux/amd64", stories.OCI, "daemon"), e.Image("linux/arm64", stories.OCI, "daemon")
	return e.Index(stories.OCI, stories.Entry{Image: amd, Platform: "linux/amd64"}, stories.Entry{Image: arm, Platform: "linux/arm64"}), arm
}

// TestDaemonAudit: exit 0 when the engine holds every required platform,
// 1 with missing-child for a platform it lists but never pulled.
func TestDaemonAudit(t *testing.T) {
	idx, arm := twoArchEngineIndex(t)
	full := testregistry.NewEngine(t, []testregistry.EngineImage{{Name: "app:1.0", Index: idx}})
	r := runIn(t, t.TempDir(), nil, []string{"DOCKER_HOST=" + full.Host}, "audit", "docker-daemon:app:1.0", "--require", "linux/amd64,linux/arm64")
	if r.code != 0 || !strings.Contains(r.stdout, "0 errors") {
		t.Fatalf("every platform held: exit %d, want 0 and no errors\n%s%s", r.code, r.stdout, r.stderr)
	}
	if full.Count("/images/get") != 1 {
		t.Errorf("the image was saved %d times, want once: %v", full.Count("/images/get"), full.Requests())
	}

	h := storytest.Digest(t, arm)
	partial := testregistry.NewEngine(t, []testregistry.EngineImage{{Name: "app:1.0", Index: idx, NotPulled: []v1.Hash{h}}})
	r = runIn(t, t.TempDir(), nil, []string{"DOCKER_HOST=" + partial.Host}, "audit", "--format", "json", "docker-daemon:app:1.0", "--require", "linux/amd64,linux/arm64")
	if r.code != 1 {
		t.Fatalf("arm64 not pulled: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	var found bool
	for _, f := range decode(t, r.stdout).Findings {
		if f.Code == "missing-child" && f.Digest == h.String() {
			found = true
			if !strings.Contains(f.Message, "the Docker engine does not hold") || !strings.Contains(f.Hint, "docker pull --platform") {
				t.Errorf("the finding should say the engine does not hold it and how to pull it: %q / %q", f.Message, f.Hint)
			}
		}
	}
	if !found {
		t.Errorf("want missing-child for arm64's manifest %s:\n%s", h, r.stdout)
	}
}

// TestDaemonUnreachable: no engine at DOCKER_HOST, or one too old, is exit
// 3 with an error that names the socket or the API version and says what
// to do; a bad DOCKER_HOST is exit 2, and docker-daemon: is never written.
func TestDaemonUnreachable(t *testing.T) {
	dir, err := os.MkdirTemp("", "eng")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "docker.sock")
	r := runIn(t, t.TempDir(), nil, []string{"DOCKER_HOST=unix://" + sock}, "audit", "docker-daemon:app:1.0")
	if r.code != 3 || !strings.Contains(r.stdout+r.stderr, sock) || !strings.Contains(r.stdout+r.stderr, "start Docker") {
		t.Errorf("no engine: exit %d, want 3 naming %s and saying to start Docker\n%s%s", r.code, sock, r.stdout, r.stderr)
	}

	idx, _ := twoArchEngineIndex(t)
	old := testregistry.NewEngine(t, []testregistry.EngineImage{{Name: "app:1.0", Index: idx}}, testregistry.OldEngine())
	r = runIn(t, t.TempDir(), nil, []string{"DOCKER_HOST=" + old.Host}, "audit", "docker-daemon:app:1.0")
	if r.code != 3 || !strings.Contains(r.stdout+r.stderr, "API 1.41") || !strings.Contains(r.stdout+r.stderr, "1.48") {
		t.Errorf("old engine: exit %d, want 3 naming API 1.41 and 1.48\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = runIn(t, t.TempDir(), nil, []string{"DOCKER_HOST=ssh://build@127.0.0.1"}, "audit", "docker-daemon:app:1.0")
	if r.code != 2 || !strings.Contains(r.stderr, "DOCKER_HOST") {
		t.Errorf("ssh:// DOCKER_HOST: exit %d, want 2 naming DOCKER_HOST\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runIn(t, t.TempDir(), nil, []string{"DOCKER_HOST=" + old.Host}, "repair", "--to", "docker-daemon:app:1.1", "docker-daemon:app:1.0")
	if r.code != 2 || !strings.Contains(r.stderr, "does not write to the Docker engine") {
		t.Errorf("repair --to docker-daemon: exit %d, want 2 saying the engine is not written\n%s%s", r.code, r.stdout, r.stderr)
	}
}
