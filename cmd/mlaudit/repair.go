package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/policy"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/repair"
	"github.com/mlaudit/mlaudit/report"
)

// exitChanged: a tag changed under the repair, or did not hold what was
// written when read back; it was not reported as repaired.
const exitChanged = 4

type repairFlags struct {
	policyFlags
	targetFlags
	from          []string
	fix           bool
	preferSources bool
	to            string
	apply         bool
	backupTag     string
	allowUnsigned bool
	format        string
	registry      registryFlags
}

func newRepairCmd() *cobra.Command {
	f := &repairFlags{}
	cmd := &cobra.Command{
		Use:   "repair [flags] TARGET...",
		Short: "Rebuild correct multi-arch indexes from per-arch tags and images",
		Long: `Repair makes each TARGET tag (one that holds an index, a single image, or
nothing yet) a correct multi-arch index: it keeps the entries that are right,
adds missing platforms from --from images and --per-arch sibling tags, and
with --fix mends wrong entries. Each new entry's platform is read from its
image config, never from a tag name. A source whose tag names an architecture
its image is not (latest-aarch64 holding amd64) is rejected. A per-arch TARGET
(latest-aarch64) is made to hold one image of the architecture its name
promises.

TARGET takes every form audit takes: a tag, a repository (its tags), a
registry (REGISTRY/, its catalog), --targets-file and --policy, whose
per-repository requirements and per-arch templates apply. Per-arch tags,
backup tags and signature or referrer tags are never targets of a walk.

It shows every plan and writes nothing unless --apply is given. With --apply,
for each target in turn, it:
  1. refuses a plan that would still be wrong (nothing written), or one whose
     old index is signed or has referrers, unless --allow-unsigned;
  2. pushes the new index and its children by digest (no tag moves);
  3. tags the old index under --backup-tag, and reads it back;
  4. reads TARGET again right before the move: if it changed since the plan,
     it is not moved;
  5. moves TARGET, reads it back, and audits it again.
It never deletes anything and always prints the old digest and how to put
it back.

Exit codes: 0 every target repaired or already right; 1 some plan could not
be satisfied or would leave signatures behind (the others are still applied);
2 bad flag, reference or template (nothing written); 3 registry error; 4 some
tag changed under the repair or did not hold what was written.`,
		Example: `  # An arm64 job overwrote the list: rebuild it from the per-arch tags
  mlaudit repair --per-arch '{tag}-{arch}' --require linux/amd64,linux/arm64 \
    ghcr.io/org/runtime:v0.3.0

  # ...and push it, keeping the old list under a backup tag
  mlaudit repair --per-arch '{tag}-{arch}' --require linux/amd64,linux/arm64 \
    --backup-tag '{tag}-backup-{date}' --apply ghcr.io/org/runtime:v0.3.0

  # Three components at once; the summary says what became of each
  mlaudit repair --per-arch '{tag}-{arch}' --require linux/amd64,linux/arm64 \
    --tags '^v0\.3\.0-rc\.2$' --apply ghcr.io/org/runtime ghcr.io/org/gateway \
    ghcr.io/org/metadata

  # A per-arch tag that holds the wrong architecture, from a good image
  mlaudit repair --from ghcr.io/org/app@sha256:... --apply \
    ghcr.io/org/app:latest-aarch64

  # One multi-arch tag from legacy per-arch names
  mlaudit repair --from ghcr.io/org/app:amd64-1.0 \
    --from ghcr.io/org/app:arm64v8-1.0 \
    --require linux/amd64,linux/arm64 ghcr.io/org/app:1.0`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRepair(cmd, f, args)
		},
	}
	fl := cmd.Flags()
	f.policyFlags.add(fl, false)
	f.targetFlags.add(fl, "repair")
	fl.StringArrayVar(&f.from, "from", nil, "image or index to take platforms from (repeatable; any repository or registry, or oci:DIR:TAG)")
	fl.BoolVar(&f.fix, "fix", false, "rewrite wrong or non-canonical entry platforms from their configs, drop entries whose child is missing, drop duplicates")
	fl.BoolVar(&f.preferSources, "prefer-sources", false, "let sources replace existing entries that are correct")
	fl.StringVar(&f.to, "to", "", "write the result to this tag (in any repository or registry, oci:DIR:TAG or oci-archive:FILE:TAG) instead of TARGET; one TARGET only")
	fl.BoolVar(&f.apply, "apply", false, "push the result; without it nothing is written")
	fl.StringVar(&f.backupTag, "backup-tag", "", "before moving a tag, tag its old index with this template ({tag}, {date}, {digest}); it must hold the word \"backup\", e.g. '{tag}-backup-{date}'")
	fl.BoolVar(&f.allowUnsigned, "allow-unsigned", false, "apply even where the old index has signatures or referrers that will not follow the new digest (sign the new one after)")
	fl.StringVar(&f.format, "format", "table", "output format: table or json")
	f.registry.add(fl)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}

