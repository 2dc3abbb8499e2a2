package registry_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/tree"
)

// The docker-daemon: scheme is tested against testregistry.NewEngine, a
// test server answering the Engine API endpoints mlaudit uses in the
// shapes the API documents: no Docker engine can run on the machines
// these tests run on. The tests set DOCKER_HOST, so they are not parallel.

// TestDaemonPlatformsHeld: an image whose every platform the engine holds
// is read from the engine's save, and inspected and saved once however
// often it is read.
func TestDaemonPlatformsHeld(t *testing.T) {
	idx, _, _ := twoArchIndex(t)
	eng := testregistry.NewEngine(t, []testregistry.EngineImage{{Name: "app:1.0", Index: idx}})
	t.Setenv("DOCKER_HOST", eng.Host)
	c := newClient(t)
	ctx := context.Background()
	r := mustRef(t, "docker-daemon:app:1.0")
	if err := c.CheckTarget(r); err != nil {
		t.Fatal(err)
	}
	n, err := c.Fetch(ctx, r)
	if err != nil || n.Err != nil {
		t.Fatalf("Fetch: %v %v", err, n.Err)
	}
	if want, _ := idx.Digest(); n.Descriptor.Digest != want || len(n.Children) != 2 {
		t.Fatalf("root %s with %d children, want the index %s with 2", n.Descriptor.Digest, len(n.Children), want)
	}
	for _, child := range n.Children {
		if child.Err != nil || child.Config == nil || child.Config.Architecture != child.Descriptor.Platform.Architecture {
			t.Errorf("child %s: %v", child.Descriptor.Platform, child.Err)
		}
	}
	if _, err := c.Fetch(ctx, r); err != nil {
		t.Fatal(err)
	}
	if d, err := c.Resolve(ctx, r); err != nil || d != n.Descriptor.Digest.String() {
		t.Errorf("Resolve = %s, %v, want %s", d, err, n.Descriptor.Digest)
	}
	if tags, err := c.Tags(ctx, r.Repo()); err != nil || len(tags) != 1 || tags[0] != "1.0" {
		t.Errorf("Tags = %v, %v, want the tag the engine gave the image", tags, err)
	}
	if got := eng.Count("/_ping"); got != 1 {
		t.Errorf("%d pings, want 1", got)
	}
	if got := eng.Count("/v1.51/images/app:1.0/json?manifests=1"); got != 1 {
		t.Errorf("%d inspects, want 1: %v", got, eng.Requests())
	}
	if got := eng.Count("/v1.51/images/get?names=app%3A1.0"); got != 1 {
		t.Errorf("%d saves, want 1: %v", got, eng.Requests())
	}
	if err := c.Push(ctx, r, idx); !errors.Is(err, registry.ErrInvalidTarget) || !strings.Contains(err.Error(), "does not write to the Docker engine") {
		t.Errorf("Push = %v, want ErrInvalidTarget saying the engine is not written", err)
	}
	if err := c.CheckDestination(r); !errors.Is(err, registry.ErrInvalidTarget) || !strings.Contains(err.Error(), "oci:DIR") {
		t.Errorf("CheckDestination = %v, want ErrInvalidTarget suggesting a layout", err)
	}
}

// TestDaemonPlatformNotPulled: a platform the engine lists as not
// available (docker pull --platform of the other one) is a missing child,
// whose error says it was not exported from the engine and how to pull it.
func TestDaemonPlatformNotPulled(t *testing.T) {
	idx, _, arm := twoArchIndex(t)
	eng := testregistry.NewEngine(t, []testregistry.EngineImage{{Name: "docker.io/library/app:1.0", Index: idx, NotPulled: []v1.Hash{storytest.Digest(t, arm)}}})
	t.Setenv("DOCKER_HOST", eng.Host)
	c := newClient(t)
	n, err := c.Fetch(context.Background(), mustRef(t, "docker-daemon:app:1.0"))
	if err != nil || n.Err != nil {
		t.Fatalf("Fetch: %v %v", err, n.Err)
	}
	var missing int
	for _, child := range n.Children {
		if child.Err == nil {
			continue
		}
		missing++
		msg := child.Err.Error()
		if !errors.Is(child.Err, tree.ErrMissing) || !strings.Contains(msg, "not exported") || !strings.Contains(msg, "docker pull --platform linux/arm64 app:1.0") {
			t.Errorf("the missing platform's error should say it was not exported and how to pull it: %v", child.Err)
		}
	}
	if missing != 1 {
		t.Errorf("%d children missing, want 1 (arm64)", missing)
	}
}

