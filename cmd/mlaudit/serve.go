package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/policy"
	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/serve"
)

// DefaultListen is serve's default address. Port 10187: Prometheus's
// list of default port allocations (its wiki) has 9100-9999 fully
// allocated and new exporters counting up from 10000; 10187 is past the
// entries known there and unclaimed as far as could be checked.
const DefaultListen = ":10187"

type serveFlags struct {
	policy   string
	listen   string
	interval time.Duration
	jobs     int
	registry registryFlags
}

func newServeCmd() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve --policy FILE",
		Short: "Audit a policy's targets on an interval; serve Prometheus metrics",
		Long: `Serve audits the targets of a policy file on start and on every --interval
(±10% jitter, one round at a time), and serves:

  /metrics      Prometheus metrics of the last round and of the rounds
  /             the last round's HTML report, with when the next one runs
  /report.json  the last round's JSON report
  /healthz      200 while the process runs
  /readyz       200 once the first round has finished

SIGHUP, or a change of the policy file, reloads the policy; a policy that
does not load is logged and counted (mlaudit_serve_policy_reloads_total)
and the previous one is kept. SIGTERM or SIGINT stops cleanly, cancelling a
round in progress.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.policy, "policy", "", "the policy file: targets, requirements, rules (required; reloaded on SIGHUP and when it changes)")
	fl.StringVar(&f.listen, "listen", DefaultListen, "address to serve /metrics, /, /report.json, /healthz and /readyz on")
	fl.DurationVar(&f.interval, "interval", time.Hour, "time between round starts (each wait varies by ±10%)")
	fl.IntVar(&f.jobs, "jobs", registry.DefaultJobs, "requests in flight at once to each registry")
	f.registry.add(fl)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}

func runServe(cmd *cobra.Command, f *serveFlags) error {
	if f.policy == "" {
		return usageError(errors.New("--policy is required: serve audits the targets its policy file lists"))
	}
	if f.interval < time.Second {
		return usageError(fmt.Errorf("--interval %s: must be at least 1s", f.interval))
	}
	load := func(path string) (*policy.Policy, error) {
		pol, err := policy.Load(path)
		if err == nil && len(pol.Targets) == 0 {
			err = fmt.Errorf("%s lists no targets: serve audits the policy's targets", path)
		}
		return pol, err
	}
	sess, err := f.registry.open(cmd, registry.WithJobs(f.jobs))
	if err != nil {
		return usageError(err)
	}
	srv, err := serve.New(serve.Config{PolicyFile: f.policy, Load: load, Interval: f.interval, Log: cmd.ErrOrStderr(),
		Audit: func(ctx context.Context, pol *policy.Policy) (*audit.Result, map[string]serve.Cost, error) {
			return auditRound(ctx, sess, pol, f.jobs)
		}})
	if err != nil {
		return usageError(fmt.Errorf("--policy: %w", err))
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return usageError(fmt.Errorf("--listen: %w", err))
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "mlaudit serve: listening on %s, auditing every %s\n", ln.Addr(), f.interval)

	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				srv.Reload()
			}
		}
	}()
	hs := &http.Server{Handler: serveMux(srv), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx) }()
	select {
	case err := <-served:
		cancel()
		<-runErr
		return &exitError{code: exitUsage, err: fmt.Errorf("serving: %w", err)}
	case <-ctx.Done():
	}
	<-runErr
	shut, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	if err := hs.Shutdown(shut); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	fmt.Fprintln(cmd.ErrOrStderr(), "mlaudit serve: stopped")
	return nil
}

// auditRound runs one audit of pol's targets with a new client (the cache
// directory stays warm across rounds; tags are read again each round) and
// counts its requests per registry host.
func auditRound(ctx context.Context, sess *session, pol *policy.Policy, jobs int) (*audit.Result, map[string]serve.Cost, error) {
	counter := &hostCounter{next: http.DefaultTransport.(*http.Transport).Clone(), costs: map[string]serve.Cost{}}
	filter := registry.TagFilter{Include: pol.Tags, Exclude: pol.ExcludeTags}
	s := *sess
	s.options = append(append([]registry.Option(nil), sess.options...), registry.WithTransport(counter), registry.WithTagFilter(filter))
	client, err := s.client()
	if err != nil {
		return nil, nil, err
	}
	// The round's archives and engine saves are let go with it.
	defer client.Close()
	opts := pol.AuditOptions(audit.Options{Jobs: 4 * jobs})
	res := audit.Run(ctx, client, targets(pol.Targets, pol, false), opts)
	return res, counter.snapshot(), nil
}

// hostCounter counts requests and manifest GETs per registry host.
type hostCounter struct {
	next  http.RoundTripper
	mu    sync.Mutex
	costs map[string]serve.Cost
}

func (h *hostCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	c := h.costs[req.URL.Host]
	c.Requests++
	if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/manifests/") {
		c.Pulls++
	}
	h.costs[req.URL.Host] = c
	h.mu.Unlock()
	return h.next.RoundTrip(req)
}

func (h *hostCounter) snapshot() map[string]serve.Cost {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]serve.Cost, len(h.costs))
	for k, v := range h.costs {
		out[k] = v
	}
	return out
}

// serveMux routes serve's endpoints. It lives here, not in package serve,
// because only cmd/mlaudit and registry may import net/http
// (TestArchitectureImports).
func serveMux(srv *serve.Server) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(srv.Gatherer(), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !srv.Ready() {
			http.Error(w, "the first round has not finished", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	page := func(contentType string, write func(w *strings.Builder) error) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			var b strings.Builder
			if err := write(&b); err != nil {
				code := http.StatusInternalServerError
				if errors.Is(err, serve.ErrNoRound) {
					code = http.StatusServiceUnavailable
				}
				http.Error(w, err.Error(), code)
				return
			}
			w.Header().Set("Content-Type", contentType)
			fmt.Fprint(w, b.String())
		}
	}
	mux.Handle("GET /report.json", page("application/json", func(b *strings.Builder) error { return srv.WriteJSON(b) }))
	mux.Handle("GET /{$}", page("text/html; charset=utf-8", func(b *strings.Builder) error { return srv.WriteHTML(b) }))
	return mux
}
