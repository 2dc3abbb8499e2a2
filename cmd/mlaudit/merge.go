package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/report"
)

type mergeFlags struct {
	format    string
	output    string
	failOn    string
	show      string
	sarifFile string
	report    report.Options
}

func newMergeCmd(ro report.Options) *cobra.Command {
	f := &mergeFlags{report: ro}
	cmd := &cobra.Command{
		Use:   "merge [flags] FILE...",
		Short: "Combine the JSON reports of an audit's shards into one report",
		Long: `Merge reads JSON reports (mlaudit audit --format json) and writes them as
one report in any format: the shards of one audit (--shard 0/N .. N-1/N),
each exactly once, or whole audits that share no image. One file is
rewritten in another format.

Images, findings and errors are listed repository by repository, in name
order; stats add up, with the earliest start and the longest duration.

Exit codes, as for audit: 0 no finding at or above --fail-on; 1 findings at
or above it; 2 bad flag or file, a shard missing or given twice; 3 some
target could not be audited in some shard.`,
		Example: `  # Three shards of a registry, as one HTML page
  mlaudit merge --format html --output audit.html \
    shard-0.json shard-1.json shard-2.json`,
		Args: cobra.MinimumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"json"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMerge(cmd, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "table", "output format: "+strings.Join(report.Formats(), ", "))
	fl.StringVarP(&f.output, "output", "o", "", "write the report to this file instead of standard output")
	fl.StringVar(&f.failOn, "fail-on", "error", "lowest finding severity that exits 1: error, warning or never")
	fl.StringVar(&f.show, "show", "failing", "which images the report shows in full: failing or all")
	fl.StringVar(&f.sarifFile, "sarif-file", "", "with --format sarif, place results at this file of your repository, line 1")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}

func runMerge(cmd *cobra.Command, f *mergeFlags, files []string) error {
	format, err := report.ParseFormat(f.format)
	if err != nil {
		return usageError(fmt.Errorf("--format: %w", err))
	}
	failOn, err := parseFailOn(f.failOn)
	if err != nil {
		return usageError(err)
	}
	if err := reportOptions(&f.report, f.show, f.sarifFile); err != nil {
		return usageError(err)
	}
	if err := checkOutput(cmd); err != nil {
		return usageError(err)
	}
	parts := make([]audit.Part, 0, len(files))
	for _, file := range files {
		r, err := readReport(file)
		if err != nil {
			return usageError(err)
		}
		parts = append(parts, audit.Part{Name: file, Result: r})
	}
	result, err := audit.Merge(parts...)
	if err != nil {
		return usageError(err)
	}
	if err := writeReport(cmd, f.output, format, result, f.report); err != nil {
		return &exitError{code: exitUnaudited, err: err}
	}
	return auditExit(cmd.Context(), result, failOn)
}

// readReport reads one JSON report; errors name the file.
func readReport(file string) (*audit.Result, error) {
	fh, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	if st, err := fh.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s: a directory, not a JSON report", file)
	}
	r, err := report.ReadJSON(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return r, nil
}
