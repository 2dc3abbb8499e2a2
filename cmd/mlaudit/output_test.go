package main

import (
	"context"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/registry"
)

// outputTarget pushes one two-platform index to an in-process registry
// and returns its reference and the number of requests the registry has
// answered since.
func outputTarget(t *testing.T) (target string, requests *atomic.Int64) {
	t.Helper()
	requests = &atomic.Int64{}
	host := testregistry.InProcess(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			next.ServeHTTP(w, r)
		})
	})
	var entries []stories.Entry
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		img, err := stories.Image(p, stories.OCI, "output")
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, stories.Entry{Image: img, Platform: p})
	}
	idx, err := stories.Index(stories.OCI, entries...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := registry.New()
	if err != nil {
		t.Fatal(err)
	}
	target = host + "/output/app:1"
	if err := c.Push(context.Background(), storytest.Parse(t, target), idx); err != nil {
		t.Fatal(err)
	}
	requests.Store(0)
	return target, requests
}

// auditTo audits target into output as JSON and checks it succeeded.
func auditTo(t *testing.T, target, output string) result {
	t.Helper()
	r := mlaudit(t, "", "audit", "--format", "json", "--require", "linux/amd64,linux/arm64", "-o", output, target)
	if r.code != 0 || !strings.Contains(r.stdout, "Report written to") {
		t.Fatalf("audit -o %s: exit %d\nstdout: %s\nstderr: %s", output, r.code, r.stdout, r.stderr)
	}
	return r
}

