package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/deep"
	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/report"
)

type auditFlags struct {
	require     string
	format      string
	output      string
	failOn      string
	targetsFile string
	jobs        int
	registry    registryFlags
	tags        string
	excludeTags string
	signatures  bool
	catalog     []string
	perArch     []string
	compare     []string
	policy      string
	quiet       bool
	deep        bool
	deepFiles   int
}

func newAuditCmd() *cobra.Command {
	f := &auditFlags{}
	cmd := &cobra.Command{
		Use:   "audit [flags] TARGET...",
		Short: "Check multi-arch images for missing architectures and platform mismatches",
		Long: `Audit checks what each image index claims against what each image really
is, and what you require against what is there.

TARGET is one of:
  registry/repo:tag          one tag (an index or a single image)
  registry/repo@sha256:...   one digest
  registry/repo              every tag of the repository (--tags, --exclude-tags)
  registry/                  every tag of every repository its catalog lists
  oci:DIR                    every entry of an OCI layout's index.json
  oci:DIR:TAG                the entry named TAG (org.opencontainers.image.ref.name)

A tag whose name names an architecture (latest-arm64, arm32v7-1.2) is judged
as a single-arch image: it must hold that architecture, and --require does not
apply to it.

Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it;
2 bad flag, reference, platform or file; 3 some target could not be audited
(its error is reported; every other target is still audited).
Credentials come from the Docker config and its credential helpers.`,
		Example: `  # Gate a release: both architectures, nothing wrong
  mlaudit audit --require linux/amd64,linux/arm64 ghcr.io/org/app:1.2.3

  # Every tag of a repository, as JSON for a script
  mlaudit audit --format json --output audit.json ghcr.io/org/app

  # What buildx wrote with --output type=oci,dest=out.tar (unpacked to out/)
  mlaudit audit --require linux/amd64,linux/arm64 oci:out

  # A list of targets, for a sync script
  mlaudit audit --targets-file images.txt --require linux/amd64,linux/arm64`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAudit(cmd, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.require, "require", "", "platforms every image must provide, comma-separated OS/ARCH[/VARIANT] (e.g. linux/amd64,linux/arm64,linux/arm/v7)")
	fl.StringVar(&f.format, "format", "table", "output format: "+strings.Join(report.Formats(), ", "))
	fl.StringVarP(&f.output, "output", "o", "", "write the report to this file instead of standard output")
	fl.StringVar(&f.failOn, "fail-on", "error", "lowest finding severity that exits 1: error, warning or never")
	fl.StringVar(&f.targetsFile, "targets-file", "", "read targets from this file, one a line ('#' starts a comment; - for standard input)")
	fl.IntVar(&f.jobs, "jobs", registry.DefaultJobs, "requests in flight at once to each registry")
	fl.StringVar(&f.tags, "tags", "", "for repository and registry targets, audit only tags matching this regular expression, e.g. '^v[0-9]+\\.[0-9]+\\.[0-9]+$'")
	fl.StringVar(&f.excludeTags, "exclude-tags", "", "for repository and registry targets, skip tags matching this regular expression, e.g. 'rc|nightly'")
	fl.BoolVar(&f.signatures, "include-signature-tags", false, "also audit cosign's sha256-<hex>.sig/.att/.sbom tags (skipped by default)")
	fl.StringArrayVar(&f.perArch, "per-arch", nil, "per-arch tag template with {tag} and {arch}, e.g. '{tag}-{arch}': each tag's per-arch siblings are audited and compared with it (repeatable)")
	fl.StringArrayVar(&f.compare, "compare", nil, "compare each tag with its copy under this mirror prefix, e.g. registry.internal/mirror (repeatable)")
	fl.StringArrayVar(&f.catalog, "catalog", nil, "audit every repository of this registry, as its catalog lists them (same as the target REGISTRY/)")
	fl.StringVar(&f.policy, "policy", "", "read targets, requirements, rules, per-arch templates, mirrors, ignored codes and severities from this YAML file; flags given override it")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress bar on standard error")
	fl.BoolVar(&f.deep, "deep", false, "also read each image's layers and check its executables (ELF, PE) are built for its platform: binary-arch-mismatch")
	fl.IntVar(&f.deepFiles, "deep-files", deep.DefaultLimits.Files, "with --deep, read at most this many executables per image")
	f.registry.add(fl)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}

func runAudit(cmd *cobra.Command, f *auditFlags, args []string) error {
	plan, err := f.resolve(cmd, args)
	if err != nil {
		return usageError(err)
	}
	client, err := registry.New(f.registry.options(cmd, registry.WithJobs(f.jobs), registry.WithTagFilter(plan.filter))...)
	if err != nil {
		return usageError(err)
	}
	for _, t := range plan.targets {
		if _, err := client.ParseTarget(t.Name); err != nil {
			return usageError(err)
		}
	}
	opts := audit.Options{Jobs: 4 * f.jobs, Progress: newProgress(cmd.ErrOrStderr(), f.quiet)}
	if f.deep {
		lim := deep.DefaultLimits
		lim.Files = f.deepFiles
		opts.Deep = &deep.Inspector{Limits: lim, Store: f.registry.store()}
	}
	result := audit.Run(cmd.Context(), client, plan.targets, opts)
	if plan.policy != nil {
		plan.policy.Apply(result)
	}
	if err := writeReport(cmd, f.output, plan.format, result); err != nil {
		return &exitError{code: exitUnaudited, err: err}
	}
	if cmd.Context().Err() != nil {
		return cmd.Context().Err()
	}
	switch {
	case len(result.Errors) > 0:
		return &exitError{code: exitUnaudited}
	case result.Fails(plan.failOn):
		return &exitError{code: exitFindings}
	}
	return nil
}

// writeReport renders the result to --output or standard output. With
// --output, the summary line still goes to standard output for the log.
func writeReport(cmd *cobra.Command, output string, format report.Format, r *audit.Result) error {
	if output == "" {
		return report.Render(cmd.OutOrStdout(), format, r)
	}
	if err := writeFileAtomically(output, func(w io.Writer) error { return report.Render(w, format, r) }); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	fmt.Fprintln(cmd.OutOrStdout(), report.Summary(r), "Report written to", output+".")
	return nil
}
