package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/report"
)

type mergeFlags struct {
	reportFlags
	// report is colour and version from the terminal and the build.
	report report.Options
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
	f.reportFlags.add(fl)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}

func runMerge(cmd *cobra.Command, f *mergeFlags, files []string) error {
	out, err := f.reportFlags.parse(f.report)
	if err != nil {
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
	if err := writeReport(cmd, out.output, out.format, result, out.options); err != nil {
		return &exitError{code: exitUnaudited, err: err}
	}
	return auditExit(cmd.Context(), result, out.failOn)
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
