package report_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/repair"
	"github.com/mlaudit/mlaudit/report"
)

// outcomes is a run over n tags: one of each result, then repaired ones.
func outcomes(n int) []*repair.Outcome {
	results := []repair.Result{repair.Changed, repair.Unsatisfied, repair.Failed, repair.Unsigned, repair.NotConfirmed, repair.Unchanged}
	var outs []*repair.Outcome
	for i := 0; i < n; i++ {
		target := mustRef(fmt.Sprintf("registry.example.com:5000/some-team/a-long-component-name:v1.%d.0-rc.2", i))
		p := &repair.Plan{Target: target, Dest: target, OldDigest: "sha256:" + strings.Repeat("ab", 32), NewDigest: "sha256:" + strings.Repeat("cd", 32),
			MediaType: "application/vnd.oci.image.index.v1+json", Changed: true}
		o := &repair.Outcome{Job: repair.Job{Request: repair.Request{Target: target}}, Plan: p, Result: repair.Repaired}
		o.Applied = &repair.Applied{Moved: true, OldDigest: p.OldDigest, NewDigest: p.NewDigest}
		if i < len(results) {
			o.Result, o.Applied = results[i], nil
			o.Err = errors.New("what went wrong with " + target.Tag)
		}
		if i == len(results) {
			b := mustRef(target.String() + "-backup")
			o.Applied.Backup = &b
		}
		outs = append(outs, o)
	}
	return outs
}

func TestRepairSummaryReadsAtEightyColumnsAndAtScale(t *testing.T) {
	outs := outcomes(2000)
	var b bytes.Buffer
	if err := report.RenderRepairs(&b, report.Table, outs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, line := range strings.Split(out, "\n") {
		// A reference stands whole at the end of its line; the rest fits.
		if i := strings.Index(line, "registry.example.com"); i > 60 || i < 0 && len(line) > 80 {
			t.Fatalf("line of %d columns: %q", len(line), line)
		}
	}
	if !strings.Contains(out, "\nunsatisfied    rebuild index  abababababab  cdcdcdcdcdcd  registry.example.com:5000/some-team/a-long-component-name:v1.1.0-rc.2\n") {
		t.Errorf("each target should be one line that greps:\n%s", out[:2000])
	}
	if words := strings.Join(strings.Fields(out), " "); !strings.Contains(words, "2000 target(s): 1994 repaired, 1 unchanged, 1 unsatisfied, 1 unsigned, 1 changed, 1 not-confirmed, 1 failed.") {
		t.Errorf("the closing line should count each result:\n%s", out[len(out)-300:])
	}
	for _, want := range []string{
		"\nCHANGED registry.example.com:5000/some-team/a-long-component-name:v1.0.0-rc.2\n  what went wrong with v1.0.0-rc.2\n",
		"\n  registry.example.com:5000/some-team/a-long-component-name:v1.6.0-rc.2-backup sha256:abababababab\n",
		"rebuild index",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary should say %q", want)
		}
	}
}

func TestRepairJSONListsEveryTarget(t *testing.T) {
	outs := outcomes(8)
	var b bytes.Buffer
	if err := report.RenderRepairs(&b, report.JSON, outs); err != nil {
		t.Fatal(err)
	}
	var got struct {
		SchemaVersion int
		Repairs       []struct {
			Target, Result, Error string
			Plan                  *struct{ OldDigest, NewDigest string }
			Applied               *struct{ Moved bool }
		}
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.SchemaVersion != report.SchemaVersion || len(got.Repairs) != 8 {
		t.Fatalf("schema %d, %d repairs, want %d and 8", got.SchemaVersion, len(got.Repairs), report.SchemaVersion)
	}
	for i, r := range got.Repairs {
		if r.Target != outs[i].Job.Target.String() || r.Result != string(outs[i].Result) || r.Plan == nil || r.Plan.OldDigest == "" {
			t.Errorf("repair %d: %+v, want %s %s with its plan", i, r, outs[i].Job.Target, outs[i].Result)
		}
		if (r.Error != "") != (outs[i].Err != nil) || (r.Applied != nil) != (outs[i].Applied != nil) {
			t.Errorf("repair %d: error %q applied %v", i, r.Error, r.Applied)
		}
	}
}
