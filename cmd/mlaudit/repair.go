package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/repair"
	"github.com/mlaudit/mlaudit/report"
)

// exitChanged: the target changed between plan and apply; nothing moved.
const exitChanged = 4

type repairFlags struct {
	from          []string
	perArch       []string
	require       string
	fix           bool
	preferSources bool
	to            string
	apply         bool
	backupTag     string
	format        string
	registry      registryFlags
}

func newRepairCmd() *cobra.Command {
	f := &repairFlags{}
	cmd := &cobra.Command{
		Use:   "repair [flags] TARGET",
		Short: "Rebuild a correct multi-arch index for a tag, from per-arch tags and other images",
		Long: `Repair makes TARGET (a tag that holds an index, a single image, or nothing
yet) a correct multi-arch index: it keeps the entries that are right, adds
missing platforms from --from images and --per-arch sibling tags, and with
--fix mends wrong entries. Each new entry's platform is read from its image
config, never from a tag name. A source whose tag names an architecture its
image is not (latest-aarch64 holding amd64) is rejected.

It shows the plan and writes nothing unless --apply is given. With --apply it
pushes the children and the new index by digest, checks that TARGET still
holds what the plan was made from (exit 4 if not: nothing moved), tags a
backup of the old index if --backup-tag is given, moves the tag, and audits
the result. It never deletes anything. If the result would not hold every
--require'd platform, or would still be wrong, it exits 1 and pushes nothing.

Exit codes: 0 repaired, or the plan is clean; 1 the plan cannot satisfy the
requirements; 2 bad flag or reference; 3 registry error; 4 TARGET changed
since the plan was made.`,
		Example: `  # An arm64 job overwrote the list: rebuild it from the per-arch tags
  mlaudit repair --per-arch '{tag}-{arch}' --require linux/amd64,linux/arm64 \
    ghcr.io/org/runtime:v0.3.0

  # ...and push it, keeping the old list under a backup tag
  mlaudit repair --per-arch '{tag}-{arch}' --require linux/amd64,linux/arm64 \
    --backup-tag '{tag}-backup-{date}' --apply ghcr.io/org/runtime:v0.3.0

  # One multi-arch tag from legacy per-arch names
  mlaudit repair --from ghcr.io/org/app:amd64-1.0 --from ghcr.io/org/app:arm64v8-1.0 \
    --require linux/amd64,linux/arm64 ghcr.io/org/app:1.0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRepair(cmd, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.from, "from", nil, "image or index to take platforms from (repeatable; any repository or registry, or oci:DIR:TAG)")
	fl.StringArrayVar(&f.perArch, "per-arch", nil, "per-arch sibling tag template with {arch} and {tag}, e.g. '{tag}-{arch}' (repeatable)")
	fl.StringVar(&f.require, "require", "", "platforms the result must hold, comma-separated OS/ARCH[/VARIANT]")
	fl.BoolVar(&f.fix, "fix", false, "rewrite wrong or non-canonical entry platforms from their configs, drop entries whose child is missing, drop duplicates")
	fl.BoolVar(&f.preferSources, "prefer-sources", false, "let sources replace existing entries that are correct")
	fl.StringVar(&f.to, "to", "", "write the result to this tag (another tag, repository, registry or oci:DIR:TAG) instead of TARGET")
	fl.BoolVar(&f.apply, "apply", false, "push the result; without it nothing is written")
	fl.StringVar(&f.backupTag, "backup-tag", "", "before moving the tag, tag the old index with this template ({tag}, {date}, {digest}), e.g. '{tag}-backup-{date}'")
	fl.StringVar(&f.format, "format", "table", "output format: table or json")
	f.registry.add(fl)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}

func runRepair(cmd *cobra.Command, f *repairFlags, arg string) error {
	job, format, err := f.job(arg)
	if err != nil {
		return usageError(err)
	}
	sess, err := f.registry.open(cmd)
	if err != nil {
		return usageError(err)
	}
	client, err := sess.client()
	if err != nil {
		return usageError(err)
	}
	for _, src := range job.From {
		if err := client.CheckTarget(src); err != nil {
			return usageError(fmt.Errorf("--from: %w", err))
		}
	}
	dest, flag := job.Target, "the target"
	if job.To.Scheme != "" {
		dest, flag = job.To, "--to"
	}
	if err := client.CheckDestination(dest); err != nil {
		return usageError(fmt.Errorf("%s: %w", flag, err))
	}
	// A client of its own for the audit after applying, so its request
	// counts are its own.
	verify, err := sess.client()
	if err != nil {
		return usageError(err)
	}
	out := cmd.OutOrStdout()
	var show func(*repair.Plan) error
	if format == report.Table {
		show = func(p *repair.Plan) error { return report.RenderPlan(out, report.Table, p, nil) }
	}
	outcome, err := repair.Run(cmd.Context(), client, job, show, verify)
	if format == report.JSON && outcome != nil {
		if rerr := report.RenderPlan(out, report.JSON, outcome.Plan, outcome.Applied); rerr != nil {
			return rerr
		}
	}
	switch {
	case errors.Is(err, repair.ErrUnsatisfied):
		return &exitError{code: exitFindings, err: fmt.Errorf("refused: the repaired index would still be wrong (see above); nothing was written, and --apply would push nothing")}
	case errors.Is(err, repair.ErrNotATag):
		return usageError(err)
	case errors.Is(err, repair.ErrChanged):
		return &exitError{code: exitChanged, err: err}
	case err != nil:
		return &exitError{code: exitUnaudited, err: advise(cmd, err)}
	}
	if format == report.Table {
		if !job.Apply {
			fmt.Fprintln(out, "Dry run: nothing was written. Run again with --apply to push this plan.")
		} else {
			adviseResult(cmd, outcome.Audit)
			if err := report.RenderApplied(out, outcome); err != nil {
				return err
			}
		}
	}
	if !outcome.Clean() {
		return &exitError{code: exitFindings, err: fmt.Errorf("the audit after applying found problems (see above)")}
	}
	return nil
}

// job parses the command line into a repair job and the output format.
func (f *repairFlags) job(arg string) (repair.Job, report.Format, error) {
	job := repair.Job{Apply: f.apply, Options: repair.ApplyOptions{BackupTag: f.backupTag}}
	job.PerArch, job.Fix, job.PreferSources = f.perArch, f.fix, f.preferSources
	format, err := report.ParseFormat(f.format)
	if err == nil && format != report.Table && format != report.JSON {
		err = fmt.Errorf("%q: a repair plan is written as table or json", f.format)
	}
	if err != nil {
		return job, "", fmt.Errorf("--format: %w", err)
	}
	if job.Require, err = platform.ParseList(f.require); err != nil {
		return job, "", fmt.Errorf("--require: %w", err)
	}
	for _, t := range f.perArch {
		if err := platform.CheckTemplate(t); err != nil {
			return job, "", fmt.Errorf("--per-arch: %w", err)
		}
	}
	if job.Target, err = ref.Parse(arg); err != nil {
		return job, "", err
	}
	if job.From, err = parseRefs("--from", f.from); err != nil {
		return job, "", err
	}
	if f.to != "" {
		if job.To, err = ref.Parse(f.to); err != nil {
			return job, "", fmt.Errorf("--to: %w", err)
		}
	}
	return job, format, nil
}