// TestDaemonNoEngine: nothing listens at DOCKER_HOST: the error names the
// socket and says what to do, and no image is missing (the engine was
// never asked).
func TestDaemonNoEngine(t *testing.T) {
	dir, err := os.MkdirTemp("", "eng")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "docker.sock")
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	c := newClient(t)
	_, err = c.Fetch(context.Background(), mustRef(t, "docker-daemon:app:1.0"))
	if !errors.Is(err, registry.ErrNoEngine) || errors.Is(err, tree.ErrMissing) || !strings.Contains(err.Error(), sock) || !strings.Contains(err.Error(), "start Docker") || !strings.Contains(err.Error(), "DOCKER_HOST") {
		t.Errorf("Fetch = %v, want ErrNoEngine naming %s and saying to start Docker or set DOCKER_HOST", err, sock)
	}
}

// TestDaemonOldEngine: an engine speaking API 1.41 has no manifests
// option: the error names its version and what is needed, and the engine
// is asked nothing but /_ping.
func TestDaemonOldEngine(t *testing.T) {
	idx, _, _ := twoArchIndex(t)
	eng := testregistry.NewEngine(t, []testregistry.EngineImage{{Name: "app:1.0", Index: idx}}, testregistry.OldEngine())
	t.Setenv("DOCKER_HOST", eng.Host)
	c := newClient(t)
	_, err := c.Fetch(context.Background(), mustRef(t, "docker-daemon:app:1.0"))
	if !errors.Is(err, registry.ErrEngineTooOld) || !strings.Contains(err.Error(), "API 1.41") || !strings.Contains(err.Error(), "1.48") || !strings.Contains(err.Error(), "docker-archive:") {
		t.Errorf("Fetch = %v, want ErrEngineTooOld naming API 1.41, 1.48 and docker-archive:", err)
	}
	if reqs := eng.Requests(); len(reqs) != 1 || !strings.HasPrefix(reqs[0], "GET /_ping") {
		t.Errorf("requests %v, want only the ping", reqs)
	}
}

// TestDaemonImageNotInEngine: an image the engine does not have is
// missing, with a hint to pull it.
func TestDaemonImageNotInEngine(t *testing.T) {
	idx, _, _ := twoArchIndex(t)
	eng := testregistry.NewEngine(t, []testregistry.EngineImage{{Name: "app:1.0", Index: idx}})
	t.Setenv("DOCKER_HOST", eng.Host)
	_, err := newClient(t).Fetch(context.Background(), mustRef(t, "docker-daemon:other"))
	if !errors.Is(err, tree.ErrMissing) || !strings.Contains(err.Error(), "docker pull other:latest") {
		t.Errorf("Fetch = %v, want ErrMissing with a hint to pull other:latest", err)
	}
}

// TestDaemonDockerHost: DOCKER_HOST forms that cannot reach an engine
// are refused before any request, naming the variable and what to write.
func TestDaemonDockerHost(t *testing.T) {
	for host, want := range map[string]string{
		"ssh://user@build.example":        "unix:// or tcp://",
		"tcp://127.0.0.1":                 "no port",
		"unix://":                         "names no socket",
		"npipe:////./pipe/docker_engine":  "unix:// or tcp://",
		"tcp://user:s3cret@127.0.0.1:1/x": "",
	} {
		t.Run(host, func(t *testing.T) {
			t.Setenv("DOCKER_HOST", host)
			err := newClient(t).CheckTarget(mustRef(t, "docker-daemon:app:1.0"))
			if want == "" {
				if err != nil {
					t.Fatalf("CheckTarget = %v, want a tcp:// host accepted", err)
				}
				return
			}
			if !errors.Is(err, registry.ErrInvalidTarget) || !strings.Contains(err.Error(), "DOCKER_HOST") || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("CheckTarget = %v, want ErrInvalidTarget naming DOCKER_HOST and saying %q", err, want)
			}
		})
	}
	// A tcp:// engine: credentials in DOCKER_HOST never reach an error.
	t.Setenv("DOCKER_HOST", "tcp://user:s3cret@127.0.0.1:1")
	_, err := newClient(t).Fetch(context.Background(), mustRef(t, "docker-daemon:app:1.0"))
	if !errors.Is(err, registry.ErrNoEngine) || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "tcp://127.0.0.1:1") {
		t.Errorf("Fetch = %v, want ErrNoEngine naming tcp://127.0.0.1:1 without the password", err)
	}
}

// twoImages is an engine holding app:1.0 and app:2.0, two images of one
// repository, and the second one's index digest.
func twoImages(t *testing.T, opts ...testregistry.EngineOption) (*testregistry.Engine, v1.Hash) {
	t.Helper()
	idx1, _, _ := twoArchIndex(t)
	idx2, err := stories.Index(stories.OCI, stories.Entry{Image: image(t, "linux/s390x"), Platform: "linux/s390x"})
	if err != nil {
		t.Fatal(err)
	}
	eng := testregistry.NewEngine(t, []testregistry.EngineImage{{Name: "app:1.0", Index: idx1}, {Name: "app:2.0", Index: idx2}}, opts...)
	d, err := idx2.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return eng, d
}

