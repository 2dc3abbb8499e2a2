package bench

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/cache"
	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/registry"
)

// Tags per repository, and the requests a correct audit needs per
// repository at the least: one tag list, one resolution per tag, one
// fetch per distinct child manifest (2; attestations need none) and per
// distinct config (2).
const (
	tagsPerRepo = 5
	minPerRepo  = 1 + tagsPerRepo + 2 + 2
	// minWarmPerRepo is a warm audit's least: the tag list, a HEAD per
	// tag, and a HEAD per distinct child (a child deleted since the last
	// run is still a finding); configs of confirmed manifests need none.
	minWarmPerRepo = 1 + tagsPerRepo + 2
)

// slowRegistry is an in-process registry reached two ways: directly, for
// seeding, and through a proxy that answers every request `latency` late
// and counts requests.
type slowRegistry struct {
	direct, slow string
	requests     atomic.Int64
	pulls        atomic.Int64
	// busy is the time requests spent in the proxy, summed: divided by
	// wall time and the jobs cap it is how full the client kept its slots.
	busy atomic.Int64
}

func newSlowRegistry(b *testing.B, latency time.Duration) *slowRegistry {
	h := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	s := &slowRegistry{}
	direct := httptest.NewServer(h)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		start := time.Now()
		defer func() { s.busy.Add(int64(time.Since(start))) }()
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") {
			s.pulls.Add(1)
		}
		time.Sleep(latency) // the round trip to a registry far away
		h.ServeHTTP(w, r)
	}))
	b.Cleanup(direct.Close)
	b.Cleanup(slow.Close)
	s.direct, s.slow = strings.TrimPrefix(direct.URL, "http://"), strings.TrimPrefix(slow.URL, "http://")
	return s
}

