package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mlauditBinary is the mlaudit command, built once for a benchmark: the
// in-process heap sampling (heapPeak) shares its process with the test
// registry, so the memory a user sees is measured on the real binary.
type mlauditBinary struct {
	path string
}

// buildMlaudit builds cmd/mlaudit into a temporary directory.
func buildMlaudit(b *testing.B) mlauditBinary {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "mlaudit")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/mlaudit").CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/mlaudit: %v\n%s", err, out)
	}
	return mlauditBinary{path: bin}
}

// binaryRun is what one run of the binary cost.
type binaryRun struct {
	rssMB float64 // peak resident memory, the kernel's maxrss
	wall  time.Duration
}

// audit runs `mlaudit audit` on the targets (one per line in a file),
// with the cache in cacheDir, requiring what require says, and checks
// that it reported images images and no error or finding.
func (m mlauditBinary) audit(b *testing.B, targets []string, cacheDir, require string, images int) binaryRun {
	b.Helper()
	dir := b.TempDir()
	list := filepath.Join(dir, "targets.txt")
	if err := os.WriteFile(list, []byte(strings.Join(targets, "\n")+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	report := filepath.Join(dir, "report.json")
	args := []string{"audit", "-q", "--format", "json", "--output", report, "--cache-dir", cacheDir, "--require", require, "--targets-file", list}
	rss, wall, err := measureChild(dir, m.path, args...)
	if err != nil {
		b.Fatalf("mlaudit %s: %v", strings.Join(args, " "), err)
	}
	if rss == 0 {
		b.Skip("the peak resident memory of a process is not known on this system")
	}
	raw, err := os.ReadFile(report)
	if err != nil {
		b.Fatal(err)
	}
	var r struct {
		Images, Findings, Errors []json.RawMessage
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		b.Fatal(err)
	}
	if len(r.Images) != images || len(r.Findings) > 0 || len(r.Errors) > 0 {
		b.Fatalf("the binary's audit went wrong: %d images (want %d), %d findings, %d errors", len(r.Images), images, len(r.Findings), len(r.Errors))
	}
	return binaryRun{rssMB: rss, wall: wall}
}

// The peak resident memory of a process started from this one would not
// be its own: Linux gives a process, when it execs, the peak of the
// memory it had before (os/exec starts children sharing the parent's
// memory until exec), and this process holds an in-process registry and
// the in-process audits' heap. So the binary is started by a fresh,
// small copy of the test binary (TestRSSHelper), which reports the
// child's own peak.
const rssHelperEnv = "MLAUDIT_BENCH_RSS_HELPER"

// measureChild runs bin with args through TestRSSHelper, with
// DOCKER_CONFIG in dir (no credentials of the user's), and returns its
// peak resident memory in MB (0 where it is not known) and wall time.
func measureChild(dir, bin string, args ...string) (float64, time.Duration, error) {
	spec, err := json.Marshal(append([]string{bin}, args...))
	if err != nil {
		return 0, 0, err
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRSSHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), rssHelperEnv+"="+string(spec), "DOCKER_CONFIG="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("%v\n%s%s", err, out, stderr.String())
	}
	var got struct {
		RSSMB float64
		Wall  time.Duration
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "rss-helper "); ok {
			err := json.Unmarshal([]byte(rest), &got)
			return got.RSSMB, got.Wall, err
		}
	}
	return 0, 0, fmt.Errorf("the helper said nothing:\n%s%s", out, stderr.String())
}

// TestRSSHelper is not a test: started by measureChild, it runs the
// command it is given and prints its peak resident memory and wall time.
func TestRSSHelper(t *testing.T) {
	spec := os.Getenv(rssHelperEnv)
	if spec == "" {
		t.Skip("started by the benchmarks only")
	}
	var argv []string
	if err := json.Unmarshal([]byte(spec), &argv); err != nil || len(argv) == 0 {
		t.Fatalf("%s=%q: %v", rssHelperEnv, spec, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	rss, _ := peakRSS(cmd.ProcessState)
	line, _ := json.Marshal(struct {
		RSSMB float64
		Wall  time.Duration
	}{rss, wall})
	fmt.Printf("rss-helper %s\n", line)
}
