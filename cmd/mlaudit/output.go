package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/internal/atomicfile"
)

// writeFileAtomically writes a report to the path --output names, so that
// a reader (node exporter's textfile collector, a web server) never sees
// half of it and a failed run leaves the previous report alone. A symbolic
// link stays a link (its target is replaced), and a device or FIFO
// (/dev/stdout, a pipe to another process) is written directly, never
// replaced by a regular file.
func writeFileAtomically(path string, write func(io.Writer) error) error {
	return atomicfile.WriteThrough(path, 0o644, write)
}

// checkOutput checks, before anything is read, that the command's
// --output (when it has the flag and it is given) can be written, so that
// a report with nowhere to go fails at once (exit 2) rather than after the
// whole audit (exit 3).
func checkOutput(cmd *cobra.Command) error {
	fl := cmd.Flags().Lookup("output")
	if fl == nil || fl.Value.String() == "" {
		return nil
	}
	if err := atomicfile.Check(fl.Value.String()); err != nil {
		return fmt.Errorf("--output %s: %w", fl.Value.String(), err)
	}
	return nil
}
