package main

import (
	"io"

	"github.com/mlaudit/mlaudit/internal/atomicfile"
)

// writeFileAtomically writes a report so that a reader (node exporter's
// textfile collector, a web server) never sees half of it, and a failed
// run leaves the previous report alone.
func writeFileAtomically(path string, write func(io.Writer) error) error {
	return atomicfile.Write(path, 0o644, write)
}