func runRepair(cmd *cobra.Command, f *repairFlags, args []string) error {
	base, format, err := f.job()
	if err != nil {
		return usageError(err)
	}
	pol, _, err := f.policyFlags.resolve(cmd)
	if err != nil {
		return usageError(err)
	}
	refs, err := f.targetFlags.refs(cmd, args, pol)
	if err != nil {
		return usageError(err)
	}
	if base.To.Scheme != "" && (len(refs) != 1 || !refs[0].IsImage()) {
		return usageError(fmt.Errorf("--to %s: it takes exactly one TARGET tag, got %d target(s)", base.To, len(refs)))
	}
	filter := registry.TagFilter{Include: pol.Tags, Exclude: pol.ExcludeTags, PerArch: true}
	sess, err := f.registry.open(cmd, registry.WithTagFilter(filter))
	if err != nil {
		return usageError(err)
	}
	client, err := sess.client()
	if err != nil {
		return usageError(err)
	}
	defer client.Close()
	if err := checkRepairInputs(client, base, refs); err != nil {
		return usageError(err)
	}
	// One token for many repositories, on registries that issue them.
	client.Expect(refs...)
	jobs, failed := expandJobs(cmd, client, base, pol, refs)
	// A client of its own for the audits after applying, so its request
	// counts are its own.
	verify, err := sess.client()
	if err != nil {
		return usageError(err)
	}
	defer verify.Close()
	out := cmd.OutOrStdout()
	var show func(*repair.Plan) error
	if format == report.Table {
		show = func(p *repair.Plan) error { return report.RenderPlan(out, p) }
	}
	outs, err := repair.RunAll(cmd.Context(), client, jobs, show, verify)
	switch {
	case errors.Is(err, repair.ErrBackupTag), errors.Is(err, repair.ErrNotATag):
		return usageError(err)
	case err != nil:
		return &exitError{code: exitUnaudited, err: advise(cmd, err)}
	}
	outs = append(outs, failed...)
	if err := renderRepairs(cmd, out, format, base.Apply, outs); err != nil {
		return err
	}
	return repairExit(outs)
}

// checkRepairInputs refuses, before anything is read, sources and
// destinations that cannot be used and targets that are not tags.
func checkRepairInputs(client *registry.Client, base repair.Job, refs []ref.Ref) error {
	for _, src := range base.From {
		if err := client.CheckTarget(src); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
	}
	if base.To.Scheme != "" {
		if err := client.CheckDestination(base.To); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
	}
	for _, r := range refs {
		if r.Scheme == ref.Layout && len(base.From) == 0 {
			if _, err := os.Stat(r.Path); errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%s: the layout %s does not exist and no --from sources were given to build it from", r.Written(), r.Path)
			}
		}
		if r.IsImage() && (r.Tag == "" || r.Digest != "") {
			return fmt.Errorf("%w: %s names a digest; a repair moves a tag: name the tag alone", repair.ErrNotATag, r.Written())
		}
		if err := client.CheckDestination(r); err != nil {
			return err
		}
	}
	return nil
}

