package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/policy"
)

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Work with policy files",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Check a policy file and say what it asks for",
		Long: `Check reads a policy file as audit --policy would, and reports the first
problem with its line (an unknown key, a bad platform, pattern, template or
code), or what the policy asks for. Exit 0 when valid, 2 when not.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := policy.Load(args[0])
			if err != nil {
				return usageError(err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: valid policy\n", args[0])
			fmt.Fprintf(out, "  targets:   %d\n", len(p.Targets))
			fmt.Fprintf(out, "  require:   %s by default, %d rule(s)\n", formatList(p.Require), len(p.Rules))
			if len(p.PerArch) > 0 {
				fmt.Fprintf(out, "  per-arch:  %v\n", p.PerArch)
			}
			if len(p.Mirrors) > 0 {
				fmt.Fprintf(out, "  mirrors:   %v\n", p.Mirrors)
			}
			if len(p.Ignore)+len(p.Severity) > 0 {
				fmt.Fprintf(out, "  ignores %d code(s), overrides %d severity(ies)\n", len(p.Ignore), len(p.Severity))
			}
			return nil
		},
	})
	return cmd
}

func formatList(list []platform.Platform) string {
	if len(list) == 0 {
		return "nothing"
	}
	s := ""
	for i, p := range list {
		if i > 0 {
			s += ","
		}
		s += platform.Format(&p)
	}
	return s
}