// TestDaemonImagesSideBySide: two images of one repository read at once
// (run with -race): each is read whole, and the repository lists both.
func TestDaemonImagesSideBySide(t *testing.T) {
	eng, _ := twoImages(t)
	t.Setenv("DOCKER_HOST", eng.Host)
	c := newClient(t)
	defer c.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, tag := range []string{"1.0", "2.0"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := c.Fetch(ctx, mustRef(t, "docker-daemon:app:"+tag))
			if err == nil {
				err = n.Err
			}
			errs[i] = err
			// What the other walk loaded is asked for alongside.
			_, _ = c.Tags(ctx, mustRef(t, "docker-daemon:app"))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Fetch %d: %v", i, err)
		}
	}
	if tags, err := c.Tags(ctx, mustRef(t, "docker-daemon:app")); err != nil || !slices.Equal(tags, []string{"1.0", "2.0"}) {
		t.Errorf("Tags = %v, %v; want 1.0 and 2.0", tags, err)
	}
}

// TestDaemonDigestAfterTag: a digest target reads the same whichever
// images of its repository were read before it: the digest of app:2.0
// after app:1.0 was read is asked of the engine, as it would be first.
func TestDaemonDigestAfterTag(t *testing.T) {
	eng, d2 := twoImages(t)
	t.Setenv("DOCKER_HOST", eng.Host)
	ctx := context.Background()
	for _, first := range []string{"", "docker-daemon:app:1.0"} {
		c := newClient(t)
		if first != "" {
			if _, err := c.Fetch(ctx, mustRef(t, first)); err != nil {
				t.Fatal(err)
			}
		}
		n, err := c.Fetch(ctx, mustRef(t, "docker-daemon:app@"+d2.String()))
		if err != nil || n.Err != nil || n.Descriptor.Digest != d2 || len(n.Children) != 1 || n.Children[0].Err != nil {
			t.Errorf("after %q: Fetch app@%s = %v, %+v", first, d2, err, n)
		}
		// A digest no image of the engine holds is still missing.
		missing := "sha256:" + strings.Repeat("1", 64)
		if _, err := c.Fetch(ctx, mustRef(t, "docker-daemon:app@"+missing)); !errors.Is(err, tree.ErrMissing) {
			t.Errorf("after %q: Fetch of a digest the engine lacks = %v, want ErrMissing", first, err)
		}
		c.Close()
	}
}

// TestDaemonStalledEngine: an engine that sends an answer's headers and
// then nothing (inspect or save) fails the read within the Client's
// timeout, with a TimeoutError naming the engine.
func TestDaemonStalledEngine(t *testing.T) {
	for _, what := range []string{"inspect", "save"} {
		t.Run(what, func(t *testing.T) {
			stall := make(chan struct{})
			eng, _ := twoImages(t, testregistry.StallBody(what, stall))
			t.Cleanup(func() { close(stall) })
			t.Setenv("DOCKER_HOST", eng.Host)
			const limit = 300 * time.Millisecond
			c := newClient(t, registry.WithTimeout(limit))
			defer c.Close()
			start := time.Now()
			_, err := c.Fetch(context.Background(), mustRef(t, "docker-daemon:app:1.0"))
			took := time.Since(start)
			var te *registry.TimeoutError
			if !errors.As(err, &te) || !strings.Contains(err.Error(), eng.Host) || !strings.Contains(err.Error(), "Docker engine") {
				t.Errorf("Fetch = %v, want a TimeoutError naming the Docker engine at %s", err, eng.Host)
			}
			if took > 10*limit {
				t.Errorf("the stalled engine held the read %s, with a timeout of %s", took, limit)
			}
		})
	}
}

// TestDaemonCanceledReadNotKept: a read cut short by its context is not
// the engine's answer: the next read, with a live context, asks again.
func TestDaemonCanceledReadNotKept(t *testing.T) {
	eng, _ := twoImages(t)
	t.Setenv("DOCKER_HOST", eng.Host)
	c := newClient(t)
	defer c.Close()
	r := mustRef(t, "docker-daemon:app:1.0")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Fetch(canceled, r); !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch with a canceled context = %v, want context.Canceled", err)
	}
	if n, err := c.Fetch(context.Background(), r); err != nil || n.Err != nil {
		t.Errorf("Fetch after a canceled one = %v, %v; want the image", err, n)
	}
}
