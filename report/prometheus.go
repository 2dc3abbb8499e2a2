package report

import (
	"io"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/mlaudit/mlaudit/audit"
)

// renderPrometheus writes the text exposition format, for node exporter's
// textfile collector (write it with --output into the collector's
// directory; the file is replaced atomically):
//
//	mlaudit_findings{repository,code,severity}   findings per repository
//	mlaudit_images_audited{repository}           images audited
//	mlaudit_image_platforms{image}               platforms present per image
//	mlaudit_targets_not_audited                  targets that could not be read
//	mlaudit_audit_duration_seconds               how long the audit took
//	mlaudit_last_run_timestamp_seconds           when it ran
//	mlaudit_last_success_timestamp_seconds       when it ran, only if every target was read
//
// Alert on mlaudit_findings{severity="error"} > 0, and on
// time() - mlaudit_last_success_timestamp_seconds growing (or absent).
func renderPrometheus(w io.Writer, r *audit.Result) error {
	reg := prometheus.NewPedanticRegistry()
	findings := gaugeVec(reg, "mlaudit_findings", "Findings of the last audit, by repository, code and severity.", "repository", "code", "severity")
	images := gaugeVec(reg, "mlaudit_images_audited", "Images audited by the last audit, by repository.", "repository")
	present := gaugeVec(reg, "mlaudit_image_platforms", "Platforms present (entry and image agree) per image.", "image")
	notAudited := gauge(reg, "mlaudit_targets_not_audited", "Targets or references the last audit could not read.")
	duration := gauge(reg, "mlaudit_audit_duration_seconds", "Wall time of the last audit.")
	lastRun := gauge(reg, "mlaudit_last_run_timestamp_seconds", "Unix time the last audit started.")

	for _, info := range audit.Codes() {
		for _, img := range r.Images {
			// Every code has a series per repository, zero when clean, so
			// alerts see a value rather than an absence.
			findings.WithLabelValues(label(img.Ref.Repo().String()), string(info.Code), info.Severity.String())
		}
	}
	for _, f := range r.Findings {
		findings.WithLabelValues(label(f.Ref.Repo().String()), string(f.Code), f.Severity.String()).Inc()
	}
	for _, img := range r.Images {
		images.WithLabelValues(label(img.Ref.Repo().String())).Inc()
		n := 0
		for _, p := range img.Platforms {
			if !p.Attestation && p.Status == audit.StatusOK {
				n++
			}
		}
		present.WithLabelValues(label(img.Ref.String())).Set(float64(n))
	}
	notAudited.Set(float64(len(r.Errors)))
	duration.Set(float64(r.Stats.DurationMs) / 1000)
	started := r.Stats.StartedAt
	if started.IsZero() {
		started = time.Now()
	}
	lastRun.Set(float64(started.Unix()))
	if len(r.Errors) == 0 {
		gauge(reg, "mlaudit_last_success_timestamp_seconds", "Unix time of the last audit that read every target.").Set(float64(started.Unix()))
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

// label is a label value: client_golang escapes quotes, backslashes and
// newlines, but panics on a value that is not UTF-8 (a layout directory's
// name may not be), so each such byte becomes U+FFFD.
func label(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func gaugeVec(reg *prometheus.Registry, name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	reg.MustRegister(g)
	return g
}

func gauge(reg *prometheus.Registry, name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	reg.MustRegister(g)
	return g
}
