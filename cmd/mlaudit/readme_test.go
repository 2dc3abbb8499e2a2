package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/repair"
	"github.com/mlaudit/mlaudit/report"
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
	for _, cmd := range []*cobra.Command{newAuditCmd(report.Options{}), newRepairCmd()} {
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if !strings.Contains(readme, "`--"+f.Name) {
				t.Errorf("README does not document %s --%s", cmd.Name(), f.Name)
			}
		})
	}
	for _, a := range []repair.Action{repair.Keep, repair.Add, repair.Replace, repair.Fix, repair.Drop, repair.Skip, repair.Reject, repair.Lose} {
		if !strings.Contains(readme, "`"+string(a)+"`") {
			t.Errorf("README does not document the repair action %s", a)
		}
	}
	for _, s := range []string{audit.StatusOK, audit.StatusMismatch, audit.StatusMissing, audit.StatusMissingChild, audit.StatusDigestMismatch, audit.StatusNoPlatform, audit.StatusDuplicate, audit.StatusUnreadable, audit.StatusAttestation} {
		if !strings.Contains(readme, "`"+s+"`") {
			t.Errorf("README does not document the row status %s", s)
		}
	}
	// Every test the guarantees cite exists.
	guarantees := readme[strings.Index(readme, "## What mlaudit guarantees"):]
	guarantees = guarantees[:strings.Index(guarantees[3:], "\n## ")+3]
	cited := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z]+)`").FindAllStringSubmatch(guarantees, -1)
	if len(cited) < 10 {
		t.Fatalf("the guarantees cite %d tests; the section is missing or unreadable", len(cited))
	}
	var sources strings.Builder
	_ = filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, "_test.go") {
			b, _ := os.ReadFile(p)
			sources.Write(b)
		}
		return nil
	})
	for _, c := range cited {
		if !strings.Contains(sources.String(), "func "+c[1]+"(") {
			t.Errorf("README's guarantees cite %s, which no test file defines", c[1])
		}
	}
	for _, want := range []string{"go run ./cmd/mlaudit demo", "make test", "schemaVersion"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README lacks %q", want)
		}
	}
}

// TestREADMEPolicyExplainExample runs the README's policy explain example
// on the README's policy and compares the output, so the two never drift.
func TestREADMEPolicyExplainExample(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	yamlStart := strings.Index(readme, "```yaml\nversion: 1\n")
	if yamlStart < 0 {
		t.Fatal("README has no policy example")
	}
	policyText := readme[yamlStart+len("```yaml\n"):]
	policyText = policyText[:strings.Index(policyText, "```")]
	const prompt = "$ mlaudit policy explain --policy policy.yaml "
	i := strings.Index(readme, prompt)
	if i < 0 {
		t.Fatal("README has no policy explain example")
	}
	example := readme[i+len("$ "):]
	example = example[:strings.Index(example, "```")]
	command, want, _ := strings.Cut(example, "\n")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(policyText), 0o600); err != nil {
		t.Fatal(err)
	}
	args := strings.Fields(strings.TrimPrefix(command, "mlaudit "))
	for i, a := range args {
		if a == "policy.yaml" {
			args[i] = filepath.Join(dir, "policy.yaml")
		}
	}
	r := mlaudit(t, "", args...)
	got := strings.ReplaceAll(r.stdout, filepath.Join(dir, "policy.yaml"), "policy.yaml")
	if r.code != 0 || got != want {
		t.Errorf("README's example differs from what mlaudit prints (exit %d):\n--- README\n%s--- mlaudit\n%s", r.code, want, got)
	}
}
