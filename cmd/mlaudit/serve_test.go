package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// lockedBuffer collects a child's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// eventually polls cond every 100ms until it holds or limit passes.
func eventually(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("after %s, still not %s; last seen:\n%s", limit, what, last)
}

func get(u string) (int, string) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serveProc is a running mlaudit serve.
type serveProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *lockedBuffer
	exited chan struct{} // closed when the process has exited, err then set
	err    error
}

func startServe(t *testing.T, policyFile string, extra ...string) *serveProc {
	t.Helper()
	p := &serveProc{addr: freeAddr(t), stderr: &lockedBuffer{}, exited: make(chan struct{})}
	args := append([]string{"serve", "--policy", policyFile, "--listen", p.addr, "--no-cache"}, extra...)
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir())
	p.cmd.Stderr, p.cmd.Stdout = p.stderr, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
		}
	})
	return p
}

func (p *serveProc) url(path string) string { return "http://" + p.addr + path }

func (p *serveProc) waitReady(t *testing.T) {
	t.Helper()
	eventually(t, 30*time.Second, "ready", func() (bool, string) {
		code, body := get(p.url("/readyz"))
		return code == 200, fmt.Sprintf("%d %s\n%s", code, body, p.stderr.String())
	})
}

func writeServePolicy(t *testing.T, path string, targets ...string) {
	t.Helper()
	body := "version: 1\nrequire: [linux/amd64, linux/arm64]\ntargets:\n"
	for _, tg := range targets {
		body += "  - " + tg + "\n"
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// twoArch pushes a whole two-platform index to repoTag.
func twoArch(env *storytest.Env, repoTag string) {
	env.Push(repoTag, env.Index(stories.OCI,
		stories.Entry{Image: env.Image("linux/amd64", stories.OCI, repoTag), Platform: "linux/amd64"},
		stories.Entry{Image: env.Image("linux/arm64", stories.OCI, repoTag), Platform: "linux/arm64"}))
}

// promQuery asks Prometheus's HTTP API for expr's instant vector.
func promQuery(addr, expr string) ([]struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
}, string) {
	_, body := get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(expr))
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  []any             `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	_ = json.Unmarshal([]byte(body), &r)
	return r.Data.Result, body
}

// TestServeWithPrometheus runs mlaudit serve against a registry and a real
// Prometheus scraping it every second, reads the findings and per-target
// last-success series back through Prometheus's API, then breaks targets
// and watches the alert expressions change.
func TestServeWithPrometheus(t *testing.T) {
	prom := tool(t, "prometheus")
	host := testregistry.InProcess(t, nil)
	env := storytest.NewEnv(t, host)
	twoArch(env, "app:1")
	twoArch(env, "other:1")
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	writeServePolicy(t, pol, host+"/app:1", host+"/other:1")
	s := startServe(t, pol, "--interval", "1s")
	s.waitReady(t)

	promAddr := freeAddr(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: mlaudit\n    static_configs:\n      - targets: ['%s']\n", s.addr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var promOut lockedBuffer
	pc := exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr)
	pc.Stdout, pc.Stderr = &promOut, &promOut
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	promDone := make(chan struct{})
	go func() { _ = pc.Wait(); close(promDone) }()
	t.Cleanup(func() {
		_ = pc.Process.Signal(syscall.SIGTERM)
		select {
		case <-promDone:
		case <-time.After(10 * time.Second):
			_ = pc.Process.Kill()
		}
	})

	app, other := host+"/app", host+"/other"
	eventually(t, 60*time.Second, "scraped: findings and last success of both repositories", func() (bool, string) {
		f, b1 := promQuery(promAddr, `mlaudit_findings{code="missing-platform"}`)
		ls, b2 := promQuery(promAddr, `mlaudit_last_success_timestamp_seconds > 0`)
		return len(f) == 2 && len(ls) == 2, b1 + "\n" + b2 + "\n" + promOut.String()
	})
	if r, body := promQuery(promAddr, `mlaudit_platform_present{required="true"} == 0`); len(r) != 0 {
		t.Fatalf("a whole registry alerts on a missing platform: %s", body)
	}

	// Break both: app loses arm64; other's tag disappears, so it cannot be
	// read at all.
	env.Push("app:1", env.Index(stories.OCI, stories.Entry{Image: env.Image("linux/amd64", stories.OCI, "app:1"), Platform: "linux/amd64"}))
	if err := env.Client.Delete(context.Background(), env.Ref("other:1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "alerting on app's missing arm64 and other's failed read", func() (bool, string) {
		missing, b1 := promQuery(promAddr, `mlaudit_platform_present{required="true"} == 0`)
		failed, b2 := promQuery(promAddr, `mlaudit_repository_audited == 0`)
		ok := len(missing) == 1 && missing[0].Metric["repository"] == app && missing[0].Metric["platform"] == "linux/arm64" &&
			len(failed) == 1 && failed[0].Metric["repository"] == other
		return ok, b1 + "\n" + b2
	})
	// other's failure hides neither its own last success (kept from the
	// rounds that read it) nor app's.
	ls, body := promQuery(promAddr, `mlaudit_last_success_timestamp_seconds > 0`)
	if len(ls) != 2 {
		t.Errorf("the last successes should survive the failure: %s", body)
	}
	if r, body := promQuery(promAddr, `mlaudit_serve_target_success{target="`+other+`:1"} == 0`); len(r) != 1 {
		t.Errorf("the failed target's success is not 0: %s", body)
	}
	code, page := get(s.url("/"))
	if code != 200 || !strings.Contains(page, "next round") {
		t.Errorf("/ = %d, want the HTML report with the next round:\n%.300s", code, page)
	}
	code, js := get(s.url("/report.json"))
	if code != 200 || !strings.Contains(js, `"schemaVersion"`) {
		t.Errorf("/report.json = %d:\n%.300s", code, js)
	}
}

// stallingRegistry is a registry whose every request blocks until the
// client gives up, announcing each on hit.
func stallingRegistry(t *testing.T, hit chan<- struct{}) string {
	return testregistry.InProcess(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case hit <- struct{}{}:
			default:
			}
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
		})
	})
}

// TestServeSIGTERMMidRound stops serve while a round waits on a stalled
// registry: it exits 0, quickly.
func TestServeSIGTERMMidRound(t *testing.T) {
	hit := make(chan struct{}, 1)
	host := stallingRegistry(t, hit)
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	writeServePolicy(t, pol, host+"/app:1")
	s := startServe(t, pol, "--timeout", "1m", "--retries", "0")
	select {
	case <-hit:
	case <-time.After(30 * time.Second):
		t.Fatalf("no round reached the registry:\n%s", s.stderr.String())
	}
	if code, _ := get(s.url("/readyz")); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz mid first round = %d, want 503", code)
	}
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
		if s.err != nil {
			t.Fatalf("serve exited with %v after SIGTERM:\n%s", s.err, s.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("serve did not exit within 10s of SIGTERM:\n%s", s.stderr.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("serve took %s to stop", d)
	}
}

// TestServeSIGHUPReload reloads the policy on SIGHUP: a bad policy keeps
// the old one and says why; a good one is used from the next round.
func TestServeSIGHUPReload(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	env := storytest.NewEnv(t, host)
	twoArch(env, "app:1")
	twoArch(env, "other:1")
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	writeServePolicy(t, pol, host+"/app:1")
	s := startServe(t, pol, "--interval", "1h")
	s.waitReady(t)
	metric := func(line string) func() (bool, string) {
		return func() (bool, string) {
			_, body := get(s.url("/metrics"))
			return strings.Contains(body, line), body + "\n" + s.stderr.String()
		}
	}

	if err := os.WriteFile(pol, []byte("version: 1\ntargets: [\"\"]\nrequire: [linux/amd64]\nrequre: oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "refusing the bad policy", metric("mlaudit_serve_policy_last_reload_success 0"))
	if !strings.Contains(s.stderr.String(), "keeping the previous policy") {
		t.Errorf("the log does not say the bad policy was refused:\n%s", s.stderr.String())
	}
	if code, _ := get(s.url("/readyz")); code != 200 {
		t.Errorf("a refused policy made serve unready")
	}

	writeServePolicy(t, pol, host+"/app:1", host+"/other:1")
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "auditing the new policy's targets", metric(`mlaudit_serve_target_success{target="`+host+`/other:1"} 1`))
	if _, body := get(s.url("/metrics")); !strings.Contains(body, "mlaudit_serve_policy_last_reload_success 1") {
		t.Errorf("the good policy did not reset the reload gauge:\n%s", body)
	}
}

// TestPrometheusRules runs promtool's unit tests of the example alert
// rules.
func TestPrometheusRules(t *testing.T) {
	promtool := tool(t, "promtool")
	cmd := exec.Command(promtool, "test", "rules", "mlaudit-rules.test.yml")
	cmd.Dir = "../../examples/prometheus"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// TestPrometheusMetricsLint runs promtool check metrics on what
// --format prometheus writes.
func TestPrometheusMetricsLint(t *testing.T) {
	promtool := tool(t, "promtool")
	host := testregistry.InProcess(t, nil)
	env := storytest.NewEnv(t, host)
	twoArch(env, "app:1")
	env.Push("app:2", env.Index(stories.OCI, stories.Entry{Image: env.Image("linux/amd64", stories.OCI, "x"), Platform: "linux/amd64"}))
	out := mlaudit(t, "", "audit", "--format", "prometheus", "--no-cache", "-q", "--require", "linux/amd64,linux/arm64", host+"/app", host+"/gone:1")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(out.stdout)
	if b, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(b)) != 0 {
		t.Errorf("promtool check metrics: %v\n%s\n%s", err, b, out.stdout)
	}
}
