// Package serve runs mlaudit as a long-lived service: an audit round on
// start and on every interval (with ±10% jitter, one round at a time), the
// last round kept for readers, the policy file reloaded on request or when
// it changes, and Prometheus metrics of the rounds and of the last audit.
//
// How do I use this package? Give [New] a policy file and a function that
// runs one audit under a policy, call [Server.Run] until its context ends,
// and expose [Server.Gatherer], [Server.WriteHTML], [Server.WriteJSON] and
// [Server.Ready] over HTTP (cmd/mlaudit does, with promhttp). The package
// itself talks to no network.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/policy"
	"github.com/mlaudit/mlaudit/report"
)

// Cost is what a round cost on one registry host.
type Cost struct {
	// Requests counts HTTP requests; Pulls, manifest GETs (what Docker
	// Hub charges as pulls).
	Requests, Pulls int64
}

// Round is one audit: its result and, per registry host, its cost.
type Round struct {
	Result *audit.Result
	Cost   map[string]Cost
	// Started and Finished bound the round; Next is when the next one is
	// due (zero while none is scheduled).
	Started, Finished, Next time.Time
}

// AuditFunc runs one audit of pol's targets. It returns an error only when
// no audit could run at all (bad targets, no client); a target that cannot
// be read is in the result's errors.
type AuditFunc func(ctx context.Context, pol *policy.Policy) (*audit.Result, map[string]Cost, error)

// LoadFunc reads a policy file.
type LoadFunc func(path string) (*policy.Policy, error)

// Config configures a [Server].
type Config struct {
	// PolicyFile is read on start, on [Server.Reload] and when its
	// modification time changes.
	PolicyFile string
	// Load reads it; the default is policy.Load.
	Load LoadFunc
	// Audit runs one round. Required.
	Audit AuditFunc
	// Interval between round starts; the default is one hour. Each wait
	// is drawn within ±Jitter of it (default 0.1).
	Interval time.Duration
	Jitter   float64
	// PollEvery is how often the policy file's modification time is
	// checked; the default is 5 seconds.
	PollEvery time.Duration
	// Log receives one line per round and per reload; the default
	// discards them.
	Log io.Writer
}

// Server runs rounds and keeps the last one. Its methods are safe for
// concurrent use.
type Server struct {
	cfg    Config
	reload chan struct{}
	ready  atomic.Bool

	mu          sync.Mutex
	pol         *policy.Policy
	polStamp    stamp
	last        *Round
	lastSuccess map[string]time.Time
	auditReg    *prometheus.Registry

	own           *prometheus.Registry
	roundStart    prometheus.Gauge
	roundDuration prometheus.Gauge
	nextRound     prometheus.Gauge
	rounds        *prometheus.CounterVec
	targetOK      *prometheus.GaugeVec
	requests      *prometheus.CounterVec
	pulls         *prometheus.CounterVec
	reloads       *prometheus.CounterVec
	policyOK      prometheus.Gauge
}

// stamp identifies a version of the policy file.
type stamp struct {
	mod  time.Time
	size int64
}