// seed pushes repos repositories of tagsPerRepo tags each: four distinct
// two-arch OCI indexes with attestations (release tags of one build, so
// their children are shared) and "latest" on the last of them.
func seed(b *testing.B, host string, repos int) {
	c, err := registry.New()
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, repos)
	sem := make(chan struct{}, 8)
	for i := 0; i < repos; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs <- seedRepo(c, host, i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

func seedRepo(c *registry.Client, host string, i int) error {
	salt := fmt.Sprintf("bench repo %d", i)
	amd, err := stories.Image("linux/amd64", stories.OCI, salt)
	if err != nil {
		return err
	}
	arm, err := stories.Image("linux/arm64", stories.OCI, salt)
	if err != nil {
		return err
	}
	entries := []stories.Entry{{Image: amd, Platform: "linux/amd64"}, {Image: arm, Platform: "linux/arm64"}}
	for _, img := range []v1.Image{amd, arm} {
		d, _ := img.Digest()
		att, err := stories.Attestation(d)
		if err != nil {
			return err
		}
		entries = append(entries, stories.Entry{Image: att, Attests: &d})
	}
	base, err := stories.Index(stories.OCI, entries...)
	if err != nil {
		return err
	}
	var last v1.ImageIndex
	for _, version := range []string{"1.0.0", "1.0.1", "1.1.0", "1.2.0"} {
		idx := mutate.Annotations(base, map[string]string{"org.opencontainers.image.version": version}).(v1.ImageIndex)
		if err := push(c, fmt.Sprintf("%s/bench/app%03d:%s", host, i, version), idx); err != nil {
			return err
		}
		last = idx
	}
	return push(c, fmt.Sprintf("%s/bench/app%03d:latest", host, i), last)
}

func push(c *registry.Client, s string, t remote.Taggable) error {
	r, err := ref.Parse(s)
	if err != nil {
		return err
	}
	return c.Push(context.Background(), r, t)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkAudit audits every tag of every repository through the slow
// proxy twice per iteration, cold (empty cache) then warm (the cache the
// cold run filled, tags unchanged), and reports both side by side from the
// same run, with their ratios:
//
//   - x-minimum-cold: requests / (repos x minPerRepo);
//   - x-minimum-warm: requests / (tag lists + tag HEADs + distinct child
//     HEADs), the least a warm audit can make and still see a deleted
//     child (goal: <= 1.05);
//   - warm/cold-time: warm wall time / cold wall time (goal: <= 0.75).
//
// MLAUDIT_BENCH_REPOS sets the number of repositories (default 200, so
// 1,000 tags); MLAUDIT_BENCH_LATENCY_MS the added latency (default 20).
func BenchmarkAudit(b *testing.B) {
	repos := envInt("MLAUDIT_BENCH_REPOS", 200)
	latency := time.Duration(envInt("MLAUDIT_BENCH_LATENCY_MS", 20)) * time.Millisecond
	reg := newSlowRegistry(b, latency)
	seed(b, reg.direct, repos)
	require, _ := platform.ParseList("linux/amd64,linux/arm64")
	targets := make([]audit.Target, repos)
	for i := range targets {
		targets[i] = audit.Target{Ref: storytest.Parse(b, fmt.Sprintf("%s/bench/app%03d", reg.slow, i)), Require: require}
	}
	// measured is one audit's cost as the registry saw it.
	type measured struct {
		requests, pulls int64
		wall, busy      time.Duration
	}
	run := func(b *testing.B, cacheDir string) measured {
		c := cachedClient(b, cacheDir)
		reg.requests.Store(0)
		reg.pulls.Store(0)
		reg.busy.Store(0)
		start := time.Now()
		r := audit.Run(context.Background(), c, targets, audit.Options{})
		m := measured{wall: time.Since(start), requests: reg.requests.Load(), pulls: reg.pulls.Load(), busy: time.Duration(reg.busy.Load())}
		if len(r.Errors) > 0 || len(r.Findings) > 0 || len(r.Images) != repos*tagsPerRepo {
			b.Fatalf("the audit went wrong: %d images, errors %v, findings %v", len(r.Images), r.Errors, r.Findings)
		}
		return m
	}
	b.Run(fmt.Sprintf("cold+warm/tags=%d/latency=%s", repos*tagsPerRepo, latency), func(b *testing.B) {
		var cold, warm measured
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			dir := b.TempDir()
			b.StartTimer()
			c := run(b, dir)
			w := run(b, dir)
			cold.requests += c.requests
			cold.pulls += c.pulls
			cold.wall += c.wall
			cold.busy += c.busy
			warm.requests += w.requests
			warm.pulls += w.pulls
			warm.wall += w.wall
			warm.busy += w.busy
		}
		n := float64(b.N)
		b.ReportMetric(float64(cold.requests)/n, "requests-cold/op")
		b.ReportMetric(float64(warm.requests)/n, "requests-warm/op")
		b.ReportMetric(float64(cold.requests)/n/float64(repos*minPerRepo), "x-minimum-cold")
		b.ReportMetric(float64(warm.requests)/n/float64(repos*minWarmPerRepo), "x-minimum-warm")
		b.ReportMetric(float64(warm.pulls)/n, "manifest-GETs-warm/op")
		b.ReportMetric(cold.wall.Seconds()/n, "s-cold/op")
		b.ReportMetric(warm.wall.Seconds()/n, "s-warm/op")
		b.ReportMetric(warm.wall.Seconds()/cold.wall.Seconds(), "warm/cold-time")
		jobs := float64(registry.DefaultJobs)
		b.ReportMetric(cold.busy.Seconds()/cold.wall.Seconds()/jobs, "slots-used-cold")
		b.ReportMetric(warm.busy.Seconds()/warm.wall.Seconds()/jobs, "slots-used-warm")
	})
}

// cachedClient is a registry client with its cache in dir: empty for a
// cold run, as the last run left it for a warm one.
func cachedClient(b *testing.B, dir string) *registry.Client {
	b.Helper()
	d, err := cache.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	c, err := registry.New(registry.WithCache(d))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}
