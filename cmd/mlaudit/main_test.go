package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/audit"
)

// binary is the mlaudit built once for these tests, so they run the real
// command line end to end.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mlaudit-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "mlaudit")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building mlaudit:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// mlaudit runs the binary with args (and stdin, when given).
func mlaudit(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	// Each run gets its own Docker config and cache directory.
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir())
	return runBinary(t, cmd, strings.NewReader(stdin))
}

// runBinary runs cmd, the built binary with its arguments and environment
// set, and returns what it printed and its exit code; a panic fails the
// test.
func runBinary(t *testing.T, cmd *exec.Cmd, stdin io.Reader) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &stdout, &stderr, stdin
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running mlaudit: %v", err)
	}
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("mlaudit panicked:\n%s", r.stderr)
	}
	return r
}

// jsonReport is the JSON report as a script reads it.
type jsonReport struct {
	SchemaVersion int `json:"schemaVersion"`
	audit.Result
}

func decode(t *testing.T, out string) jsonReport {
	t.Helper()
	var r jsonReport
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("the JSON report does not decode: %v\n%s", err, out)
	}
	if r.SchemaVersion != 1 {
		t.Fatalf("schemaVersion = %d, want 1", r.SchemaVersion)
	}
	return r
}
