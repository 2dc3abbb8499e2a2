package repair

import (
	"context"
	"errors"
	"fmt"

	"github.com/mlaudit/mlaudit/audit"
)

// Job is one repair as the command line and the demo run it.
type Job struct {
	Request
	// Apply writes the plan; without it nothing is written.
	Apply bool
	// Options tune Apply.
	Options ApplyOptions
}

// Result is what became of one job.
type Result string

// Results, as summaries show them.
const (
	// Planned: a dry run whose plan could be applied.
	Planned Result = "planned"
	// Unchanged: the destination already holds what the plan would write.
	Unchanged Result = "unchanged"
	// Repaired: the destination was moved and read back holding the new
	// manifest.
	Repaired Result = "repaired"
	// Unsatisfied: the plan would still be wrong; nothing was written.
	Unsatisfied Result = "unsatisfied"
	// Unsigned: the old manifest's signatures would be left behind and
	// that was not allowed; nothing was written.
	Unsigned Result = "unsigned"
	// Changed: the destination changed under the repair; it was not moved.
	Changed Result = "changed"
	// NotConfirmed: a tag written did not hold what was written when read
	// back.
	NotConfirmed Result = "not-confirmed"
	// Failed: a registry error.
	Failed Result = "failed"
)

// Outcome is what [Run] did with one job.
type Outcome struct {
	Job Job `json:"-"`
	// Plan is the plan made; nil when planning failed.
	Plan *Plan `json:"plan"`
	// Applied is what applying did; nil when nothing was applied.
	Applied *Applied `json:"applied"`
	// Audit is the audit of the destination after applying; nil when
	// nothing was applied.
	Audit *audit.Result `json:"-"`
	// Result says what became of the job, and Err why when it failed.
	Result Result `json:"result"`
	Err    error  `json:"-"`
}

// Run is the repair sequence for one job: prepare the plan, hand it to
// show (which may be nil), and, when the job says to apply and the plan is
// OK, apply it and audit the destination again through verify, a Source
// of its own so the audit's costs are its own. The error is the outcome's
// Err.
func Run(ctx context.Context, r Registry, job Job, show func(*Plan) error, verify audit.Source) (*Outcome, error) {
	outs, err := RunAll(ctx, r, []Job{job}, show, verify)
	if err != nil {
		return nil, err
	}
	return outs[0], outs[0].Err
}

// RunAll plans every job, then applies each in turn: one failing never
// stops the others. Before anything is written, every plan's backup tag
// is checked against the tags the run moves and the other backups: a
// collision returns an error wrapping ErrBackupTag and writes nothing, as
// does a backup template that cannot name a tag.
func RunAll(ctx context.Context, r Registry, jobs []Job, show func(*Plan) error, verify audit.Source) ([]*Outcome, error) {
	outs := make([]*Outcome, len(jobs))
	for i, job := range jobs {
		o := &Outcome{Job: job}
		outs[i] = o
		o.Plan, o.Err = Prepare(ctx, r, job.Request)
		if errors.Is(o.Err, ErrBackupTag) {
			return outs, o.Err
		}
	}
	if err := checkBackups(outs); err != nil {
		return outs, err
	}
	for _, o := range outs {
		if o.Err == nil && show != nil {
			if err := show(o.Plan); err != nil {
				return outs, err
			}
		}
	}
	for _, o := range outs {
		if o.Err == nil {
			o.apply(ctx, r, verify)
		}
		o.Result = resultOf(o)
	}
	return outs, nil
}

func (o *Outcome) apply(ctx context.Context, r Registry, verify audit.Source) {
	p := o.Plan
	switch {
	case !p.OK():
		o.Err = fmt.Errorf("%w: %s; nothing was written", ErrUnsatisfied, p.Dest)
		return
	case !o.Job.Apply:
		return
	}
	o.Applied, o.Err = Apply(ctx, r, p, o.Job.Options)
	if o.Err == nil && o.Applied.Moved {
		o.Audit = audit.Run(ctx, verify, []audit.Target{{Ref: p.Dest, Require: o.Job.Require}}, audit.Options{})
	}
}

func resultOf(o *Outcome) Result {
	switch {
	case errors.Is(o.Err, ErrUnsatisfied):
		return Unsatisfied
	case errors.Is(o.Err, ErrUnsigned):
		return Unsigned
	case errors.Is(o.Err, ErrChanged):
		return Changed
	case errors.Is(o.Err, ErrNotConfirmed):
		return NotConfirmed
	case o.Err != nil:
		return Failed
	case !o.Plan.Changed:
		return Unchanged
	case o.Applied != nil && o.Applied.Moved:
		return Repaired
	}
	return Planned
}

// checkBackups refuses a run where a backup tag would land on a tag the
// run is asked to move (planned or not), or two backups on one tag.
func checkBackups(outs []*Outcome) error {
	moved := map[string]bool{}
	for _, o := range outs {
		moved[o.Job.Target.String()] = true
		if o.Job.To.Scheme != "" {
			moved[o.Job.To.String()] = true
		}
	}
	backups := map[string]bool{}
	for _, o := range outs {
		if o.Plan == nil || o.Plan.Backup == nil {
			continue
		}
		b := o.Plan.Backup.String()
		switch {
		case moved[b]:
			return fmt.Errorf("%w: the backup of %s would be %s, a tag this repair moves; nothing was written", ErrBackupTag, o.Plan.Dest, b)
		case backups[b]:
			return fmt.Errorf("%w: two repairs would back up to %s; put {tag} or {digest} in the template; nothing was written", ErrBackupTag, b)
		}
		backups[b] = true
	}
	return nil
}

// Clean reports whether the audit after applying found nothing wrong:
// every target read, no error-level finding.
func (o *Outcome) Clean() bool {
	return o.Audit == nil || len(o.Audit.Errors) == 0 && !o.Audit.Fails(audit.Error)
}
