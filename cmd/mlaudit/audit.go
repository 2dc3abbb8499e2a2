package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/deep"
	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/report"
)

type auditFlags struct {
	policyFlags
	reportFlags
	jobs       int
	registry   registryFlags
	signatures bool
	backups    bool
	targetFlags
	quiet       bool
	deep        bool
	deepFiles   int
	pushGateway string
	pushJob     string
	shard       string
	// report is how reports are written: colour and version from the
	// terminal and the build, All and SARIFFile from the flags.
	report report.Options
}

func newAuditCmd(ro report.Options) *cobra.Command {
	f := &auditFlags{report: ro}
	cmd := &cobra.Command{
		Use:   "audit [flags] TARGET...",
		Short: "Check multi-arch images for missing and mislabelled platforms",
		Long: `Audit checks what each image index claims against what each image really
is, and what you require against what is there.

TARGET is one of:
  registry/repo:tag          one tag (an index or a single image)
  registry/repo@sha256:...   one digest
  registry/repo              every tag of the repository (--tags, --exclude-tags
                             choose)
  registry/                  every tag of every repository its catalog lists
  oci:DIR                    every entry of an OCI layout's index.json
  oci:DIR:TAG                the entry named TAG (its ref.name annotation)
  oci-archive:FILE[:NAME]    an OCI archive (buildx --output type=oci,dest=F),
                             read in place; FILE - is standard input
  docker-archive:FILE[:REF]  a docker save file (classic or containerd store)
  docker-daemon:REF          an image in the local Docker engine ($DOCKER_HOST)

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

  # What buildx wrote with --output type=oci,dest=out.tar, before pushing it
  mlaudit audit --deep --require linux/amd64,linux/arm64 oci-archive:out.tar

  # A list of targets, for a sync script
  mlaudit audit --targets-file images.txt --require linux/amd64,linux/arm64

  # The first of three shards of a registry; mlaudit merge combines them
  mlaudit audit --shard 0/3 --format json --output shard-0.json \
    registry.example.com/`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAudit(cmd, f, args)
		},
	}
	fl := cmd.Flags()
	f.policyFlags.add(fl, true)
	f.reportFlags.add(fl)
	fl.IntVar(&f.jobs, "jobs", registry.DefaultJobs, "requests in flight at once to each registry")
	fl.BoolVar(&f.signatures, "include-signature-tags", false, "also audit cosign's sha256-<hex>.sig/.att/.sbom tags and OCI referrers tags sha256-<hex> (skipped by default)")
	fl.BoolVar(&f.backups, "include-backup-tags", false, "also audit the backup tags repair --backup-tag wrote (tags with a part named \"backup\"; skipped by default)")
	f.targetFlags.add(fl, "audit")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress bar on standard error")
	fl.BoolVar(&f.deep, "deep", false, "also read each image's layers and check its executables (ELF, PE) are built for its platform: binary-arch-mismatch")
	fl.IntVar(&f.deepFiles, "deep-files", deep.DefaultLimits.Files, "with --deep, read at most this many executables per image")
	fl.StringVar(&f.pushGateway, "push-gateway", "", "also push the metrics to this Prometheus Pushgateway (e.g. http://pushgateway:9091), replacing the job's group: for a CronJob")
	fl.StringVar(&f.pushJob, "push-job", DefaultPushJob, "with --push-gateway, the job label to push under")
	fl.StringVar(&f.shard, "shard", "", "audit only the repositories of shard I of N, e.g. 0/3 (from 0); /N takes I from $JOB_COMPLETION_INDEX (a Kubernetes Indexed Job). Combine the shards' JSON reports with mlaudit merge")
	f.registry.add(fl)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}

