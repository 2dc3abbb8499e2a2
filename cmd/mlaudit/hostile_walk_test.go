package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// Bounds for the hostile-walk tests: generous, so a slow CI runner passes,
// and far below what an unbounded walk takes (gigabytes, minutes).
const (
	hostileMaxRSSMB = 200
	hostileMaxWall  = 2 * time.Minute
)

// measured is one run of the binary with what it cost.
type measured struct {
	result
	peakMB float64 // peak resident set (VmHWM / ru_maxrss)
	wall   time.Duration
}

// mlauditMeasured runs the binary like mlaudit does, watching its peak
// memory: it is killed (and the test fails) as soon as it passes maxMB or
// runs longer than hostileMaxWall, so a regression costs seconds, not the
// machine.
func mlauditMeasured(t *testing.T, maxMB float64, args ...string) measured {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hostileMaxWall)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting mlaudit: %v", err)
	}
	// The peak is the process's own high-water mark (VmHWM), sampled until
	// it exits. Not the rusage's Maxrss: for a child started by fork and
	// exec it can count the parent's pages, and the test binary under
	// -race is itself about 200 MB.
	done := make(chan struct{})
	over := make(chan float64, 1)
	var peak atomic.Uint64 // math.Float64bits of the highest VmHWM seen
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				mb := vmHWM(cmd.Process.Pid)
				if mb > math.Float64frombits(peak.Load()) {
					peak.Store(math.Float64bits(mb))
				}
				if mb > maxMB {
					over <- mb
					_ = cmd.Process.Kill()
					return
				}
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	m := measured{result: result{stdout: stdout.String(), stderr: stderr.String()}, wall: time.Since(start)}
	m.peakMB = math.Float64frombits(peak.Load())
	select {
	case mb := <-over:
		t.Fatalf("mlaudit %s: killed at %.0f MB resident after %s, over the %.0f MB bound", strings.Join(args, " "), mb, m.wall.Round(time.Millisecond), maxMB)
	default:
	}
	if ctx.Err() != nil {
		t.Fatalf("mlaudit %s: still running after %s", strings.Join(args, " "), hostileMaxWall)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		m.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running mlaudit: %v", err)
	}
	if strings.Contains(m.stderr, "panic:") || strings.Contains(m.stderr, "goroutine ") {
		t.Fatalf("mlaudit panicked:\n%s", m.stderr)
	}
	return m
}

// vmHWM reads a process's peak resident set in MB from /proc, or 0.
func vmHWM(pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// fanOutSize is the fan-out the test serves: 10 entries per index, 6
// indexes deep (a million paths), or MLAUDIT_HOSTILE_FANOUT=WxD.
func fanOutSize(t *testing.T) (width, depth int) {
	width, depth = 10, 6
	if v := os.Getenv("MLAUDIT_HOSTILE_FANOUT"); v != "" {
		if _, err := fmt.Sscanf(v, "%dx%d", &width, &depth); err != nil {
			t.Fatalf("MLAUDIT_HOSTILE_FANOUT=%q: want WxD", v)
		}
	}
	return width, depth
}

// honestTarget pushes a two-arch index to an in-process registry and
// returns its reference, and when the registry last served a manifest
// (Unix nanoseconds).
func honestTarget(t *testing.T) (string, *atomic.Int64) {
	served := &atomic.Int64{}
	e := storytest.NewEnv(t, testregistry.InProcess(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") {
				served.Store(time.Now().UnixNano())
			}
			next.ServeHTTP(w, r)
		})
	}))
	amd := e.Image("linux/amd64", stories.OCI, t.Name())
	arm := e.Image("linux/arm64", stories.OCI, t.Name())
	r := e.Push("honest/app:1", e.Index(stories.OCI,
		stories.Entry{Image: amd, Platform: "linux/amd64"},
		stories.Entry{Image: arm, Platform: "linux/arm64"}))
	served.Store(0)
	return r.String(), served
}

