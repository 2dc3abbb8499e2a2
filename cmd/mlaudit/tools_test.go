package main

import (
	"errors"
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

// combined runs cmd and returns its standard output and error together
// and its exit code; a command that cannot start fails the test.
func combined(t *testing.T, cmd *exec.Cmd) (string, int) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", cmd.Path, err)
	}
	return string(out), 0
}
