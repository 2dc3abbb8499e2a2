package main

import (
	"fmt"
	"net/url"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/report"
)

// DefaultPushJob is the job label --push-gateway pushes under.
const DefaultPushJob = "mlaudit"

// pushMetrics replaces the job's group on the Pushgateway at url with the
// audit's metrics (package report's, as --format prometheus writes them).
// The group is replaced, not added to, so a repository dropped from the
// targets does not linger; each repository's last success is the one of
// this run (0 for a repository not read), so a failed target alerts.
func pushMetrics(url, job string, r *audit.Result) error {
	if job == "" {
		job = DefaultPushJob
	}
	reg := prometheus.NewPedanticRegistry()
	if err := report.RegisterPrometheus(reg, r, nil); err != nil {
		return fmt.Errorf("--push-gateway: %w", err)
	}
	if err := push.New(url, job).Gatherer(reg).Push(); err != nil {
		return fmt.Errorf("--push-gateway %s: %w", url, err)
	}
	return nil
}

// checkPushGateway refuses, before anything is audited, a --push-gateway
// that is not an http or https URL with a host.
func checkPushGateway(gateway string) error {
	if gateway == "" {
		return nil
	}
	u, err := url.Parse(gateway)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--push-gateway %q: give the Pushgateway's URL, e.g. http://pushgateway:9091", gateway)
	}
	return nil
}