// TestHostileFanOut audits an index that lists the same sub-index ten
// times, six levels deep, next to an honest image: each distinct manifest
// is fetched once, the repeats are findings, the honest image is
// reported, and the process stays within seconds and tens of MB.
func TestHostileFanOut(t *testing.T) {
	width, depth := fanOutSize(t)
	fan := &testregistry.FanOut{Width: width, Depth: depth}
	hostile := testregistry.Serve(t, fan) + "/fan/out:latest"
	honest, _ := honestTarget(t)
	maxMB := float64(hostileMaxRSSMB)
	if v, err := strconv.ParseFloat(os.Getenv("MLAUDIT_HOSTILE_MAX_MB"), 64); err == nil {
		maxMB = v
	}

	m := mlauditMeasured(t, maxMB, "audit", "--format", "json", "--no-cache", "--fail-on", "never", hostile, honest)
	t.Logf("fan-out %dx%d (%d paths): peak RSS %.1f MB, wall %s, %d manifest and %d blob GETs",
		width, depth, pow(width, depth), m.peakMB, m.wall.Round(time.Millisecond), fan.Manifests.Load(), fan.Blobs.Load())
	if m.code != 0 {
		t.Fatalf("exit %d, want 0\n%s", m.code, m.stderr)
	}
	if m.peakMB > maxMB {
		t.Errorf("peak RSS %.1f MB, over the %.0f MB bound", m.peakMB, maxMB)
	}
	if got, want := fan.Manifests.Load(), int64(depth+1); got > want {
		t.Errorf("%d manifest GETs, want at most %d: each distinct manifest once", got, want)
	}
	if got := fan.Blobs.Load(); got > 1 {
		t.Errorf("%d config GETs, want 1", got)
	}
	rep := decode(t, m.stdout)
	if len(rep.Images) != 2 {
		t.Fatalf("%d images reported, want the fan-out and the honest one: %+v", len(rep.Images), rep.Errors)
	}
	if img := rep.Images[1]; img.Ref.String() != honest || len(img.Platforms) != 2 {
		t.Errorf("the honest target is reported as %s with %d platforms, want %s with 2", img.Ref, len(img.Platforms), honest)
	}
	if rows := len(rep.Images[0].Platforms); rows > width {
		t.Errorf("the fan-out has %d platform rows, want at most %d: repeats are not rows", rows, width)
	}
	repeats := 0
	for _, f := range rep.Findings {
		if f.Code == "duplicate-platform" && strings.Contains(f.Message, "again") {
			repeats++
		}
	}
	if repeats != depth-1 {
		t.Errorf("%d findings about repeated indexes, want %d (one per level)\n%+v", repeats, depth-1, rep.Findings)
	}
}

// TestHostileEndlessTagList audits a repository whose tag list never ends
// next to an honest image: the honest one is audited and reported, the
// endless one is an error. It holds with the list limit (--list-limit,
// when this mlaudit has it: a target error) and without it (the 10,000
// page limit, then errors for the tags it listed); --tags keeps the
// second case to a few tags.
func TestHostileEndlessTagList(t *testing.T) {
	endless := &testregistry.EndlessTags{PerPage: 5}
	hostile := testregistry.Serve(t, endless) + "/endless/app"
	honest, honestServed := honestTarget(t)
	args := []string{"audit", "--format", "json", "--no-cache", "--fail-on", "never", "--tags", "^p0-"}
	if help := mlaudit(t, "", "audit", "--help"); strings.Contains(help.stdout, "--list-limit") {
		args = append(args, "--list-limit", "1000")
	}
	m := mlauditMeasured(t, hostileMaxRSSMB, append(args, hostile, honest)...)
	pages := endless.Pages.Load()
	during := honestServed.Load() != 0 && honestServed.Load() < endless.Last.Load()
	t.Logf("endless tag list: %d pages read, peak RSS %.1f MB, wall %s; honest target audited while it was listed: %v", pages, m.peakMB, m.wall.Round(time.Millisecond), during)
	if pages >= 1000 && !during {
		t.Errorf("the honest target was audited only after %d pages of the endless list: listing must not hold up other targets", pages)
	}
	if m.code != 3 {
		t.Errorf("exit %d, want 3 (a target could not be audited)\n%s", m.code, m.stderr)
	}
	rep := decode(t, m.stdout)
	var honestReported bool
	for _, img := range rep.Images {
		if img.Ref.String() == honest && len(img.Platforms) == 2 {
			honestReported = true
		}
	}
	if !honestReported {
		t.Errorf("the honest target %s was not reported: %+v", honest, rep.Images)
	}
	var endlessErrors int
	for _, e := range rep.Errors {
		if strings.Contains(e.Ref.String(), "/endless/app") {
			endlessErrors++
		}
	}
	if endlessErrors == 0 {
		t.Errorf("the endless repository gave no error: %+v", rep.Errors)
	}
}

func pow(b, e int) int {
	n := 1
	for range e {
		n *= b
	}
	return n
}
