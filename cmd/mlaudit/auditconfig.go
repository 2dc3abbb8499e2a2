package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/policy"
	"github.com/mlaudit/mlaudit/ref"
)

// policyFlags are the flags that say what is required of images: a policy
// file, and flags that override it. audit and policy explain share them.
type policyFlags struct {
	policy      string
	require     string
	perArch     []string
	compare     []string
	signatures  string
	tags        string
	excludeTags string
}

// add adds the flags; withCompare adds --compare, which only audits use.
func (p *policyFlags) add(fl *pflag.FlagSet, withCompare bool) {
	fl.StringVar(&p.policy, "policy", "", "read targets, requirements, rules, per-arch templates, mirrors, ignored codes and severities from this YAML file; flags given override it")
	fl.StringVar(&p.require, "require", "", "platforms every image must provide, comma-separated OS/ARCH[/VARIANT] (e.g. linux/amd64,linux/arm64,linux/arm/v7)")
	fl.StringArrayVar(&p.perArch, "per-arch", nil, "per-arch tag template with {tag} and {arch}, e.g. '{tag}-{arch}': each tag's per-arch siblings are audited and compared with it (repeatable)")
	if withCompare {
		fl.StringArrayVar(&p.compare, "compare", nil, "compare each tag with its copy under this mirror prefix, e.g. registry.internal/mirror (repeatable): platforms, images, signatures and referrers")
		fl.StringVar(&p.signatures, "require-signatures", "", "which manifests of each tag must be signed (cosign tag or OCI 1.1 signature referrer), else unsigned: index, children or all")
	}
	fl.StringVar(&p.tags, "tags", "", "for repository and registry targets, audit only tags matching this regular expression, e.g. '^v[0-9]+\\.[0-9]+\\.[0-9]+$'")
	fl.StringVar(&p.excludeTags, "exclude-tags", "", "for repository and registry targets, skip tags matching this regular expression, e.g. 'rc|nightly'")
}

// resolve returns the policy in effect: the file's (or an empty one), with
// every flag given on the command line overriding its part, and the flags
// that did. --require replaces the policy's rules as well as its default.
func (p *policyFlags) resolve(cmd *cobra.Command) (pol *policy.Policy, overrides []string, err error) {
	pol = &policy.Policy{}
	if p.policy != "" {
		if pol, err = policy.Load(p.policy); err != nil {
			return nil, nil, err
		}
	}
	changed := func(name string) bool {
		if cmd.Flags().Changed(name) {
			overrides = append(overrides, "--"+name)
			return true
		}
		return false
	}
	if changed("require") || p.policy == "" {
		if pol.Require, err = platform.ParseList(p.require); err != nil {
			return nil, nil, fmt.Errorf("--require: %w", err)
		}
		pol.Rules = nil
	}
	if changed("per-arch") {
		for _, t := range p.perArch {
			if err := platform.CheckTemplate(t); err != nil {
				return nil, nil, fmt.Errorf("--per-arch: %w", err)
			}
		}
		pol.PerArch = p.perArch
	}
	if cmd.Flags().Lookup("compare") != nil && changed("compare") {
		pol.Mirrors = nil
		for _, c := range p.compare {
			m, err := ref.ParsePrefix(c)
			if err != nil {
				return nil, nil, fmt.Errorf("--compare: %w", err)
			}
			pol.Mirrors = append(pol.Mirrors, m)
		}
	}
	if cmd.Flags().Lookup("require-signatures") != nil && changed("require-signatures") {
		if pol.RequireSignatures, err = audit.ParseSignatures(p.signatures); err != nil {
			return nil, nil, fmt.Errorf("--require-signatures %w", err)
		}
	}
	if changed("tags") {
		if pol.Tags, err = compile("--tags", p.tags); err != nil {
			return nil, nil, err
		}
	}
	if changed("exclude-tags") {
		if pol.ExcludeTags, err = compile("--exclude-tags", p.excludeTags); err != nil {
			return nil, nil, err
		}
	}
	return pol, overrides, nil
}

// targets turns references into audit targets under pol.
func targets(refs []ref.Ref, pol *policy.Policy, deep bool) []audit.Target {
	out := make([]audit.Target, 0, len(refs))
	for _, r := range refs {
		out = append(out, audit.Target{Ref: r, RequireFor: pol.RequireFor, PerArch: pol.PerArch, Mirrors: pol.Mirrors, Deep: deep, RequireSignatures: pol.RequireSignatures})
	}
	return out
}

// targetFlags are the flags that name targets beside the arguments.
type targetFlags struct {
	targetsFile string
	catalog     []string
}

func (f *targetFlags) add(fl *pflag.FlagSet, verb string) {
	fl.StringVar(&f.targetsFile, "targets-file", "", "read targets from this file, one a line ('#' starts a comment; - for standard input)")
	fl.StringArrayVar(&f.catalog, "catalog", nil, verb+" every repository of this registry, as its catalog lists them (same as the target REGISTRY/)")
}

// refs gathers targets: the arguments, --catalog and --targets-file; the
// policy's targets when none of those name any.
func (f *targetFlags) refs(cmd *cobra.Command, args []string, pol *policy.Policy) ([]ref.Ref, error) {
	refs, err := parseRefs("argument", args)
	if err != nil {
		return nil, err
	}
	for _, reg := range f.catalog {
		host := strings.TrimSuffix(strings.TrimSpace(reg), "/")
		if host == "" || strings.Contains(host, "/") {
			return nil, fmt.Errorf("--catalog %q: give a registry host, e.g. registry.example.com", reg)
		}
		r, err := ref.Parse(host + "/")
		if err != nil {
			return nil, fmt.Errorf("--catalog: %w", err)
		}
		if !r.IsRegistry() {
			return nil, fmt.Errorf("--catalog %q: give a registry host, e.g. registry.example.com", reg)
		}
		refs = append(refs, r)
	}
	if f.targetsFile != "" {
		fromFile, err := readTargetsFile(cmd, f.targetsFile)
		if err != nil {
			return nil, err
		}
		refs = append(refs, fromFile...)
	}
	if len(refs) == 0 {
		refs = pol.Targets
	}
	if err := checkStdin(refs, f.targetsFile); err != nil {
		return nil, err
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("no targets: name at least one, e.g. %s ghcr.io/org/app:1.0, or list them in a --policy file (see --help)", cmd.CommandPath())
	}
	return refs, nil
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
