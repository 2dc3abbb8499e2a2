package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/internal/demo"
	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/report"
)

// newDemoCmd is the demo; its reports are written with ro.
func newDemoCmd(ro report.Options) *cobra.Command {
	var format string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Audit the failures mlaudit exists for, on an embedded registry",
		Long: `Demo starts an in-process registry on a loopback port, seeds it with the
failures mlaudit exists for (a per-arch tag holding the wrong architecture, a
list that lost linux/amd64, arm-prefixed legacy names, a buildx OCI layout
whose arm64 entry is amd64, and index shapes clients trip over), audits them
and prints the report. Then it repairs the list that lost linux/amd64 from
its per-arch tags and audits it again. No network, no set-up.

With --format json it prints the audit of the stories only.

It exits 0 when the demo ran, whatever it found: the findings are the point.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := report.ParseFormat(format)
			if err != nil {
				return usageError(err)
			}
			opts := demo.Options{Format: f, Report: ro}
			if verbose {
				opts.Registry = append(opts.Registry, registry.WithLog(cmd.ErrOrStderr()))
			}
			_, err = demo.Run(cmd.Context(), cmd.OutOrStdout(), opts)
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: "+strings.Join(report.Formats(), ", "))
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log every HTTP request of the audit to standard error")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}
