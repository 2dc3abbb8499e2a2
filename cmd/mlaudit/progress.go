package main

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/mlaudit/mlaudit/ref"
)

// newProgress returns an audit progress callback that draws a progress bar
// on w when w is a terminal, and nil (no progress) otherwise or when quiet,
// so CI logs stay clean.
func newProgress(w io.Writer, quiet bool) func(done, total int, r ref.Ref) {
	f, ok := w.(*os.File)
	if quiet || !ok || !isatty.IsTerminal(f.Fd()) {
		return nil
	}
	var once sync.Once
	var bar *progressbar.ProgressBar
	return func(done, total int, _ ref.Ref) {
		once.Do(func() {
			bar = progressbar.NewOptions(total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription("auditing"),
				progressbar.OptionShowCount(),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		})
		bar.ChangeMax(total)
		_ = bar.Set(done)
		if done == total {
			_ = bar.Finish()
		}
	}
}
