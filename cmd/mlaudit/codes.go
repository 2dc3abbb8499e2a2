package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/report"
)

func newCodesCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "codes",
		Short: "List every finding code: severity, what it means, why it matters, how to fix it",
		Long: `Codes lists every finding code mlaudit reports. Codes are a stable contract:
scripts and dashboards may match on them. The same text is the help of
each rule in SARIF reports.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			switch format {
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(audit.Codes())
			case "text":
				for _, c := range audit.Codes() {
					fmt.Fprintf(out, "%s (%s)\n", c.Code, c.Severity)
					for _, part := range []struct{ label, text string }{{"what: ", c.Summary}, {"why:  ", c.Why}, {"fix:  ", c.Hint}} {
						for i, l := range report.Wrap(part.text, 70) {
							prefix := "  " + part.label
							if i > 0 {
								prefix = strings.Repeat(" ", len(prefix))
							}
							fmt.Fprintln(out, prefix+l)
						}
					}
					fmt.Fprintln(out)
				}
				return nil
			}
			return usageError(fmt.Errorf("--format %q: use text or json", format))
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}
