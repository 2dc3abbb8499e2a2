package main

import (
	"fmt"
	"testing"

	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/repair"
	"github.com/mlaudit/mlaudit/report"
)

// TestAdviceNamesOnlyFlagsTheCommandHas: neutral library errors get the
// flag that helps, and never one the command lacks.
func TestAdviceNamesOnlyFlagsTheCommandHas(t *testing.T) {
	limited := fmt.Errorf("fetching: %w", registry.ErrRateLimited)
	tests := []struct {
		cmd  string
		err  error
		want string
	}{
		{"audit", limited, "lower --jobs"},
		{"repair", limited, ""}, // repair has no --jobs
		{"audit", fmt.Errorf("GET: %w", &registry.TimeoutError{Host: "h"}), "raise --timeout"},
		{"repair", &registry.PlainHTTPError{Host: "10.0.0.1:5000"}, "pass --insecure-registry 10.0.0.1:5000 if it really serves plain HTTP"},
		{"repair", fmt.Errorf("planning: %w", repair.ErrNoSources), "name images with --from or --per-arch"},
		{"audit", fmt.Errorf("something else"), ""},
	}
	for _, tt := range tests {
		cmd := newAuditCmd(report.Options{})
		if tt.cmd == "repair" {
			cmd = newRepairCmd()
		}
		if got := advice(cmd, tt.err); got != tt.want {
			t.Errorf("%s, %v: advice %q, want %q", tt.cmd, tt.err, got, tt.want)
		}
	}
}
