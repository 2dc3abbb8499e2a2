package main

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/repair"
)

// TestREADMEDocumentsEverything keeps the README in step with the code:
// every finding code with its text, every audit flag, every row status.
func TestREADMEDocumentsEverything(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, c := range audit.Codes() {
		row := "| `" + string(c.Code) + "` | " + c.Severity.String() + " | " + c.Summary + " | " + c.Why + " | " + c.Hint + " |"
		if !strings.Contains(readme, row) {
			t.Errorf("README lacks the row for %s, exactly:\n%s", c.Code, row)
		}
	}
	for _, cmd := range []*cobra.Command{newAuditCmd(), newRepairCmd()} {
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if !strings.Contains(readme, "`--"+f.Name) {
				t.Errorf("README does not document %s --%s", cmd.Name(), f.Name)
			}
		})
	}
	for _, a := range []repair.Action{repair.Keep, repair.Add, repair.Replace, repair.Fix, repair.Drop, repair.Skip, repair.Reject} {
		if !strings.Contains(readme, "`"+string(a)+"`") {
			t.Errorf("README does not document the repair action %s", a)
		}
	}
	for _, s := range []string{audit.StatusOK, audit.StatusMismatch, audit.StatusMissing, audit.StatusMissingChild, audit.StatusDigestMismatch, audit.StatusNoPlatform, audit.StatusDuplicate, audit.StatusUnreadable, audit.StatusAttestation} {
		if !strings.Contains(readme, "`"+s+"`") {
			t.Errorf("README does not document the row status %s", s)
		}
	}
	for _, want := range []string{"go run ./cmd/mlaudit demo", "make test", "schemaVersion"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README lacks %q", want)
		}
	}
}
