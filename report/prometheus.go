package report

import (
	"io"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/ref"
)

// The metrics of one audit, for Prometheus. `--format prometheus` writes
// them once; `mlaudit serve` exposes the last round's on /metrics and keeps
// each repository's last success across rounds:
//
//	mlaudit_findings{repository,code,severity}            findings per repository (0 when clean: every code has a series)
//	mlaudit_images_audited{repository}                    images audited
//	mlaudit_platform_present{repository,platform,required} 1 when every image judged for the platform has it, as it claims
//	mlaudit_image_platforms{image}                        platforms present, only for images with a finding (bounded)
//	mlaudit_repository_audited{repository}                1 when every reference of the repository was read, else 0
//	mlaudit_last_success_timestamp_seconds{repository}    last time the repository was read whole (0: never, as far as known)
//	mlaudit_targets_not_audited                           targets or references that could not be read
//	mlaudit_audit_duration_seconds                        how long the audit took
//	mlaudit_last_run_timestamp_seconds                    when it ran
//
// A repository that could not be read keeps its series, with
// mlaudit_repository_audited 0 and its last success unchanged, so alerts
// see values rather than absences: alert on
// mlaudit_platform_present{required="true"} == 0, on
// mlaudit_findings{severity="error"} > 0, on
// mlaudit_repository_audited == 0 and on
// time() - mlaudit_last_success_timestamp_seconds growing.

// LastSuccess returns when each repository of r was last read whole: the
// time r started for the repositories r read without an error, prev's
// value (0 when prev has none) for the others. prev is not changed.
func LastSuccess(r *audit.Result, prev map[string]time.Time) map[string]time.Time {
	out := make(map[string]time.Time, len(prev))
	for k, v := range prev {
		out[k] = v
	}
	failed := failedRepositories(r)
	for _, repo := range repositories(r) {
		switch {
		case !failed[repo]:
			out[repo] = started(r)
		default:
			if _, ok := out[repo]; !ok {
				out[repo] = time.Time{}
			}
		}
	}
	return out
}

// RegisterPrometheus registers r's metrics with reg. last gives each
// repository's last success (see [LastSuccess]); nil computes it from r
// alone.
func RegisterPrometheus(reg prometheus.Registerer, r *audit.Result, last map[string]time.Time) error {
	if last == nil {
		last = LastSuccess(r, nil)
	}
	var err error
	gv := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		if e := reg.Register(g); e != nil && err == nil {
			err = e
		}
		return g
	}
	g := func(name, help string) prometheus.Gauge {
		x := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		if e := reg.Register(x); e != nil && err == nil {
			err = e
		}
		return x
	}
	findings := gv("mlaudit_findings", "Findings of the last audit, by repository, code and severity.", "repository", "code", "severity")
	images := gv("mlaudit_images_audited", "Images audited by the last audit, by repository.", "repository")
	present := gv("mlaudit_platform_present", "1 when every image of the repository judged for the platform provides it as it claims, else 0; required says whether the policy requires it.", "repository", "platform", "required")
	perImage := gv("mlaudit_image_platforms", "Platforms present (entry and image agree), only for images with a finding.", "image")
	audited := gv("mlaudit_repository_audited", "1 when every reference of the repository was read by the last audit, else 0.", "repository")
	lastSuccess := gv("mlaudit_last_success_timestamp_seconds", "Unix time the repository was last read whole (0: not since this series began).", "repository")
	notAudited := g("mlaudit_targets_not_audited", "Targets or references the last audit could not read.")
	duration := g("mlaudit_audit_duration_seconds", "Wall time of the last audit.")
	lastRun := g("mlaudit_last_run_timestamp_seconds", "Unix time the last audit started.")
	if err != nil {
		return err
	}

	failed := failedRepositories(r)
	for _, repo := range repositories(r) {
		for _, info := range audit.Codes() {
			// Every code has a series per repository, zero when clean, so
			// alerts see a value rather than an absence.
			findings.WithLabelValues(label(repo), string(info.Code), info.Severity.String())
		}
		ok := 1.0
		if failed[repo] {
			ok = 0
		}
		audited.WithLabelValues(label(repo)).Set(ok)
		if t, known := last[repo]; known {
			lastSuccess.WithLabelValues(label(repo)).Set(unix(t))
		}
	}
	for _, f := range r.Findings {
		findings.WithLabelValues(label(repoOf(f.Ref)), string(f.Code), f.Severity.String()).Inc()
	}
	withFindings := map[string]bool{}
	for _, f := range r.Findings {
		withFindings[f.Ref.String()] = true
	}
	type key struct{ repo, platform, required string }
	judged := map[key]bool{} // true while every image has it
	for _, img := range r.Images {
		repo := repoOf(img.Ref)
		images.WithLabelValues(label(repo)).Inc()
		required := map[string]bool{}
		for _, p := range img.Required {
			required[p] = true
		}
		n := 0
		for _, p := range img.Platforms {
			if p.Attestation || p.Status == audit.StatusAttestation || p.Platform == "" || p.Platform == "unknown" {
				continue
			}
			ok := p.Status == audit.StatusOK
			if ok {
				n++
			}
			k := key{repo, p.Platform, boolLabel(required[p.Platform])}
			if prev, seen := judged[k]; seen {
				judged[k] = prev && ok
			} else {
				judged[k] = ok
			}
		}
		if withFindings[img.Ref.String()] {
			perImage.WithLabelValues(label(img.Ref.String())).Set(float64(n))
		}
	}
	for k, ok := range judged {
		v := 0.0
		if ok {
			v = 1
		}
		present.WithLabelValues(label(k.repo), label(k.platform), k.required).Set(v)
	}
	notAudited.Set(float64(len(r.Errors)))
	duration.Set(float64(r.Stats.DurationMs) / 1000)
	lastRun.Set(unix(started(r)))
	return nil
}

// renderPrometheus writes the text exposition format, for node exporter's
// textfile collector or a Pushgateway.
func renderPrometheus(w io.Writer, r *audit.Result, _ Options) error {
	reg := prometheus.NewPedanticRegistry()
	if err := RegisterPrometheus(reg, r, nil); err != nil {
		return err
	}
	families, err := reg.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}

// repoOf is the repository label of a reference: its repository, or the
// registry itself for a registry (catalog) target.
func repoOf(r ref.Ref) string {
	if r.IsRegistry() {
		return r.String()
	}
	return r.Repo().String()
}

// repositories lists the repositories r read or tried to, sorted.
func repositories(r *audit.Result) []string {
	seen := map[string]bool{}
	for _, img := range r.Images {
		seen[repoOf(img.Ref)] = true
	}
	for _, e := range r.Errors {
		seen[repoOf(e.Ref)] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// failedRepositories are the repositories with a reference r could not
// read.
func failedRepositories(r *audit.Result) map[string]bool {
	out := map[string]bool{}
	for _, e := range r.Errors {
		out[repoOf(e.Ref)] = true
	}
	return out
}

func started(r *audit.Result) time.Time {
	if r.Stats.StartedAt.IsZero() {
		return time.Now()
	}
	return r.Stats.StartedAt
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.Unix())
}

func boolLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// label is a label value: client_golang escapes quotes, backslashes and
// newlines, but panics on a value that is not UTF-8 (a layout directory's
// name may not be), so each such byte becomes U+FFFD.
func label(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