// New reads the policy file and makes a server; a policy that does not
// load is an error.
func New(cfg Config) (*Server, error) {
	if cfg.Audit == nil {
		return nil, errors.New("serve: Config.Audit is required")
	}
	if cfg.Load == nil {
		cfg.Load = policy.Load
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Hour
	}
	if cfg.Jitter <= 0 || cfg.Jitter >= 1 {
		cfg.Jitter = 0.1
	}
	if cfg.PollEvery <= 0 {
		cfg.PollEvery = 5 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	s := &Server{cfg: cfg, reload: make(chan struct{}, 1), lastSuccess: map[string]time.Time{}, own: prometheus.NewPedanticRegistry()}
	st, _ := statFile(cfg.PolicyFile)
	pol, err := cfg.Load(cfg.PolicyFile)
	if err != nil {
		return nil, err
	}
	s.pol, s.polStamp = pol, st
	s.register()
	s.policyOK.Set(1)
	return s, nil
}

func (s *Server) register() {
	f := prometheus.WrapRegistererWithPrefix("mlaudit_serve_", s.own)
	g := func(name, help string) prometheus.Gauge {
		x := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		f.MustRegister(x)
		return x
	}
	gv := func(name, help string, labels ...string) *prometheus.GaugeVec {
		x := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		f.MustRegister(x)
		return x
	}
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		x := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		f.MustRegister(x)
		return x
	}
	s.roundStart = g("round_start_timestamp_seconds", "Unix time the last finished round started.")
	s.roundDuration = g("round_duration_seconds", "Wall time of the last finished round.")
	s.nextRound = g("next_round_timestamp_seconds", "Unix time the next round is due.")
	s.rounds = cv("rounds_total", "Rounds finished, by result: ok (every target read), partial (some not) or failed (no audit ran).", "result")
	s.targetOK = gv("target_success", "1 when the last round read every reference of the policy target, else 0.", "target")
	s.requests = cv("registry_requests_total", "HTTP requests made to each registry host.", "registry")
	s.pulls = cv("registry_pulls_total", "Manifest GETs (Docker Hub's pulls) made to each registry host.", "registry")
	s.reloads = cv("policy_reloads_total", "Policy reloads, by result: ok, or failed (the previous policy is kept).", "result")
	s.policyOK = g("policy_last_reload_success", "1 when the last policy (re)load succeeded, 0 when the file in place is rejected and an older policy is in use.")
	for _, r := range []string{"ok", "partial", "failed"} {
		s.rounds.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "failed"} {
		s.reloads.WithLabelValues(r)
	}
}

// Reload asks for the policy file to be read again before the next round,
// which then starts at once. It never blocks.
func (s *Server) Reload() {
	select {
	case s.reload <- struct{}{}:
	default:
	}
}

// Ready reports whether a round has finished.
func (s *Server) Ready() bool { return s.ready.Load() }

// Last returns the last finished round, or false before the first.
func (s *Server) Last() (Round, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return Round{}, false
	}
	return *s.last, true
}

// Gatherer gathers the server's metrics and the last round's audit
// metrics (package report's, with each repository's last success kept
// across rounds).
func (s *Server) Gatherer() prometheus.Gatherer {
	last := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		s.mu.Lock()
		reg := s.auditReg
		s.mu.Unlock()
		if reg == nil {
			return nil, nil
		}
		return reg.Gather()
	})
	return prometheus.Gatherers{s.own, last}
}

// Run audits now and then on every interval until ctx ends, which also
// cancels a round in progress. It returns nil when ctx ends.
func (s *Server) Run(ctx context.Context) error {
	poll := time.NewTicker(s.cfg.PollEvery)
	defer poll.Stop()
	for {
		s.round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := s.jittered()
		next := time.Now().Add(wait)
		s.setNext(next)
		timer := time.NewTimer(wait)
	waiting:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return nil
			case <-timer.C:
				break waiting
			case <-s.reload:
				if s.load("reload requested") {
					timer.Stop()
					break waiting
				}
			case <-poll.C:
				// Polling the modification time rather than watching
				// with fsnotify: no new dependency, and it also sees a
				// Kubernetes ConfigMap update (a symlink swap).
				if st, err := statFile(s.cfg.PolicyFile); err == nil && st != s.stampNow() {
					if s.load("policy file changed") {
						timer.Stop()
						break waiting
					}
				}
			}
		}
	}
}

// jittered is the interval, moved by up to ±Jitter.
func (s *Server) jittered() time.Duration {
	j := (rand.Float64()*2 - 1) * s.cfg.Jitter
	return time.Duration(float64(s.cfg.Interval) * (1 + j))
}

func (s *Server) stampNow() stamp {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polStamp
}

