package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/policy"
	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/report"
)

// auditPlan is what an audit command line asks for, with --policy merged
// in: flags given on the command line win over the policy file.
type auditPlan struct {
	targets []audit.Target
	filter  registry.TagFilter
	policy  *policy.Policy
	format  report.Format
	failOn  audit.FailOn
}

func (f *auditFlags) resolve(cmd *cobra.Command, args []string) (*auditPlan, error) {
	plan := &auditPlan{}
	var err error
	if plan.format, err = report.ParseFormat(f.format); err != nil {
		return nil, err
	}
	if plan.failOn, err = audit.ParseFailOn(f.failOn); err != nil {
		return nil, err
	}
	pol := &policy.Policy{}
	if f.policy != "" {
		if pol, err = policy.Load(f.policy); err != nil {
			return nil, err
		}
		plan.policy = pol
	}
	changed := cmd.Flags().Changed

	template := audit.Target{PerArch: pol.PerArch, Mirrors: pol.Mirrors, Rules: pol.RequireFor}
	if changed("require") || f.policy == "" {
		require, err := platform.ParseList(f.require)
		if err != nil {
			return nil, fmt.Errorf("--require: %w", err)
		}
		template.Require, template.Rules = require, nil
	}
	if changed("per-arch") {
		template.PerArch = f.perArch
	}
	if changed("compare") {
		template.Mirrors = f.compare
	}
	for _, t := range template.PerArch {
		if err := platform.CheckTemplate(t); err != nil {
			return nil, err
		}
	}

	plan.filter = registry.TagFilter{Include: pol.Tags, Exclude: pol.ExcludeTags, Signatures: f.signatures}
	if changed("tags") {
		if plan.filter.Include, err = compile("--tags", f.tags); err != nil {
			return nil, err
		}
	}
	if changed("exclude-tags") {
		if plan.filter.Exclude, err = compile("--exclude-tags", f.excludeTags); err != nil {
			return nil, err
		}
	}

	names, err := f.targetNames(cmd, args, pol)
	if err != nil {
		return nil, err
	}
	if f.deepFiles < 1 {
		return nil, fmt.Errorf("--deep-files %d: must be at least 1", f.deepFiles)
	}
	template.Deep = f.deep
	for _, n := range names {
		t := template
		t.Name = n
		plan.targets = append(plan.targets, t)
	}
	return plan, nil
}

// targetNames gathers targets: the arguments, --catalog and
// --targets-file; the policy's targets when none of those name any.
func (f *auditFlags) targetNames(cmd *cobra.Command, args []string, pol *policy.Policy) ([]string, error) {
	names := append([]string(nil), args...)
	for _, reg := range f.catalog {
		names = append(names, strings.TrimSuffix(reg, "/")+"/")
	}
	if f.targetsFile != "" {
		fromFile, err := readTargetsFile(cmd, f.targetsFile)
		if err != nil {
			return nil, err
		}
		names = append(names, fromFile...)
	}
	if len(names) == 0 {
		names = pol.Targets
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no targets: name at least one, e.g. mlaudit audit ghcr.io/org/app:1.0, or list them in a --policy file (see --help)")
	}
	return names, nil
}

func compile(flag, expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("%s %q: not a regular expression: %v", flag, expr, err)
	}
	return re, nil
}

func readTargetsFile(cmd *cobra.Command, path string) ([]string, error) {
	var r io.Reader = cmd.InOrStdin()
	name := "standard input"
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--targets-file: %w", err)
		}
		defer file.Close()
		r, name = file, path
	}
	return audit.ReadTargets(r, name)
}
