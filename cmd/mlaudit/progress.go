package main

import (
	"fmt"
	"io"
	"os"

	"github.com/mattn/go-isatty"
)

// newProgress returns a progress callback that rewrites one status line on
// w when w is a terminal, and nil (no progress) otherwise, so CI logs stay
// clean.
func newProgress(w io.Writer, quiet bool) func(done, total int, ref string) {
	f, ok := w.(*os.File)
	if quiet || !ok || !isatty.IsTerminal(f.Fd()) {
		return nil
	}
	return func(done, total int, ref string) {
		if done == total {
			fmt.Fprint(w, "\r\033[K")
			return
		}
		fmt.Fprintf(w, "\r\033[K[%d/%d] %s", done, total, ref)
	}
}