// TestOutputToFIFO: -o to a FIFO writes into it (a reader gets the whole
// report) and leaves it a FIFO.
func TestOutputToFIFO(t *testing.T) {
	target, _ := outputTarget(t)
	fifo := filepath.Join(t.TempDir(), "report.pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	got := make(chan []byte, 1)
	go func() {
		f, err := os.Open(fifo) // waits for mlaudit to open it for writing
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- b
	}()
	r := mlaudit(t, "", "audit", "--format", "json", "--require", "linux/amd64,linux/arm64", "-o", fifo, target)
	var report []byte
	select {
	case report = <-got:
	case <-time.After(10 * time.Second):
		// mlaudit has exited without opening the FIFO: release the
		// reader if the FIFO is still there, and give up on it if not.
		if fi, err := os.Lstat(fifo); err == nil && fi.Mode()&fs.ModeNamedPipe != 0 {
			if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
		}
		select {
		case report = <-got:
		case <-time.After(5 * time.Second):
		}
	}
	if r.code != 0 {
		t.Fatalf("audit -o FIFO: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if len(report) == 0 {
		t.Fatal("nothing was written into the FIFO")
	}
	if rep := decode(t, string(report)); len(rep.Findings) != 0 || len(rep.Errors) != 0 {
		t.Errorf("the report read from the FIFO: %+v", rep)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v, %v", fi.Mode(), err)
	}
}

// TestOutputThroughSymlink: -o to a symbolic link (relative, through a
// linked directory, and dangling) leaves the link a link and writes the
// report to its target, keeping the target's permissions.
func TestOutputThroughSymlink(t *testing.T) {
	target, _ := outputTarget(t)
	root := t.TempDir()
	for _, dir := range []string{"reports", "links"} {
		if err := os.Mkdir(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	real := filepath.Join(root, "reports", "audit.json")
	if err := os.WriteFile(real, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	// links/current -> ../reports/audit.json, reached through a link to
	// the links directory, so the relative target must be read from
	// where the link really is.
	if err := os.Symlink("../reports/audit.json", filepath.Join(root, "links", "current")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("links", filepath.Join(root, "via")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "via", "current")
	auditTo(t, target, link)

	if dest, err := os.Readlink(filepath.Join(root, "links", "current")); err != nil || dest != "../reports/audit.json" {
		t.Errorf("the link was replaced: %q, %v", dest, err)
	}
	b, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	decode(t, string(b))
	if fi, _ := os.Stat(real); fi.Mode().Perm() != 0o640 {
		t.Errorf("the target's permissions changed to %v", fi.Mode().Perm())
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, "*", ".*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}

	dangling := filepath.Join(root, "links", "next")
	if err := os.Symlink(filepath.Join(root, "reports", "new.json"), dangling); err != nil {
		t.Fatal(err)
	}
	auditTo(t, target, dangling)
	if fi, err := os.Lstat(dangling); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the dangling link was replaced: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "reports", "new.json")); err != nil {
		t.Errorf("the dangling link's target was not created: %v", err)
	} else {
		decode(t, string(b))
	}
}

// TestOutputToDeviceNode: -o to a character device (one made by the test,
// with /dev/null's numbers, never the system's /dev/null) writes to it and
// leaves it a device. Making a device node needs root; CI runs as root.
func TestOutputToDeviceNode(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs the tests as root, which making a device node needs")
		}
		t.Skip("making a device node needs root (CI=true runs it as root)")
	}
	target, _ := outputTarget(t)
	node := filepath.Join(t.TempDir(), "null")
	const major, minor = 1, 3 // /dev/null's numbers on Linux
	dev := (minor & 0xff) | (major&0xfff)<<8 | (minor&^0xff)<<12
	if err := syscall.Mknod(node, syscall.S_IFCHR|0o666, dev); err != nil {
		t.Fatalf("mknod: %v", err)
	}
	if f, err := os.OpenFile(node, os.O_WRONLY, 0); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the test's device node cannot be opened (a nodev mount?): %v", err)
		}
		t.Skipf("the test's device node cannot be opened (is the temporary directory mounted nodev?): %v", err)
	} else {
		f.Close()
	}
	before, err := os.Lstat(node)
	if err != nil {
		t.Fatal(err)
	}
	auditTo(t, target, node)
	after, err := os.Lstat(node)
	if err != nil {
		t.Fatal(err)
	}
	if after.Mode()&fs.ModeCharDevice == 0 || after.Mode()&fs.ModeDevice == 0 {
		t.Fatalf("the device node became %v", after.Mode())
	}
	if before.Sys().(*syscall.Stat_t).Rdev != after.Sys().(*syscall.Stat_t).Rdev || before.Sys().(*syscall.Stat_t).Ino != after.Sys().(*syscall.Stat_t).Ino {
		t.Errorf("the device node was replaced")
	}
}

// TestOutputUnwritableExitsEarly: an --output that cannot be written is a
// usage error (exit 2) naming the path and why, found before any request.
func TestOutputUnwritableExitsEarly(t *testing.T) {
	target, requests := outputTarget(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(dir, "read-only")
	if err := os.Mkdir(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, output, why string
		unprivileged      bool
	}{
		{"missing directory", filepath.Join(dir, "missing", "report.json"), "no such file or directory", false},
		{"a file where the directory should be", filepath.Join(file, "report.json"), "not a directory", false},
		{"a directory", dir, "is a directory", false},
		{"a directory with a slash", dir + "/", "names a directory", false},
		{"read-only directory", filepath.Join(readOnly, "report.json"), readOnly + " cannot be written (the file is replaced by a rename there): permission denied", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requests.Store(0)
			run := mlaudit
			if tc.unprivileged && os.Geteuid() == 0 {
				run = asNobody(dir) // root may write a read-only directory
			}
			r := run(t, "", "audit", "--format", "json", "--no-cache", "-o", tc.output, target)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			for _, want := range []string{"--output", tc.output, tc.why} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr should say %q:\n%s", want, r.stderr)
				}
			}
			if n := requests.Load(); n != 0 {
				t.Errorf("%d requests reached the registry before the output was checked", n)
			}
		})
	}
}

// asNobody returns a runner like mlaudit that runs the binary as the
// unprivileged user nobody (for a test running as root, which permissions
// do not stop), with dir and the binary made reachable for it.
func asNobody(dir string) func(t *testing.T, stdin string, args ...string) result {
	return func(t *testing.T, stdin string, args ...string) result {
		t.Helper()
		const nobody = 65534
		for d := dir; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()) && d != os.TempDir(); d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(filepath.Dir(binary), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "DOCKER_CONFIG="+dir, "XDG_CACHE_HOME="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		return runBinary(t, cmd, strings.NewReader(stdin))
	}
}
