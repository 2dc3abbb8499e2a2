package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/repair"
)

// RenderRepairs writes what a repair run did with each of its targets: in
// JSON, every target's plan, result and error; as a table, one line per
// target (result, action, old digest, new digest, target: the target last
// and whole, so the line greps and pastes, and the rest fits 80 columns),
// then each failure in full and the backups written.
func RenderRepairs(w io.Writer, f Format, outs []*repair.Outcome) error {
	if f == JSON {
		return renderRepairsJSON(w, outs)
	}
	pr := &printer{w: w}
	pr.line("Summary")
	row := func(result, action, old, new, target string) {
		// Cleaned before they are padded, so the columns line up.
		pr.line(fmt.Sprintf("%-13s  %-13s  %-12s  %-12s  %s", clean(result), clean(action), clean(old), clean(new), clean(target)))
	}
	row("RESULT", "ACTION", "OLD", "NEW", "TARGET")
	for _, o := range outs {
		old, new := "-", "-"
		if p := o.Plan; p != nil {
			old, new = orDash(ref.ShortHex(p.OldDigest)), orDash(ref.ShortHex(p.NewDigest))
		}
		row(string(o.Result), actionOf(o.Plan), old, new, destOf(o).String())
	}
	for _, o := range outs {
		if o.Err != nil {
			pr.line("")
			pr.line(strings.ToUpper(string(o.Result)) + " " + destOf(o).String())
			pr.wrapped("  ", o.Err.Error())
		}
	}
	first := true
	for _, o := range outs {
		if a := o.Applied; a != nil && a.Backup != nil {
			if first {
				pr.line("")
				pr.line("Backups (later audits skip them; each holds the old manifest, by digest):")
				first = false
			}
			pr.line("  " + a.Backup.String() + " " + ref.ShortDigest(a.OldDigest))
		}
	}
	pr.line("")
	pr.wrapped("", repairCounts(outs))
	return pr.err
}

// destOf is where a job writes: its plan's destination, or its target
// when there is no plan.
func destOf(o *repair.Outcome) ref.Ref {
	if o.Plan != nil {
		return o.Plan.Dest
	}
	return o.Job.Target
}

// actionOf names what a plan does to its destination, in a word or two.
func actionOf(p *repair.Plan) string {
	switch {
	case p == nil:
		return "-"
	case !p.Changed:
		return "none"
	case types.MediaType(p.MediaType).IsImage():
		return "set image"
	case p.OldDigest == "":
		return "create index"
	}
	return "rebuild index"
}

// repairCounts is the closing line: how many targets ended each way.
func repairCounts(outs []*repair.Outcome) string {
	counts := map[repair.Result]int{}
	for _, o := range outs {
		counts[o.Result]++
	}
	s := fmt.Sprintf("%d target(s):", len(outs))
	for _, r := range []repair.Result{repair.Repaired, repair.Planned, repair.Unchanged, repair.Unsatisfied, repair.Unsigned, repair.Changed, repair.NotConfirmed, repair.Failed} {
		if counts[r] > 0 {
			s += fmt.Sprintf(" %d %s,", counts[r], r)
		}
	}
	return s[:len(s)-1] + "."
}

// repairJSON is one target of the JSON repair report.
type repairJSON struct {
	Target  ref.Ref         `json:"target"`
	Result  repair.Result   `json:"result"`
	Error   string          `json:"error,omitempty"`
	Plan    *repair.Plan    `json:"plan"`
	Applied *repair.Applied `json:"applied"`
}

func renderRepairsJSON(w io.Writer, outs []*repair.Outcome) error {
	list := make([]repairJSON, 0, len(outs))
	for _, o := range outs {
		j := repairJSON{Target: o.Job.Target, Result: o.Result, Plan: o.Plan, Applied: o.Applied}
		if o.Err != nil {
			j.Error = o.Err.Error()
		}
		list = append(list, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(struct {
		SchemaVersion int          `json:"schemaVersion"`
		Repairs       []repairJSON `json:"repairs"`
	}{SchemaVersion, list})
}
