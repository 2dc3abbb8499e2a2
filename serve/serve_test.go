package serve_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/policy"
	"github.com/mlaudit/mlaudit/serve"
)

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		r, target string
		want      bool
	}{
		{"h/app:1", "h/app:1", true},
		{"h/app:1", "h/app", true},
		{"h/app@sha256:ab", "h/app", true},
		{"h/application:1", "h/app", false},
		{"h/app:1", "h/", true},
		{"g/app:1", "h/", false},
	} {
		if got := serve.Within(c.r, c.target); got != c.want {
			t.Errorf("Within(%q, %q) = %v, want %v", c.r, c.target, got, c.want)
		}
	}
}

// TestServeRoundsAndReload runs rounds with a fake audit: ready after the
// first, a bad policy is refused and the old one kept, a good one reloads.
func TestServeRoundsAndReload(t *testing.T) {
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	write := func(s string) {
		if err := os.WriteFile(pol, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("version: 1\ntargets: [r.example/app:1]\n")
	var rounds atomic.Int32
	var log bytes.Buffer
	srv, err := serve.New(serve.Config{PolicyFile: pol, Interval: time.Hour, PollEvery: 20 * time.Millisecond, Log: &syncWriter{w: &log},
		Audit: func(ctx context.Context, p *policy.Policy) (*audit.Result, map[string]serve.Cost, error) {
			rounds.Add(1)
			return &audit.Result{Stats: audit.Stats{StartedAt: time.Now()}}, map[string]serve.Cost{"r.example": {Requests: 3, Pulls: 1}}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("not %s in 10s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait("ready", srv.Ready)
	metrics := func() string {
		mfs, err := srv.Gatherer().Gather()
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			_ = enc.Encode(mf)
		}
		return b.String()
	}
	if m := metrics(); !strings.Contains(m, `mlaudit_serve_registry_pulls_total{registry="r.example"} 1`) || !strings.Contains(m, `mlaudit_serve_target_success{target="r.example/app:1"} 1`) {
		t.Errorf("metrics after a round:\n%s", m)
	}
	write("version: 1\ntargets: [r.example/app:1]\nrequire: [linux/notanarch/x/y]\n")
	srv.Reload()
	wait("refusing the bad policy", func() bool { return strings.Contains(metrics(), "mlaudit_serve_policy_last_reload_success 0") })
	write("version: 1\ntargets: [r.example/app:1, r.example/other:1]\n")
	srv.Reload()
	wait("a round under the new policy", func() bool { return strings.Contains(metrics(), `target="r.example/other:1"`) })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	var html bytes.Buffer
	if err := srv.WriteHTML(&html); err != nil || !strings.Contains(html.String(), "next round") {
		t.Errorf("WriteHTML: %v\n%.200s", err, html.String())
	}
}

type syncWriter struct {
	mu atomic.Bool
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	for !s.mu.CompareAndSwap(false, true) {
	}
	defer s.mu.Store(false)
	return s.w.Write(p)
}
