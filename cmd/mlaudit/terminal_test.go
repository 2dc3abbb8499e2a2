package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/ref"
)

// TestVersionFromLdflags builds mlaudit as a release does and checks
// --version, mlaudit version, and the SARIF tool version.
func TestVersionFromLdflags(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "mlaudit")
	build := exec.Command("go", "build", "-o", bin, "-ldflags", "-X main.version=v9.8.7 -X main.commit=0123456789abcdef0123 -X main.date=2026-12-01T10:00:00Z", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	want := "mlaudit v9.8.7 (commit 0123456789ab, built 2026-12-01T10:00:00Z)\n"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, err := exec.Command(bin, args...).Output()
		if err != nil || string(out) != want {
			t.Errorf("mlaudit %v = %q, %v; want %q", args, out, err, want)
		}
	}
	out, _ := exec.Command(bin, "demo", "--format", "sarif").Output()
	if !bytes.Contains(out, []byte(`"version": "v9.8.7"`)) {
		t.Error("the SARIF tool driver should carry the version")
	}
	// Without -ldflags: what go build recorded.
	r := mlaudit(t, "", "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "mlaudit ") {
		t.Errorf("--version = %q (exit %d)", r.stdout, r.code)
	}
}

func TestCodesNamesOneCode(t *testing.T) {
	r := mlaudit(t, "", "codes", "missing-platform")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "missing-platform (error)\n") || strings.Count(r.stdout, "what: ") != 1 {
		t.Errorf("codes missing-platform (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mlaudit(t, "", "codes", "--format", "json", "mirror-drift", "missing-platform")
	if r.code != 0 || strings.Count(r.stdout, `"code"`) != 2 || strings.Index(r.stdout, "mirror-drift") > strings.Index(r.stdout, `"missing-platform"`) {
		t.Errorf("codes in the order named:\n%s", r.stdout)
	}
	r = mlaudit(t, "", "codes", "missing-platfrom")
	if r.code != exitUsage || !strings.Contains(r.stderr, `unknown code "missing-platfrom": use one of missing-platform,`) {
		t.Errorf("an unknown code is a usage error that lists the codes (exit %d): %s", r.code, r.stderr)
	}
}

func TestCompletionOfFlagValues(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
		not  []string
	}{
		{[]string{"audit", "--format", ""}, []string{"table\n", "json\n", "sarif\n", "junit\n", "html\n", "markdown\n", "prometheus\n"}, nil},
		{[]string{"codes", "--format", ""}, []string{"text\n", "json\n"}, []string{"sarif"}},
		{[]string{"repair", "--format", ""}, []string{"table\n", "json\n"}, []string{"sarif"}},
		{[]string{"audit", "--fail-on", ""}, []string{"error\t", "warning\t", "never\t"}, nil},
		{[]string{"audit", "--require", "linux/a"}, []string{"linux/amd64\n", "linux/arm64\n", "linux/arm/v7\n"}, []string{"windows"}},
		{[]string{"audit", "--require", "linux/amd64,linux/a"}, []string{"linux/amd64,linux/arm64\n"}, []string{"linux/amd64,linux/amd64"}},
		{[]string{"codes", "mirror"}, []string{"mirror-drift\t"}, []string{"missing-platform"}},
		{[]string{"codes", "missing-platform", "missing-pl"}, []string{"missing-platform-field\t"}, []string{"missing-platform\t"}},
		{[]string{"audit", "--policy", ""}, []string{"yaml\n", "yml\n", ":8\n"}, nil}, // 8: filter file extensions
	} {
		r := mlaudit(t, "", append([]string{"__complete"}, c.args...)...)
		for _, w := range c.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("completing %q: want %q in\n%s", c.args, w, r.stdout)
			}
		}
		for _, n := range c.not {
			if strings.Contains(r.stdout, n) {
				t.Errorf("completing %q: %q should not be offered:\n%s", c.args, n, r.stdout)
			}
		}
	}
	r := mlaudit(t, "", "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "__mlaudit_") {
		t.Errorf("completion bash (exit %d)", r.code)
	}
}

