package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/platform"
)

// heapPeak samples the in-use heap (runtime.MemStats.HeapInuse) every
// 10 ms while an audit runs and keeps the highest value: the peak memory
// the audit held, not what it allocated over its life (TotalAlloc) nor
// what the process reserved from the system (Sys). The registry runs in
// the same process and holds every blob it serves in memory, so the
// heap in use just before the audit, after a collection, is taken as the
// baseline and reported apart.
type heapPeak struct {
	base, peak atomic.Uint64
	stop       chan struct{}
	done       sync.WaitGroup
}

func startHeapPeak() *heapPeak {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	p := &heapPeak{stop: make(chan struct{})}
	p.base.Store(m.HeapInuse)
	p.peak.Store(m.HeapInuse)
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&m)
				if m.HeapInuse > p.peak.Load() {
					p.peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	return p
}

// retainedMB is the heap live after a collection, above the baseline,
// while the audit's result r is still held: what the result itself costs.
func retainedMB(p *heapPeak, r any) float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	runtime.KeepAlive(r)
	return (float64(m.HeapInuse) - float64(p.base.Load())) / (1 << 20)
}

// end stops sampling and returns the peak above the baseline, and the
// peak, in MB.
func (p *heapPeak) end() (above, peak float64) {
	close(p.stop)
	p.done.Wait()
	const mb = 1 << 20
	return float64(p.peak.Load()-p.base.Load()) / mb, float64(p.peak.Load()) / mb
}

// scaleSizes are the tag counts BenchmarkScale audits:
// MLAUDIT_BENCH_SCALE (comma-separated, multiples of tagsPerRepo),
// default 2,000 and 10,000.
func scaleSizes(b *testing.B) []int {
	sizes := []int{2000, 10000}
	if v := os.Getenv("MLAUDIT_BENCH_SCALE"); v != "" {
		sizes = nil
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n <= 0 || n%tagsPerRepo != 0 {
				b.Fatalf("MLAUDIT_BENCH_SCALE: %q is not a positive multiple of %d", s, tagsPerRepo)
			}
			sizes = append(sizes, n)
		}
	}
	return sizes
}

