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
		Use:   "codes [CODE...]",
		Short: "List finding codes: severity, meaning, why it matters, the fix",
		Long: `Codes lists every finding code mlaudit reports, or only the codes named
(mlaudit codes missing-platform). Codes are a stable contract: scripts and
dashboards may match on them. The same text is the help of each rule in
SARIF reports.`,
		Args: func(_ *cobra.Command, args []string) error {
			_, err := pickCodes(args)
			return err
		},
		ValidArgsFunction: completeCodes,
		RunE: func(cmd *cobra.Command, args []string) error {
			picked, err := pickCodes(args)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch format {
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(picked)
			case "text":
				for _, c := range picked {
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

// pickCodes is the codes named, in the order given, or every code when
// none is; a name that is no code is a usage error that lists them.
func pickCodes(names []string) ([]audit.CodeInfo, error) {
	if len(names) == 0 {
		return audit.Codes(), nil
	}
	known := map[string]audit.CodeInfo{}
	var all []string
	for _, c := range audit.Codes() {
		known[string(c.Code)] = c
		all = append(all, string(c.Code))
	}
	var out []audit.CodeInfo
	for _, n := range names {
		c, ok := known[strings.ToLower(strings.TrimSpace(n))]
		if !ok {
			return nil, usageError(fmt.Errorf("unknown code %q: use one of %s", n, strings.Join(all, ", ")))
		}
		out = append(out, c)
	}
	return out, nil
}