// openPTY opens a pseudo-terminal: the master side, read as the screen,
// and the slave side, given to the command as its terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("pseudo-terminals are opened the Linux way here")
	}
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatal(e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatal(e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

func TestReportColourOnTerminalOnly(t *testing.T) {
	_, slave := openPTY(t)
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	var buf bytes.Buffer
	for _, c := range []struct {
		name           string
		out, err       io.Writer
		getenv         func(string) string
		colour, bar, a bool
	}{
		{"terminal", slave, slave, env("TERM", "xterm-256color"), true, true, false},
		{"NO_COLOR", slave, slave, env("TERM", "xterm", "NO_COLOR", "1"), false, true, false},
		{"NO_COLOR empty", slave, slave, env("TERM", "xterm", "NO_COLOR", ""), true, true, false},
		{"dumb", slave, slave, env("TERM", "dumb"), false, true, true},
		{"not a terminal", &buf, &buf, env("TERM", "xterm"), false, false, false},
		{"file", os.Stdin, os.Stdin, env(), false, false, false}, // go test's stdin is /dev/null
	} {
		got := detectTerminal(c.out, c.err, c.getenv)
		if got.colour != c.colour || got.bar != c.bar || got.ascii != c.a {
			t.Errorf("%s: %+v, want colour %v bar %v ascii %v", c.name, got, c.colour, c.bar, c.a)
		}
	}
}

// screen replays what a terminal shows for out: a carriage return goes
// back to the start of the line and overwrites it.
func screen(out string) []string {
	var lines []string
	for _, raw := range strings.Split(out, "\n") {
		var line []rune
		col := 0
		for _, r := range strings.TrimSuffix(raw, "\r") {
			if r == '\r' {
				col = 0
				continue
			}
			if col < len(line) {
				line[col] = r
			} else {
				line = append(line, r)
			}
			col++
		}
		lines = append(lines, strings.TrimRight(string(line), " "))
	}
	return lines
}

// TestReportProgressAndVerboseLinesApart: a log line written while the bar
// is drawn starts on a clean line, and the bar draws again after it.
func TestReportProgressAndVerboseLinesApart(t *testing.T) {
	for _, ascii := range []bool{false, true} {
		var b bytes.Buffer
		c := &console{w: &b, ascii: ascii}
		progress := newProgress(c, false)
		if progress == nil {
			t.Fatal("a console should get a progress bar")
		}
		progress(1, 4, ref.Ref{})
		fmt.Fprintln(c, "GET http://registry.example.com/v2/ [ping] 200 OK")
		fmt.Fprintln(c, "GET http://registry.example.com/v2/app/tags/list [tags] 200 OK")
		out := b.String()
		if !strings.Contains(out, "auditing") {
			t.Fatalf("the bar was not drawn: %q", out)
		}
		for _, l := range screen(out) {
			if strings.Contains(l, "GET") && !strings.HasPrefix(l, "GET") {
				t.Errorf("a log line shares its line with the bar: %q", l)
			}
		}
		// ThemeASCII is "[===>....]", the default "|███   |".
		if got := strings.Contains(out, "[....."); got != ascii {
			t.Errorf("ascii %v: bar %q", ascii, out)
		}
	}
	if newProgress(&bytes.Buffer{}, false) != nil || newProgress(&console{}, true) != nil {
		t.Error("no bar off a terminal or with --quiet")
	}
}

// TestReportOnPseudoTerminal runs the binary with a pseudo-terminal as
// its standard output and error: colour and a bar on a terminal, none with
// NO_COLOR or TERM=dumb, and -v lines never on the bar's line.
func TestReportOnPseudoTerminal(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	seedStories(t, host)
	for _, c := range []struct {
		env    []string
		colour bool
	}{
		{[]string{"TERM=xterm-256color", "NO_COLOR="}, true},
		{[]string{"TERM=xterm-256color", "NO_COLOR=1"}, false},
		{[]string{"TERM=dumb", "NO_COLOR="}, false},
	} {
		master, slave := openPTY(t)
		cmd := exec.Command(binary, "audit", "-v", "--require", "linux/amd64,linux/arm64", host+"/neko/firefox", host+"/aibrix/runtime")
		cmd.Env = append(append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir()), c.env...)
		cmd.Stdout, cmd.Stderr = slave, slave
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		slave.Close()
		var screenBytes bytes.Buffer
		done := make(chan struct{})
		go func() { io.Copy(&screenBytes, master); close(done) }() // ends with EIO when the command exits
		_ = cmd.Wait()
		<-done
		out := screenBytes.String()
		if !strings.Contains(out, "GET http://") || !strings.Contains(out, "images audited") {
			t.Fatalf("%v: no log or report on the terminal:\n%s", c.env, out)
		}
		if got := strings.Contains(out, "\x1b[31mERROR\x1b[0m"); got != c.colour {
			t.Errorf("%v: coloured ERROR %v, want %v", c.env, got, c.colour)
		}
		if strings.Contains(c.env[0], "dumb") && strings.ContainsRune(out, '█') {
			t.Error("TERM=dumb should get an ASCII bar")
		}
		for _, l := range screen(out) {
			if i := strings.Index(l, "GET http"); i > 0 {
				t.Errorf("%v: a log line does not start its line: %q", c.env, l)
			}
		}
	}
}
