package repair

import (
	"context"
	"fmt"

	"github.com/mlaudit/mlaudit/audit"
)

// Job is a repair as the command line and the demo run it.
type Job struct {
	Request
	// Apply writes the plan; without it nothing is written.
	Apply bool
	// Options tune Apply.
	Options ApplyOptions
}

// Outcome is what [Run] did.
type Outcome struct {
	// Plan is the plan made.
	Plan *Plan
	// Applied is what applying did; nil when nothing was applied.
	Applied *Applied
	// Audit is the audit of the destination after applying; nil when
	// nothing was applied.
	Audit *audit.Result
}

// Run is the one repair sequence: prepare the plan, hand it to show (which
// may be nil), and, when the job says to apply and the plan is OK, apply
// it and audit the destination again through verify, a Source of its own
// so the audit's costs are its own. A plan that is not OK returns the
// Outcome and an error wrapping ErrUnsatisfied, having written nothing.
func Run(ctx context.Context, r Registry, job Job, show func(*Plan) error, verify audit.Source) (*Outcome, error) {
	plan, err := Prepare(ctx, r, job.Request)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Plan: plan}
	if show != nil {
		if err := show(plan); err != nil {
			return out, err
		}
	}
	if !plan.OK() {
		return out, fmt.Errorf("%w: %s; nothing was written", ErrUnsatisfied, plan.Dest)
	}
	if !job.Apply {
		return out, nil
	}
	if out.Applied, err = Apply(ctx, r, plan, job.Options); err != nil {
		return out, err
	}
	out.Audit = audit.Run(ctx, verify, []audit.Target{{Ref: plan.Dest, Require: job.Require}}, audit.Options{})
	return out, nil
}

// Clean reports whether the audit after applying found nothing wrong:
// every target read, no error-level finding.
func (o *Outcome) Clean() bool {
	return o.Audit == nil || len(o.Audit.Errors) == 0 && !o.Audit.Fails(audit.Error)
}
