//go:build unix

package atomicfile_test

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlaudit/mlaudit/internal/atomicfile"
)

func text(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteThroughRegularAndNewFiles(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing")
	if err := os.WriteFile(existing, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteThrough(existing, 0o644, text("new")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(existing); read(t, existing) != "new" || fi.Mode().Perm() != 0o600 {
		t.Errorf("existing file: %q, %v; want new content, permissions kept", read(t, existing), fi.Mode())
	}
	fresh := filepath.Join(dir, "fresh")
	if err := atomicfile.WriteThrough(fresh, 0o644, text("x")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(fresh); read(t, fresh) != "x" || fi.Mode().Perm() != 0o644 {
		t.Errorf("new file: %v", fi.Mode())
	}
	if err := atomicfile.WriteThrough(dir, 0o644, text("x")); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("a directory: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestWriteThroughSymlinks(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"real", "links"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(root, "real", "report")
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// via/b -> a -> ../real/report, via being a link to links.
	must(t, os.Symlink("../real/report", filepath.Join(root, "links", "a")))
	must(t, os.Symlink("a", filepath.Join(root, "links", "b")))
	must(t, os.Symlink("links", filepath.Join(root, "via")))
	if err := atomicfile.Check(filepath.Join(root, "via", "b")); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteThrough(filepath.Join(root, "via", "b"), 0o644, text("new")); err != nil {
		t.Fatal(err)
	}
	if read(t, target) != "new" {
		t.Errorf("the target holds %q", read(t, target))
	}
	for _, l := range []string{"a", "b"} {
		if fi, err := os.Lstat(filepath.Join(root, "links", l)); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("link %s replaced", l)
		}
	}
	dangling := filepath.Join(root, "links", "dangling")
	must(t, os.Symlink("../real/created", dangling))
	if err := atomicfile.WriteThrough(dangling, 0o644, text("c")); err != nil {
		t.Fatal(err)
	}
	if read(t, filepath.Join(root, "real", "created")) != "c" {
		t.Error("the dangling link's target was not created")
	}
	loop := filepath.Join(root, "loop")
	must(t, os.Symlink("loop", loop))
	if err := atomicfile.Check(loop); err == nil || !strings.Contains(err.Error(), "symbolic links") {
		t.Errorf("a link loop: %v", err)
	}
}

func TestWriteReplacesALink(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "target"), filepath.Join(dir, "link")
	must(t, os.WriteFile(target, []byte("old"), 0o644))
	must(t, os.Symlink("target", link))
	must(t, atomicfile.WriteBytes(link, 0o644, []byte("new")))
	if fi, _ := os.Lstat(link); fi.Mode()&fs.ModeSymlink != 0 || read(t, target) != "old" {
		t.Error("Write, for files mlaudit owns, replaces a link rather than following it")
	}
}

func TestWriteThroughFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- atomicfile.Check(fifo) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Check blocked on a FIFO without a reader")
	}
	got := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- string(b)
	}()
	if err := atomicfile.WriteThrough(fifo, 0o644, text("through the pipe")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "through the pipe" {
		t.Errorf("read %q", s)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Error("the FIFO was replaced")
	}
}

func TestCheckRefuses(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	must(t, os.WriteFile(file, nil, 0o644))
	for path, want := range map[string]string{
		filepath.Join(dir, "missing", "r"): "no such file or directory",
		filepath.Join(file, "r"):           "not a directory",
		dir:                                "is a directory",
		dir + "/":                          "names a directory",
	} {
		if err := atomicfile.Check(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check(%s) = %v, want %q", path, err, want)
		}
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		must(t, os.Mkdir(ro, 0o555))
		if err := atomicfile.Check(filepath.Join(ro, "r")); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("a read-only directory: %v", err)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
