package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/policy"
	"github.com/mlaudit/mlaudit/report"
)

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check a policy file, and explain what it asks of a reference",
	}
	cmd.AddCommand(newPolicyCheckCmd(), newPolicyExplainCmd())
	return cmd
}

func newPolicyCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE",
		Short: "Check a policy file and say what it asks for",
		Long: `Check reads a policy file as audit --policy would, and reports the first
problem with its line (an unknown key, a bad platform, pattern, template,
reference or code), or what the policy asks for. Exit 0 when valid, 2 when
not.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := policy.Load(args[0])
			if err != nil {
				return usageError(err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: valid policy\n", args[0])
			fmt.Fprintf(out, "  targets:   %d\n", len(p.Targets))
			require := platform.FormatList(p.Require)
			if require == "" {
				require = "nothing"
			}
			fmt.Fprintf(out, "  require:   %s by default, %d rule(s)\n", require, len(p.Rules))
			if len(p.PerArch) > 0 {
				fmt.Fprintf(out, "  per-arch:  %v\n", p.PerArch)
			}
			if len(p.Mirrors) > 0 {
				fmt.Fprintf(out, "  mirrors:   %v\n", p.Mirrors)
			}
			if len(p.Ignore)+len(p.Severity) > 0 {
				fmt.Fprintf(out, "  ignores %d code(s), overrides %d severity(ies)\n", len(p.Ignore), len(p.Severity))
			}
			fmt.Fprintf(out, "See what it asks of one image: mlaudit policy explain --policy %s REF\n", args[0])
			return nil
		},
	}
}

func newPolicyExplainCmd() *cobra.Command {
	var pf policyFlags
	var format string
	cmd := &cobra.Command{
		Use:   "explain [--policy FILE] [flags] REF...",
		Short: "Say which rule applies to each reference, and what it requires",
		Long: `Explain prints, for each reference, what an audit with the same policy and
flags would require of it: the rule that applies (or the default), the
platforms required, the tag filters for repository targets, per-arch
templates, the mirror copies it is compared with, and ignored codes and
severity changes. It never contacts a registry.

References are matched however they are written: alpine:3,
docker.io/library/alpine:3 and index.docker.io/library/alpine:3 are one
image, and a rule for docker.io/library/* applies to all three.

The flags audit takes to override a policy (--require, --per-arch,
--compare, --tags, --exclude-tags) override it here too, so a gate's exact
command line can be explained.`,
		Example: `  # Why did the gate not require arm/v7 of this image?
  mlaudit policy explain --policy policy.yaml ghcr.io/org/edge-router:1.4

  # As a script reads it
  mlaudit policy explain --policy policy.yaml --format json \
    alpine:3 ghcr.io/org/app`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := report.ParseFormat(format)
			if err == nil && f != report.Table && f != report.JSON {
				err = fmt.Errorf("%q: an explanation is written as table or json", format)
			}
			if err != nil {
				return usageError(fmt.Errorf("--format: %w", err))
			}
			pol, overrides, err := pf.resolve(cmd)
			if err != nil {
				return usageError(err)
			}
			refs, err := parseRefs("argument", args)
			if err != nil {
				return usageError(err)
			}
			e := report.Explanation{Policy: pf.policy, Overrides: overrides, Rules: len(pol.Rules)}
			for _, r := range refs {
				e.References = append(e.References, pol.For(r))
			}
			return report.RenderExplanation(cmd.OutOrStdout(), f, e)
		},
	}
	pf.add(cmd.Flags(), true)
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}
