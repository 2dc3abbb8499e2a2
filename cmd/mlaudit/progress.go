package main

import (
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/mlaudit/mlaudit/ref"
)

// terminal is what the command knows of where it writes: whether standard
// output takes colour and standard error a progress bar. The command
// decides it once, in run, from the file descriptors and the environment.
type terminal struct {
	// colour: standard output is a terminal, NO_COLOR is unset or empty,
	// TERM is not dumb.
	colour bool
	// bar: standard error is a terminal; ascii: its TERM is dumb, so the
	// bar is drawn in ASCII.
	bar, ascii bool
}

// detectTerminal reads the terminal facts of stdout and stderr (only an
// *os.File can be a terminal) and of the environment getenv reads.
func detectTerminal(stdout, stderr io.Writer, getenv func(string) string) terminal {
	dumb := getenv("TERM") == "dumb"
	return terminal{
		colour: isTerminal(stdout) && getenv("NO_COLOR") == "" && !dumb,
		bar:    isTerminal(stderr),
		ascii:  dumb,
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// wire returns the writers the commands get: standard error as a console
// that keeps log lines and the progress bar apart (when it is a terminal),
// standard output clearing the bar before it writes. Whether reports are
// coloured is t.colour, given to the commands as report options.
func (t terminal) wire(stdout, stderr io.Writer) (io.Writer, io.Writer) {
	if t.bar {
		c := &console{w: stderr, ascii: t.ascii}
		stderr = c
		stdout = clearing{c: c, w: stdout}
	}
	return stdout, stderr
}

// console is a terminal's standard error, shared by the progress bar and
// the lines logged to it (-v, notices, errors): before a line is written,
// the bar's line is blanked and the cursor returned to its start, so a log
// line never shares a line with the bar; the bar draws itself again at its
// next update, below.
type console struct {
	mu    sync.Mutex
	w     io.Writer
	ascii bool
	// drawn is how many columns of the bar are on the current line.
	drawn int
}

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
	return c.w.Write(p)
}

func (c *console) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
}

func (c *console) clearLocked() {
	if c.drawn > 0 {
		_, _ = io.WriteString(c.w, "\r"+strings.Repeat(" ", c.drawn)+"\r")
		c.drawn = 0
	}
}

// barWriter is what the bar draws with; it keeps count of what is drawn.
type barWriter struct{ c *console }

func (b barWriter) Write(p []byte) (int, error) {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	s := string(p)
	if i := strings.LastIndexAny(s, "\r\n"); i >= 0 {
		b.c.drawn, s = 0, s[i+1:]
	}
	b.c.drawn += utf8.RuneCountInString(s)
	return b.c.w.Write(p)
}

// clearing is standard output on the terminal the bar is drawn on: the
// report must not start on the bar's line either.
type clearing struct {
	c *console
	w io.Writer
}

func (o clearing) Write(p []byte) (int, error) {
	o.c.clear()
	return o.w.Write(p)
}

// newProgress returns an audit progress callback that draws a progress bar
// on w when w is a terminal's console (see [terminal.wire]), in ASCII on a
// dumb terminal; and nil (no progress) otherwise or when quiet, so CI logs
// stay clean.
func newProgress(w io.Writer, quiet bool) func(done, total int, r ref.Ref) {
	c, ok := w.(*console)
	if quiet || !ok {
		return nil
	}
	var once sync.Once
	var bar *progressbar.ProgressBar
	return func(done, total int, _ ref.Ref) {
		once.Do(func() {
			opts := []progressbar.Option{
				progressbar.OptionSetWriter(barWriter{c}),
				progressbar.OptionSetDescription("auditing"),
				progressbar.OptionShowCount(),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100 * time.Millisecond),
				progressbar.OptionClearOnFinish(),
			}
			if c.ascii {
				opts = append(opts, progressbar.OptionSetTheme(progressbar.ThemeASCII))
			}
			bar = progressbar.NewOptions(total, opts...)
		})
		bar.ChangeMax(total)
		_ = bar.Set(done)
		if done == total {
			_ = bar.Finish()
		}
	}
}
