package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// TestAuditPushesToPushgateway: a CronJob's audit pushes its metrics to a
// real Pushgateway (Debian's prometheus-pushgateway on loopback), and the
// series read back from it carry the job label and each repository's
// findings and last success.
func TestAuditPushesToPushgateway(t *testing.T) {
	gateway := startPushgateway(t)

	host := testregistry.InProcess(t, nil)
	env := storytest.NewEnv(t, host)
	twoArch(env, "good/app:1")
	env.Push("bad/app:1", env.Image("linux/arm64", stories.OCI, "only arm64"))

	r := mlaudit(t, "", "audit", "--require", "linux/amd64,linux/arm64", "--push-gateway", "http://"+gateway, "--push-job", "nightly",
		host+"/good/app:1", host+"/bad/app:1")
	if r.code != exitFindings {
		t.Fatalf("exit %d, want 1 (bad/app lacks amd64)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	_, metrics := get("http://" + gateway + "/metrics")
	for _, want := range []string{
		`mlaudit_findings{code="not-an-index",instance="",job="nightly",repository="` + host + `/bad/app",severity="error"} 1`,
		`mlaudit_platform_present{instance="",job="nightly",platform="linux/amd64",repository="` + host + `/bad/app",required="true"} 0`,
		`mlaudit_last_success_timestamp_seconds{instance="",job="nightly",repository="` + host + `/good/app"}`,
		`push_time_seconds{instance="",job="nightly"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("the Pushgateway should hold %s; it has:\n%s", want, grepLines(metrics, "mlaudit_|push_time"))
		}
	}

	if r := mlaudit(t, "", "audit", "--push-gateway", "ftp://"+gateway, host+"/good/app:1"); r.code != exitUsage || !strings.Contains(r.stderr, "give the Pushgateway's URL") {
		t.Errorf("a bad --push-gateway should be exit 2 before the audit: exit %d %s", r.code, r.stderr)
	}
}

// startPushgateway starts Debian's prometheus-pushgateway on a loopback
// port and returns its host:port once it is ready.
func startPushgateway(t *testing.T) string {
	t.Helper()
	gateway := freeAddr(t)
	cmd := exec.Command(tool(t, "prometheus-pushgateway"), "--web.listen-address="+gateway)
	stderr := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	eventually(t, 30*time.Second, "the Pushgateway ready", func() (bool, string) {
		code, body := get("http://" + gateway + "/-/ready")
		return code == 200, body + stderr.String()
	})
	return gateway
}

// grepLines keeps the lines of s that contain any of the |-separated words.
func grepLines(s, words string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range strings.Split(words, "|") {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