// load reads the policy file again; a bad one is logged and counted, and
// the policy in use is kept. It reports whether the new policy is in use.
func (s *Server) load(why string) bool {
	st, _ := statFile(s.cfg.PolicyFile)
	pol, err := s.cfg.Load(s.cfg.PolicyFile)
	s.mu.Lock()
	s.polStamp = st // a rejected version is not retried until it changes again
	if err != nil {
		s.mu.Unlock()
		s.reloads.WithLabelValues("failed").Inc()
		s.policyOK.Set(0)
		fmt.Fprintf(s.cfg.Log, "mlaudit serve: %s: keeping the previous policy: %v\n", why, oneLine(err))
		return false
	}
	s.pol = pol
	s.mu.Unlock()
	s.reloads.WithLabelValues("ok").Inc()
	s.policyOK.Set(1)
	fmt.Fprintf(s.cfg.Log, "mlaudit serve: %s: policy %s reloaded (%d targets)\n", why, s.cfg.PolicyFile, len(pol.Targets))
	return true
}

// round runs one audit and keeps it.
func (s *Server) round(ctx context.Context) {
	s.mu.Lock()
	pol := s.pol
	s.mu.Unlock()
	start := time.Now()
	res, cost, err := s.cfg.Audit(ctx, pol)
	end := time.Now()
	if ctx.Err() != nil {
		fmt.Fprintln(s.cfg.Log, "mlaudit serve: round cancelled")
		return
	}
	if err != nil {
		s.rounds.WithLabelValues("failed").Inc()
		fmt.Fprintf(s.cfg.Log, "mlaudit serve: round failed: %v\n", oneLine(err))
		return
	}
	if res.Stats.StartedAt.IsZero() {
		res.Stats.StartedAt = start
	}
	reg := prometheus.NewPedanticRegistry()
	s.mu.Lock()
	s.lastSuccess = report.LastSuccess(res, s.lastSuccess)
	rerr := report.RegisterPrometheus(reg, res, s.lastSuccess)
	s.last = &Round{Result: res, Cost: cost, Started: start, Finished: end}
	if rerr == nil {
		s.auditReg = reg
	}
	s.mu.Unlock()
	if rerr != nil {
		fmt.Fprintf(s.cfg.Log, "mlaudit serve: metrics: %v\n", rerr)
	}
	s.roundStart.Set(float64(start.Unix()))
	s.roundDuration.Set(end.Sub(start).Seconds())
	s.targetOK.Reset()
	for _, t := range pol.Targets {
		ok := 1.0
		for _, e := range res.Errors {
			if Within(e.Ref.String(), t.String()) {
				ok = 0
			}
		}
		s.targetOK.WithLabelValues(strings.ToValidUTF8(t.String(), "\uFFFD")).Set(ok)
	}
	hosts := make([]string, 0, len(cost))
	for h := range cost {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		s.requests.WithLabelValues(h).Add(float64(cost[h].Requests))
		s.pulls.WithLabelValues(h).Add(float64(cost[h].Pulls))
	}
	result := "ok"
	if len(res.Errors) > 0 {
		result = "partial"
	}
	s.rounds.WithLabelValues(result).Inc()
	s.ready.Store(true)
	fmt.Fprintf(s.cfg.Log, "mlaudit serve: round %s: %s\n", result, report.Summary(res))
}

func (s *Server) setNext(t time.Time) {
	s.mu.Lock()
	if s.last != nil {
		s.last.Next = t
	}
	s.mu.Unlock()
	s.nextRound.Set(float64(t.Unix()))
}

// Within reports whether reference r (canonical) is target or one of the
// references target names: a tag of a repository target, a repository of
// a registry target ("host/").
func Within(r, target string) bool {
	if r == target {
		return true
	}
	if strings.HasSuffix(target, "/") {
		return strings.HasPrefix(r, target)
	}
	if len(r) > len(target) && strings.HasPrefix(r, target) {
		c := r[len(target)]
		return c == ':' || c == '@'
	}
	return false
}

func statFile(name string) (stamp, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return stamp{}, err
	}
	return stamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
