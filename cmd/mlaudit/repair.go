package main

import (
	"errors"
	"fmt"
	"strings"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/registry"
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

func runRepair(cmd *cobra.Command, f *repairFlags, target string) error {
	require, err := platform.ParseList(f.require)
	if err != nil {
		return usageError(fmt.Errorf("--require: %w", err))
	}
	format, err := report.ParseFormat(f.format)
	if err == nil && format != report.Table && format != report.JSON {
		err = fmt.Errorf("--format %q: a repair plan is written as table or json", f.format)
	}
	if err != nil {
		return usageError(err)
	}
	for _, t := range f.perArch {
		if err := platform.CheckTemplate(t); err != nil {
			return usageError(err)
		}
	}
	opts := f.registry.options(cmd)
	client, err := registry.New(opts...)
	if err != nil {
		return usageError(err)
	}
	dest := target
	if f.to != "" {
		dest = f.to
	}
	for _, ref := range append([]string{target, dest}, f.from...) {
		if _, err := client.ParseTargetForWrite(ref); err != nil {
			return usageError(err)
		}
	}
	if tag, _ := client.TagOf(target); tag == "" {
		return usageError(fmt.Errorf("%q: repair a tag, not a digest: the tag is what moves", target))
	}

	ctx := cmd.Context()
	plan, err := repair.Prepare(ctx, client, repair.Request{
		Target: target, From: f.from, PerArch: f.perArch, To: f.to,
		Require: require, Fix: f.fix, PreferSources: f.preferSources,
	})
	if err != nil {
		return &exitError{code: exitUnaudited, err: err}
	}
	out := cmd.OutOrStdout()
	if !f.apply || !plan.OK() {
		if err := report.RenderPlan(out, format, plan, nil); err != nil {
			return err
		}
		if !plan.OK() {
			return &exitError{code: exitFindings, err: fmt.Errorf("refused: the repaired index would still be wrong (see above); nothing was written, and --apply would push nothing")}
		}
		if format == report.Table {
			fmt.Fprintln(out, "Dry run: nothing was written. Run again with --apply to push this plan.")
		}
		return nil
	}

	tag, _ := client.TagOf(dest)
	applied, err := repair.Apply(ctx, client, plan, repair.ApplyOptions{BackupTag: f.backupTag, Tag: tag})
	if errors.Is(err, repair.ErrChanged) {
		return &exitError{code: exitChanged, err: err}
	}
	if err != nil {
		return &exitError{code: exitUnaudited, err: err}
	}
	if format == report.JSON {
		return report.RenderPlan(out, format, plan, applied)
	}
	if err := report.RenderPlan(out, format, plan, applied); err != nil {
		return err
	}
	return afterApply(cmd, opts, plan, applied, require)
}

// afterApply says what moved and how to undo it, and audits the result.
func afterApply(cmd *cobra.Command, opts []registry.Option, plan *repair.Plan, applied *repair.Applied, require []specs.Platform) error {
	out := cmd.OutOrStdout()
	if !applied.Moved {
		fmt.Fprintf(out, "%s already holds this index; nothing was written.\n\n", plan.Dest)
	} else {
		fmt.Fprintf(out, "Applied: %s now holds %s.\n", plan.Dest, applied.NewDigest)
		if applied.Backup != "" {
			fmt.Fprintf(out, "The old index is kept as %s.\n", applied.Backup)
		}
		if applied.OldDigest != "" && !strings.HasPrefix(plan.Dest, registry.LayoutPrefix) {
			repo := plan.Dest[:strings.LastIndex(plan.Dest, ":")]
			fmt.Fprintf(out, "To put it back: crane tag %s@%s %s\n", repo, applied.OldDigest, plan.Dest[strings.LastIndex(plan.Dest, ":")+1:])
		}
		fmt.Fprintln(out)
	}
	// A fresh client, so the audit's request counts are its own.
	fresh, err := registry.New(opts...)
	if err != nil {
		return err
	}
	result := audit.Run(cmd.Context(), fresh, []audit.Target{{Name: plan.Dest, Require: require}}, audit.Options{})
	if err := report.Render(out, report.Table, result); err != nil {
		return err
	}
	if len(result.Errors) > 0 || result.Fails(audit.FailOn(audit.Error)) {
		return &exitError{code: exitFindings, err: fmt.Errorf("the audit after applying found problems (see above)")}
	}
	return nil
}
