package main

import (
	"strings"

	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/internal/safetext"
	"github.com/mlaudit/mlaudit/report"
)

// Exit codes, a contract for scripts.
const (
	exitOK         = 0 // nothing at or above --fail-on
	exitFindings   = 1 // findings at or above --fail-on
	exitUsage      = 2 // bad flag, reference, platform or file
	exitUnaudited  = 3 // some target could not be audited
	exitInterrupts = 130
)

// exitError carries an exit code out of a command. A nil err means the
// command already reported what happened.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as bad input (exit 2).
func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	term := detectTerminal(stdout, stderr, os.Getenv)
	stdout, stderr = term.wire(stdout, stderr)
	v := buildVersion()
	root := newRootCmd(v, report.Options{Colour: term.colour, ToolVersion: v.Version})
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		if e.err != nil {
			// Errors quote registries and files: escaped, line by line.
			fmt.Fprintln(stderr, "mlaudit:", safetext.Lines(e.err.Error()))
		}
		return e.code
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "mlaudit: interrupted")
		return exitInterrupts
	}
	// Cobra's own errors (unknown command or flag) are usage errors.
	fmt.Fprintln(stderr, "mlaudit:", safetext.Lines(err.Error()))
	fmt.Fprintln(stderr, "Run 'mlaudit --help' for usage.")
	return exitUsage
}

// newRootCmd builds the commands; reports written to standard output get
// ro (colour when it is a terminal, the version for SARIF).
func newRootCmd(v versionInfo, ro report.Options) *cobra.Command {
	root := &cobra.Command{
		Version: v.String(),
		Use:     "mlaudit",
		Short:   "Audit and repair multi-arch container images",
		Long: `mlaudit finds broken multi-arch images before your users do: an index that
lost an architecture, a per-arch tag holding the wrong one, an index entry
whose image config says another platform.

Start with the demo, which runs on an embedded registry with no network:

  mlaudit demo

Then audit your own images:

  mlaudit audit --require linux/amd64,linux/arm64 ghcr.io/org/app:1.2.3`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newAuditCmd(ro), newMergeCmd(ro), newRepairCmd(), newPolicyCmd(), newCodesCmd(), newDemoCmd(ro), newServeCmd(), newVersionCmd(v))
	root.SetVersionTemplate("mlaudit {{.Version}}\n")
	// cobra's own usage template, with flag help wrapped at 80 columns
	// (pflag's FlagUsagesWrapped), so --help reads on an 80-column
	// terminal and in a CI log.
	root.SetUsageTemplate(strings.ReplaceAll(root.UsageTemplate(), "Flags.FlagUsages ", "Flags.FlagUsagesWrapped 80 "))
	addCompletions(root)
	return root
}

func newVersionCmd(v versionInfo) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print mlaudit's version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "mlaudit", v.String())
			return err
		},
	}
}
