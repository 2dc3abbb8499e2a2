package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// tool returns the path of a tool the tests run as an independent client:
// the project's bin/name, where make deps installs the pinned version, else
// name on PATH. Under CI=true its absence fails the test; otherwise it
// skips it.
func tool(t *testing.T, name string) string {
	t.Helper()
	// The tests run in cmd/mlaudit; the repository root is two levels up.
	if local, err := filepath.Abs(filepath.Join("..", "..", "bin", name)); err == nil {
		if p, err := exec.LookPath(local); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (make deps installs it)", name)
	}
	t.Skipf("%s is not installed (make deps installs it)", name)
	return ""
}
