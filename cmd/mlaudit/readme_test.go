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

// The README is for a newcomer; the reference lives in docs/, one page per
// concern. Each check below reads the page where its material lives, so a
// new flag, code or guarantee goes to that page (and the error says which).
const (
	readmeFile       = "README.md"
	auditPage        = "docs/audit.md"
	repairPage       = "docs/repair.md"
	codesPage        = "docs/codes.md"
	reportsPage      = "docs/reports.md"
	policyPage       = "docs/policy.md"
	guaranteesPage   = "docs/guarantees.md"
	contributingPage = "docs/contributing.md"
)

// doc reads a documentation file, named from the repository's root.
func doc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestREADMEDocumentsEverything keeps the README and docs/ in step with the
// code: every finding code with its text, every audit and repair flag,
// every repair action and row status, and every test a guarantee cites.
func TestREADMEDocumentsEverything(t *testing.T) {
	readme := doc(t, readmeFile)
	codes := doc(t, codesPage)
	for _, c := range audit.Codes() {
		row := "| `" + string(c.Code) + "` | " + c.Severity.String() + " | " + c.Summary + " | " + c.Why + " | " + c.Hint + " |"
		if !strings.Contains(codes, row) {
			t.Errorf("%s lacks the row for %s, exactly:\n%s", codesPage, c.Code, row)
		}
	}
	for _, c := range []struct {
		cmd  *cobra.Command
		page string
	}{{newAuditCmd(report.Options{}), auditPage}, {newRepairCmd(), repairPage}} {
		text := doc(t, c.page)
		c.cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if !strings.Contains(text, "`--"+f.Name) {
				t.Errorf("%s does not document %s --%s", c.page, c.cmd.Name(), f.Name)
			}
		})
	}
	repairDoc := doc(t, repairPage)
	for _, a := range []repair.Action{repair.Keep, repair.Add, repair.Replace, repair.Fix, repair.Drop, repair.Skip, repair.Reject, repair.Lose} {
		if !strings.Contains(repairDoc, "`"+string(a)+"`") {
			t.Errorf("%s does not document the repair action %s", repairPage, a)
		}
	}
	reports := doc(t, reportsPage)
	for _, s := range []string{audit.StatusOK, audit.StatusMismatch, audit.StatusMissing, audit.StatusMissingChild, audit.StatusDigestMismatch, audit.StatusNoPlatform, audit.StatusDuplicate, audit.StatusUnreadable, audit.StatusAttestation} {
		if !strings.Contains(reports, "`"+s+"`") {
			t.Errorf("%s does not document the row status %s", reportsPage, s)
		}
	}
	// Every test the guarantees cite exists.
	guarantees := doc(t, guaranteesPage)
	if !strings.HasPrefix(guarantees, "# What mlaudit guarantees\n") {
		t.Errorf("%s should open with its title, # What mlaudit guarantees", guaranteesPage)
	}
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
			t.Errorf("%s cites %s, which no test file defines", guaranteesPage, c[1])
		}
	}
	for _, want := range []struct{ page, text string }{
		{readmeFile, "go run ./cmd/mlaudit demo"},
		{readmeFile, "mlaudit demo"},
		{readmeFile, "make test"},
		{readmeFile, "go install github.com/mlaudit/mlaudit/cmd/mlaudit@"},
		{contributingPage, "make test"},
		{reportsPage, "schemaVersion"},
	} {
		if !strings.Contains(doc(t, want.page), want.text) {
			t.Errorf("%s lacks %q", want.page, want.text)
		}
	}
	// The README leads to every page.
	pages, _ := filepath.Glob("../../docs/*.md")
	for _, p := range pages {
		if name := "docs/" + filepath.Base(p); !strings.Contains(readme, "]("+name+")") {
			t.Errorf("README does not link to %s", name)
		}
	}
}

// TestREADMELinksResolve checks that every relative link in the README and
// docs/ points at a file that exists, so moving material between pages
// cannot leave a reader at a dead link.
func TestREADMELinksResolve(t *testing.T) {
	pages, _ := filepath.Glob("../../docs/*.md")
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, p := range append([]string{"../../README.md"}, pages...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(p), target)); err != nil {
				t.Errorf("%s links to %s, which does not exist", strings.TrimPrefix(p, "../../"), m[1])
			}
		}
	}
}

// TestREADMEPolicyExample checks the README's policy file with mlaudit
// policy check, so the newcomer's first policy is a valid one.
func TestREADMEPolicyExample(t *testing.T) {
	readme := doc(t, readmeFile)
	i := strings.Index(readme, "```yaml\n# policy.yaml\n")
	if i < 0 {
		t.Fatal("README has no policy.yaml example")
	}
	policyText := readme[i+len("```yaml\n"):]
	policyText = policyText[:strings.Index(policyText, "```")]
	file := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(file, []byte(policyText), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := mlaudit(t, "", "policy", "check", file); r.code != 0 {
		t.Errorf("README's policy does not check (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestREADMEPolicyExplainExample runs the policy page's explain example on
// that page's policy and compares the output, so the two never drift.
func TestREADMEPolicyExplainExample(t *testing.T) {
	readme := doc(t, policyPage)
	yamlStart := strings.Index(readme, "```yaml\nversion: 1\n")
	if yamlStart < 0 {
		t.Fatal(policyPage + " has no policy example")
	}
	policyText := readme[yamlStart+len("```yaml\n"):]
	policyText = policyText[:strings.Index(policyText, "```")]
	const prompt = "$ mlaudit policy explain --policy policy.yaml "
	i := strings.Index(readme, prompt)
	if i < 0 {
		t.Fatal(policyPage + " has no policy explain example")
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
		t.Errorf(policyPage+"'s example differs from what mlaudit prints (exit %d):\n--- "+policyPage+"\n%s--- mlaudit\n%s", r.code, want, got)
	}
}