// expandJobs turns each target into the tags it names, one job each, with
// the policy's requirements and per-arch templates for that tag. A target
// that cannot be listed is an outcome of its own, so it never hides the
// others.
func expandJobs(cmd *cobra.Command, client *registry.Client, base repair.Job, pol *policy.Policy, refs []ref.Ref) (jobs []repair.Job, failed []*repair.Outcome) {
	for _, r := range refs {
		tags, err := client.Expand(cmd.Context(), r)
		if err != nil {
			failed = append(failed, &repair.Outcome{Job: repair.Job{Request: repair.Request{Target: r}}, Result: repair.Failed, Err: advise(cmd, err)})
			continue
		}
		for _, t := range tags {
			job := base
			job.Target, job.Require, job.PerArch = t, pol.RequireFor(t), pol.PerArch
			jobs = append(jobs, job)
		}
	}
	return jobs, failed
}

// renderRepairs writes what became of each job: in a table, what each
// apply did (the plans were shown as they were made), then the summary.
func renderRepairs(cmd *cobra.Command, out io.Writer, format report.Format, apply bool, outs []*repair.Outcome) error {
	if format == report.Table {
		for _, o := range outs {
			if o.Audit != nil {
				adviseResult(cmd, o.Audit)
			}
			if err := report.RenderApplied(out, o); err != nil {
				return err
			}
		}
	}
	if err := report.RenderRepairs(out, format, outs); err != nil {
		return err
	}
	if format == report.Table && !apply {
		fmt.Fprintln(out, "Dry run: nothing was written. Run again with --apply to push these plans.")
	}
	return nil
}

// repairExit is the exit code of a repair run: 4 when a tag changed under
// it (the most urgent: someone else's push is at stake), then 3 for
// registry errors, then 1 for plans that could not be applied.
func repairExit(outs []*repair.Outcome) error {
	code := 0
	for _, o := range outs {
		c := 0
		switch o.Result {
		case repair.Changed, repair.NotConfirmed:
			c = exitChanged
		case repair.Failed:
			c = exitUnaudited
		case repair.Unsatisfied, repair.Unsigned:
			c = exitFindings
		case repair.Repaired:
			if !o.Clean() {
				c = exitFindings
			}
		}
		if c == exitChanged || (c == exitUnaudited && code != exitChanged) || (c == exitFindings && code == 0) {
			code = c
		}
	}
	if code == 0 {
		return nil
	}
	return &exitError{code: code, err: fmt.Errorf("not every target was repaired (see the summary above)")}
}

// job parses the flags every target shares into a repair job, and the
// output format. Templates are checked here, before anything is read.
func (f *repairFlags) job() (repair.Job, report.Format, error) {
	job := repair.Job{Apply: f.apply, Options: repair.ApplyOptions{AllowUnsigned: f.allowUnsigned}}
	job.Fix, job.PreferSources, job.Backup = f.fix, f.preferSources, f.backupTag
	format, err := report.ParseFormat(f.format)
	if err == nil && format != report.Table && format != report.JSON {
		err = fmt.Errorf("%q: a repair plan is written as table or json", f.format)
	}
	if err != nil {
		return job, "", fmt.Errorf("--format: %w", err)
	}
	if f.backupTag != "" {
		if err := repair.CheckBackupTemplate(f.backupTag); err != nil {
			return job, "", fmt.Errorf("--backup-tag: %w", err)
		}
	}
	if job.From, err = parseRefs("--from", f.from); err != nil {
		return job, "", err
	}
	if f.to != "" {
		if job.To, err = ref.Parse(f.to); err != nil {
			return job, "", fmt.Errorf("--to: %w", err)
		}
		if !job.To.IsImage() || job.To.Tag == "" {
			return job, "", fmt.Errorf("--to %s: %w: name the tag to write", f.to, repair.ErrNotATag)
		}
	}
	return job, format, nil
}
