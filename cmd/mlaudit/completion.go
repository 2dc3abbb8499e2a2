package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/report"
)

// Shell completion (mlaudit completion bash|zsh|fish|powershell, cobra's)
// completes commands and flags; addCompletions adds the values of the
// flags that take one of a known set, on every command that has them.

// commonPlatforms are the platforms --require completes, the ones images
// are commonly built for.
var commonPlatforms = []string{
	"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/386",
	"linux/ppc64le", "linux/s390x", "linux/riscv64", "windows/amd64", "windows/arm64",
}

// formatsOf is the --format values of each command that has the flag.
func formatsOf(cmd *cobra.Command) []string {
	switch cmd.Name() {
	case "audit", "demo", "merge":
		return report.Formats()
	case "codes":
		return []string{"text", "json"}
	default: // repair, policy explain
		return []string{"table", "json"}
	}
}

// addCompletions registers value completion for --format, --fail-on,
// --require and --policy on root and every command below it.
func addCompletions(root *cobra.Command) {
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		complete := func(flag string, f cobra.CompletionFunc) {
			if cmd.Flags().Lookup(flag) != nil {
				_ = cmd.RegisterFlagCompletionFunc(flag, f) // only fails when already registered
			}
		}
		formats := formatsOf(cmd)
		complete("format", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
		complete("fail-on", cobra.FixedCompletions([]string{"error\texit 1 on errors", "warning\texit 1 on warnings or errors", "never\tnever exit 1 for findings"}, cobra.ShellCompDirectiveNoFileComp))
		complete("require", completePlatforms)
		complete("policy", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
		})
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root)
}

// completePlatforms completes the last of a comma-separated list of
// platforms, offering the common ones not listed yet.
func completePlatforms(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	prefix, last := "", toComplete
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		prefix, last = toComplete[:i+1], toComplete[i+1:]
	}
	listed := map[string]bool{}
	for _, p := range strings.Split(prefix, ",") {
		listed[strings.TrimSpace(p)] = true
	}
	var out []string
	for _, p := range commonPlatforms {
		if !listed[p] && strings.HasPrefix(p, last) {
			out = append(out, prefix+p)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// completeCodes completes the arguments of mlaudit codes: the codes not
// named yet, each with its summary.
func completeCodes(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	named := map[string]bool{}
	for _, a := range args {
		named[a] = true
	}
	var out []string
	for _, c := range audit.Codes() {
		if !named[string(c.Code)] && strings.HasPrefix(string(c.Code), toComplete) {
			out = append(out, string(c.Code)+"\t"+c.Summary)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