// BenchmarkScale audits 2,000 and then 10,000 tags (the first 400, then
// all 2,000 repositories of one registry) through a proxy that answers
// every request MLAUDIT_BENCH_SCALE_LATENCY_MS late (default 2: lower
// than BenchmarkAudit's 20, so the large run stays short), cold then
// warm, and reports for each:
//
//   - s-cold/op, s-warm/op: wall time; warm/cold-time their ratio;
//   - ms-per-1k-tags-cold, ms-per-1k-tags-warm: wall time per 1,000
//     tags, flat when the cost is linear in tags;
//   - MB-heap-peak-cold, MB-heap-peak-warm: the peak in-use heap during
//     the audit above the heap in use before it (heapPeak; goal: under
//     150 MB at 10,000 tags);
//   - MB-heap-peak-abs-cold: the same peak with the in-process registry's
//     content (the baseline) included;
//   - MB-result-live-cold: the heap still in use, after a collection, while
//     the audit's result is held: the peak less garbage and the registry's
//     own serving;
//   - MB-rss-binary-cold, MB-rss-binary-warm (largest size only): the
//     peak resident memory (the kernel's maxrss) of the built mlaudit
//     binary auditing the same tags, cold then warm, with its own cache:
//     what a user sees, with no registry in the process (goal: under
//     150 MB at 10,000 tags); s-binary-cold, s-binary-warm its wall time.
//     MLAUDIT_BENCH_BINARY=0 leaves the binary out.
//
// The log line after the runs gives the largest run's time over the
// smallest's: x5 for 2,000 to 10,000 tags is linear.
func BenchmarkScale(b *testing.B) {
	sizes := scaleSizes(b)
	largest := 0
	for _, n := range sizes {
		largest = max(largest, n)
	}
	latency := time.Duration(envInt("MLAUDIT_BENCH_SCALE_LATENCY_MS", 2)) * time.Millisecond
	reg := newSlowRegistry(b, latency)
	seed(b, reg.direct, largest/tagsPerRepo)
	const requireFlag = "linux/amd64,linux/arm64"
	require, _ := platform.ParseList(requireFlag)

	type measured struct {
		wall                time.Duration
		heap, abs, retained float64
		requests            int64
	}
	run := func(b *testing.B, targets []audit.Target, cacheDir string) measured {
		c := cachedClient(b, cacheDir)
		reg.requests.Store(0)
		peak := startHeapPeak()
		start := time.Now()
		r := audit.Run(context.Background(), c, targets, audit.Options{})
		m := measured{wall: time.Since(start), requests: reg.requests.Load()}
		m.heap, m.abs = peak.end()
		m.retained = retainedMB(peak, r)
		if len(r.Errors) > 0 || len(r.Findings) > 0 || len(r.Images) != len(targets)*tagsPerRepo {
			b.Fatalf("the audit went wrong: %d images, errors %v, findings %v", len(r.Images), r.Errors, r.Findings)
		}
		return m
	}

	var bin *mlauditBinary
	if os.Getenv("MLAUDIT_BENCH_BINARY") != "0" {
		m := buildMlaudit(b)
		bin = &m
	}
	perTag := map[int][2]float64{} // tags: cold, warm seconds per tag
	for _, tags := range sizes {
		targets := make([]audit.Target, tags/tagsPerRepo)
		names := make([]string, len(targets))
		for i := range targets {
			names[i] = fmt.Sprintf("%s/bench/app%03d", reg.slow, i)
			targets[i] = audit.Target{Ref: storytest.Parse(b, names[i]), Require: require}
		}
		b.Run(fmt.Sprintf("tags=%d/latency=%s", tags, latency), func(b *testing.B) {
			var cold, warm measured
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir := b.TempDir()
				b.StartTimer()
				c := run(b, targets, dir)
				w := run(b, targets, dir)
				cold.wall += c.wall
				warm.wall += w.wall
				cold.requests += c.requests
				warm.requests += w.requests
				cold.heap = max(cold.heap, c.heap)
				cold.abs = max(cold.abs, c.abs)
				warm.heap = max(warm.heap, w.heap)
				cold.retained = max(cold.retained, c.retained)
			}
			n := float64(b.N)
			k := float64(tags) / 1000
			b.ReportMetric(cold.wall.Seconds()/n, "s-cold/op")
			b.ReportMetric(warm.wall.Seconds()/n, "s-warm/op")
			b.ReportMetric(warm.wall.Seconds()/cold.wall.Seconds(), "warm/cold-time")
			b.ReportMetric(float64(cold.wall.Milliseconds())/n/k, "ms-per-1k-tags-cold")
			b.ReportMetric(float64(warm.wall.Milliseconds())/n/k, "ms-per-1k-tags-warm")
			b.ReportMetric(float64(cold.requests)/n/k, "requests-per-1k-tags-cold")
			b.ReportMetric(cold.heap, "MB-heap-peak-cold")
			b.ReportMetric(warm.heap, "MB-heap-peak-warm")
			b.ReportMetric(cold.abs, "MB-heap-peak-abs-cold")
			b.ReportMetric(cold.retained, "MB-result-live-cold")
			perTag[tags] = [2]float64{cold.wall.Seconds() / n / float64(tags), warm.wall.Seconds() / n / float64(tags)}
			if bin == nil || tags != largest {
				return
			}
			b.StopTimer()
			dir := b.TempDir()
			c := bin.audit(b, names, dir, requireFlag, tags)
			w := bin.audit(b, names, dir, requireFlag, tags)
			b.ReportMetric(c.rssMB, "MB-rss-binary-cold")
			b.ReportMetric(w.rssMB, "MB-rss-binary-warm")
			b.ReportMetric(c.wall.Seconds(), "s-binary-cold")
			b.ReportMetric(w.wall.Seconds(), "s-binary-warm")
		})
	}
	small, large := sizes[0], sizes[len(sizes)-1]
	if s, l := perTag[small], perTag[large]; small != large && s[0] > 0 && l[0] > 0 {
		r := float64(large) / float64(small)
		fmt.Printf("BenchmarkScale: %d tags against %d: time x%.2f cold, x%.2f warm (x%.0f is linear)\n", large, small, l[0]*float64(large)/(s[0]*float64(small)), l[1]*float64(large)/(s[1]*float64(small)), r)
	}
}