func runAudit(cmd *cobra.Command, f *auditFlags, args []string) error {
	out, err := f.reportFlags.parse(f.report)
	if err != nil {
		return usageError(err)
	}
	if f.deepFiles < 1 {
		return usageError(fmt.Errorf("--deep-files %d: must be at least 1", f.deepFiles))
	}
	pol, _, err := f.policyFlags.resolve(cmd)
	if err != nil {
		return usageError(err)
	}
	refs, err := f.targetFlags.refs(cmd, args, pol)
	if err != nil {
		return usageError(err)
	}
	// A destination that cannot be written is refused before any request.
	if err := checkOutput(cmd); err != nil {
		return usageError(err)
	}
	if err := checkPushGateway(f.pushGateway); err != nil {
		return usageError(err)
	}
	shard, err := parseShardFlag(f.shard, os.LookupEnv)
	if err != nil {
		return usageError(err)
	}
	filter := registry.TagFilter{Include: pol.Tags, Exclude: pol.ExcludeTags, Signatures: f.signatures, Backups: f.backups}
	sess, err := f.registry.open(cmd, registry.WithJobs(f.jobs), registry.WithTagFilter(filter))
	if err != nil {
		return usageError(err)
	}
	client, err := sess.client()
	if err != nil {
		return usageError(err)
	}
	defer client.Close()
	for _, r := range refs {
		if err := client.CheckTarget(r); err != nil {
			return usageError(err)
		}
	}
	// One token for many repositories, on registries that issue them.
	client.Expect(refs...)
	opts := pol.AuditOptions(audit.Options{Jobs: 4 * f.jobs, Progress: newProgress(cmd.ErrOrStderr(), f.quiet), Shard: shard})
	if f.deep {
		lim := deep.DefaultLimits
		lim.Files = f.deepFiles
		opts.Deep = &deep.Inspector{Limits: lim, Store: sess.cache}
	}
	result := audit.Run(cmd.Context(), client, targets(refs, pol, f.deep), opts)
	adviseResult(cmd, result)
	if err := writeReport(cmd, out.output, out.format, result, out.options); err != nil {
		return &exitError{code: exitUnaudited, err: err}
	}
	if f.pushGateway != "" {
		if err := pushMetrics(f.pushGateway, f.pushJob, result); err != nil {
			return &exitError{code: exitUnaudited, err: err}
		}
	}
	return auditExit(cmd.Context(), result, out.failOn)
}

// auditExit is the exit of a command that reports an audit (audit,
// merge): 3 when some target could not be audited, else 1 when findings
// reach --fail-on, else 0.
func auditExit(ctx context.Context, r *audit.Result, failOn failOn) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	switch {
	case len(r.Errors) > 0:
		return &exitError{code: exitUnaudited}
	case failOn.fails(r):
		return &exitError{code: exitFindings}
	}
	return nil
}

// jobIndexVar is the variable a Kubernetes Indexed Job sets to each
// pod's index (0..completions-1).
const jobIndexVar = "JOB_COMPLETION_INDEX"

// parseShardFlag reads --shard: "" for the whole audit, I/N, or /N with
// I from $JOB_COMPLETION_INDEX.
func parseShardFlag(s string, env func(string) (string, bool)) (audit.Shard, error) {
	if s == "" {
		return audit.Shard{}, nil
	}
	given := "--shard"
	if strings.HasPrefix(s, "/") {
		index, ok := env(jobIndexVar)
		if !ok || index == "" {
			return audit.Shard{}, fmt.Errorf("--shard %s: $%s is not set (a Kubernetes Indexed Job sets it); give the index, e.g. --shard 0%s", s, jobIndexVar, s)
		}
		given = fmt.Sprintf("--shard %s (%s=%s)", s, jobIndexVar, index)
		s = index + s
	}
	shard, err := audit.ParseShard(s)
	if err != nil {
		return audit.Shard{}, fmt.Errorf("%s: %w", given, err)
	}
	return shard, nil
}

// writeReport renders the result to --output or standard output. With
// --output, the summary line still goes to standard output for the log,
// and the file gets no terminal colours.
func writeReport(cmd *cobra.Command, output string, format report.Format, r *audit.Result, o report.Options) error {
	if output == "" {
		return report.RenderWith(cmd.OutOrStdout(), format, r, o)
	}
	o.Colour = false
	if err := writeFileAtomically(output, func(w io.Writer) error { return report.RenderWith(w, format, r, o) }); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	fmt.Fprintln(cmd.OutOrStdout(), report.Summary(r), "Report written to", output+".")
	return nil
}
