package audit_test

import (
	"context"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/internal/treetest"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// Bounds on auditing a 10x6 fan-out (a million paths, eight documents):
// generous, and far below what walking every path costs (gigabytes and
// minutes).
const (
	fanOutMaxAllocMB = 200
	fanOutMaxWall    = 30 * time.Second
)

// auditFanOut audits a width x depth fan-out served over HTTP on loopback,
// as mlaudit audit does, and returns the result with what it allocated
// and its peak live heap.
func auditFanOut(t testing.TB, width, depth int) (r *audit.Result, fan *testregistry.FanOut, allocMB, peakMB float64, wall time.Duration) {
	fan = &testregistry.FanOut{Width: width, Depth: depth}
	target := mustRef(t, testregistry.Serve(t, fan)+"/fan/out:latest")
	client := testregistry.Client(t)

	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	r = audit.Run(context.Background(), client, []audit.Target{{Ref: target}}, audit.Options{})
	wall = time.Since(start)
	runtime.ReadMemStats(&after)
	close(stop)
	<-sampled
	const mb = 1 << 20
	return r, fan, float64(after.TotalAlloc-before.TotalAlloc) / mb, float64(peak.Load()) / mb, wall
}

// TestFanOutIsBounded audits an index that lists the same sub-index ten
// times, six levels deep: each distinct manifest is fetched and checked
// once, the rows are the deepest index's entries, the repeats are
// findings, and it costs milliseconds and a few MB.
func TestFanOutIsBounded(t *testing.T) {
	r, fan, allocMB, peakMB, wall := auditFanOut(t, 10, 6)
	t.Logf("fan-out 10x6: %s, %.1f MB allocated, peak live heap %.1f MB, %d manifest and %d blob GETs", wall.Round(time.Millisecond), allocMB, peakMB, fan.Manifests.Load(), fan.Blobs.Load())
	noErrors(t, r)
	if allocMB > fanOutMaxAllocMB {
		t.Errorf("%.1f MB allocated, over the %d MB bound", allocMB, fanOutMaxAllocMB)
	}
	if wall > fanOutMaxWall {
		t.Errorf("took %s, over the %s bound", wall, fanOutMaxWall)
	}
	if got := fan.Manifests.Load(); got != 7 {
		t.Errorf("%d manifest GETs, want 7: the tag, 5 nested indexes and the image, once each", got)
	}
	if len(r.Images) != 1 || len(r.Images[0].Platforms) != 10 {
		t.Fatalf("images %+v: want one with the deepest index's 10 rows", r.Images)
	}
	var repeats, duplicates int
	for _, f := range r.Findings {
		switch {
		case f.Code != audit.DuplicatePlatform:
			t.Errorf("unexpected finding %s", f)
		case strings.Contains(f.Message, "again"):
			repeats++
		default:
			duplicates++
		}
	}
	if repeats != 5 || duplicates != 9 {
		t.Errorf("%d repeated-index and %d duplicate-entry findings, want 5 (one per level listing an index) and 9", repeats, duplicates)
	}
}

// BenchmarkFanOut reports what auditing a 10x6 fan-out costs: wall time,
// MB allocated and the peak live heap.
func BenchmarkFanOut(b *testing.B) {
	for b.Loop() {
		r, _, allocMB, peakMB, _ := auditFanOut(b, 10, 6)
		if len(r.Errors) > 0 {
			b.Fatal(r.Errors[0].Message)
		}
		b.ReportMetric(allocMB, "alloc-MB/op")
		b.ReportMetric(peakMB, "peak-heap-MB")
	}
}

// A nested index listed again, by its own parent or by another index, is
// one duplicate-platform finding per listing index with the count, and
// adds no rows.
func TestRepeatedIndexIsAFinding(t *testing.T) {
	amd := treetest.Image("amd", "linux/amd64")
	arm := treetest.Image("arm", "linux/arm64")
	pair := treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(arm, "linux/arm64"))
	other := treetest.Index(ociIndex, entry(pair, ""))
	root := treetest.Index(ociIndex, entry(pair, ""), entry(pair, ""), entry(pair, ""), entry(other, ""))
	img, findings, problems := audit.Check(mustRef(t, "registry.example.com/app:1"), root, nil)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if got := statuses(img); !slices.Equal(got, []string{audit.StatusOK, audit.StatusOK}) {
		t.Errorf("rows %v, want the pair's two", got)
	}
	var got []string
	for _, f := range findings {
		got = append(got, string(f.Code)+": "+f.Message)
	}
	short := func(n *tree.Node) string { return ref.ShortDigest(n.Descriptor.Digest.String()) }
	want := []string{
		"duplicate-platform: index " + short(root) + " lists index " + short(pair) + " again, 3 times in all: its platforms (linux/amd64, linux/arm64) are claimed once per entry, and clients pick one entry arbitrarily; mlaudit reads it once",
		"duplicate-platform: index " + short(other) + " lists index " + short(pair) + " again, once, after index " + short(root) + " listed it: its platforms (linux/amd64, linux/arm64) are claimed once per entry, and clients pick one entry arbitrarily; mlaudit reads it once",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n got  %q\n want %q", got, want)
	}
}
