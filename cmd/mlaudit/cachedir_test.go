package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// TestUnusableCacheIsAWarning: a cache directory that cannot be made (a
// read-only home in a container; here, below a regular file, which fails
// even for root) is a warning and a run without cache, not an exit.
func TestUnusableCacheIsAWarning(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	seedStories(t, host)
	file := filepath.Join(t.TempDir(), "a-file")
	writePolicy(t, file, "not a directory")
	r := mlaudit(t, "", "audit", "--cache-dir", filepath.Join(file, "cache"), "--require", "linux/arm64", host+"/aibrix/runtime:v0.3.0-rc.2")
	if r.code != 0 || !strings.Contains(r.stderr, "warning: --cache-dir") || !strings.Contains(r.stderr, "running without a cache") {
		t.Errorf("exit %d, want 0 with a warning:\n%s%s", r.code, r.stdout, r.stderr)
	}
}
