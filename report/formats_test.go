package report_test

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// fixed is sample() with a fixed start time, so renderings are stable.
func fixed() *audit.Result {
	r := sample()
	r.Images[0].Required = []string{"linux/amd64", "linux/arm/v7"}
	r.Findings = append(r.Findings, audit.Finding{
		Ref: r.Images[0].Ref, Code: audit.PlatformMismatch, Severity: audit.Error, Platform: "windows(10.0.20348.2227)/amd64",
		Message: "the index lists sha256:020202020202 as windows(10.0.20348.2227)/amd64 but its config says windows(10.0.17763.5458)/amd64",
		Hint:    audit.PlatformMismatch.Info().Hint,
	}, audit.Finding{
		Ref: r.Images[0].Ref, Code: audit.NoncanonicalPlatform, Severity: audit.Warning, Platform: "linux/amd64",
		Message: `the image config's architecture "x86_64" is usually written "amd64"`, Hint: audit.NoncanonicalPlatform.Info().Hint,
	})
	r.Stats.StartedAt = time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	return r
}

func render(t *testing.T, f report.Format, r *audit.Result) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := report.Render(&b, f, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestGolden compares every format's rendering of the same result with
// testdata/golden/FORMAT; go test ./report -update rewrites them.
func TestGolden(t *testing.T) {
	for _, name := range report.Formats() {
		t.Run(name, func(t *testing.T) {
			got := render(t, report.Format(name), fixed())
			path := filepath.Join("testdata", "golden", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./report -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (if the change is intended, run go test ./report -update):\n%s", name, path, got)
			}
		})
	}
}

// junitSchema lists, per element, the attributes the Jenkins / Surefire
// JUnit schema allows and which elements may hold it.
var junitSchema = map[string]struct {
	parent string
	attrs  []string
}{
	"testsuites": {"", []string{"name", "tests", "failures", "errors", "time"}},
	"testsuite":  {"testsuites", []string{"name", "tests", "failures", "errors", "time", "timestamp"}},
	"testcase":   {"testsuite", []string{"name", "classname", "time"}},
	"failure":    {"testcase", []string{"message", "type"}},
	"error":      {"testcase", []string{"message", "type"}},
	"system-out": {"testcase", nil},
}

func TestJUnitParsesStrictly(t *testing.T) {
	out := render(t, report.JUnit, fixed())
	dec := xml.NewDecoder(bytes.NewReader(out))
	var stack []string
	counts := map[string]int{}
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch el := tok.(type) {
		case xml.StartElement:
			rule, ok := junitSchema[el.Name.Local]
			parent := ""
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
			}
			if !ok || rule.parent != parent {
				t.Fatalf("<%s> inside <%s> is not JUnit", el.Name.Local, parent)
			}
			for _, a := range el.Attr {
				if !contains(rule.attrs, a.Name.Local) {
					t.Errorf("<%s %s=...> is not JUnit", el.Name.Local, a.Name.Local)
				}
			}
			counts[el.Name.Local]++
			stack = append(stack, el.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Cases []struct {
				Name     string     `xml:"name,attr"`
				Failures []struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	// One case for the image, however many ways it is broken (one
	// failure), one for the target not audited.
	if doc.Tests != 2 || counts["testcase"] != 2 || doc.Failures != 1 || counts["failure"] != 1 || doc.Errors != 1 || counts["error"] != 1 {
		t.Errorf("tests=%d testcases=%d failures=%d <failure>=%d errors=%d <error>=%d, want 2, 2, 1, 1, 1, 1", doc.Tests, counts["testcase"], doc.Failures, counts["failure"], doc.Errors, counts["error"])
	}
	failing := map[string]bool{}
	for _, c := range doc.Suites[0].Cases {
		failing[c.Name] = len(c.Failures) > 0
	}
	if name := fixed().Images[0].Ref.String(); !failing[name] {
		t.Errorf("failing cases = %v: the image with a missing arm/v7 fails", failing)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSARIFValidatesAgainstTheSchema(t *testing.T) {
	withPort := fixed()
	for i := range withPort.Findings {
		withPort.Findings[i].Ref = mustRef("127.0.0.1:5000/app@sha256:" + strings.Repeat("0", 64))
	}
	withPort.Findings[0].Ref = mustRef("oci:./out:docker.io/library/app:1.0")
	if err := report.SARIF(withPort).Validate(); err != nil {
		t.Fatalf("references with a port, a digest or a layout must give valid URIs: %v", err)
	}
	r := fixed()
	if err := report.SARIF(r).Validate(); err != nil {
		t.Fatalf("SARIF does not validate against the 2.1.0 schema: %v", err)
	}
	doc, err := sarif.FromBytes(render(t, report.SARIFFmt, r), sarif.WithStrictValidation())
	if err != nil {
		t.Fatal(err)
	}
	run := doc.Runs[0]
	if len(run.Tool.Driver.Rules) != len(audit.Codes()) {
		t.Errorf("%d rules, want one per code (%d)", len(run.Tool.Driver.Rules), len(audit.Codes()))
	}
	if len(run.Results) != len(r.Findings) {
		t.Fatalf("%d results, want %d", len(run.Results), len(r.Findings))
	}
	res := run.Results[0]
	// A registry image is no file: the reference is in the message and the
	// logical location (see report.SARIFWith).
	if *res.RuleID != "missing-platform" || res.Level != "error" || *res.Locations[0].LogicalLocations[0].FullyQualifiedName != r.Images[0].Ref.String() ||
		!strings.Contains(*res.Message.Text, r.Images[0].Ref.String()) {
		t.Errorf("result 0 = rule %s level %s at %s: %s", *res.RuleID, res.Level, *res.Locations[0].LogicalLocations[0].FullyQualifiedName, *res.Message.Text)
	}
	help := run.Tool.Driver.Rules[0].Help
	if help == nil || !strings.Contains(*help.Text, audit.MissingPlatform.Info().Why) {
		t.Error("rule help should carry why the code matters")
	}
	if inv := run.Invocations[0]; *inv.ExecutionSuccessful || len(inv.ToolExecutionNotifications) != 1 {
		t.Error("the target not audited should be an execution notification")
	}
}

func TestPrometheusParses(t *testing.T) {
	r := fixed()
	families, err := parser().TextToMetricFamilies(bytes.NewReader(render(t, report.Prometheus, r)))
	if err != nil {
		t.Fatalf("the Prometheus text parser rejects the output: %v", err)
	}
	value := func(name string, labels map[string]string) (float64, bool) {
		mf, ok := families[name]
		if !ok {
			return 0, false
		}
	next:
		for _, m := range mf.Metric {
			for k, v := range labels {
				if !hasLabel(m, k, v) {
					continue next
				}
			}
			return m.GetGauge().GetValue(), true
		}
		return 0, false
	}
	repo := "registry.example.com/a/rather/long/repository/name"
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"mlaudit_findings", map[string]string{"repository": repo, "code": "missing-platform", "severity": "error"}, 1},
		{"mlaudit_findings", map[string]string{"repository": repo, "code": "digest-mismatch", "severity": "error"}, 0},
		{"mlaudit_images_audited", map[string]string{"repository": repo}, 1},
		{"mlaudit_image_platforms", map[string]string{"image": r.Images[0].Ref.String()}, 1},
		{"mlaudit_targets_not_audited", nil, 1},
		{"mlaudit_audit_duration_seconds", nil, 0.042},
		{"mlaudit_last_run_timestamp_seconds", nil, float64(r.Stats.StartedAt.Unix())},
	}
	for _, c := range checks {
		got, ok := value(c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	// A repository that could not be read is not a success, and another's
	// failure does not hide this one's success.
	if got, ok := value("mlaudit_last_success_timestamp_seconds", map[string]string{"repository": repo}); !ok || got != float64(r.Stats.StartedAt.Unix()) {
		t.Errorf("the repository read whole records its success time despite another's failure: %v %v", got, ok)
	}
	gone := repoOfError(r)
	if got, ok := value("mlaudit_last_success_timestamp_seconds", map[string]string{"repository": gone}); !ok || got != 0 {
		t.Errorf("a repository not audited has last success 0 (never, as far as known), got %v %v", got, ok)
	}
	if got, ok := value("mlaudit_repository_audited", map[string]string{"repository": gone}); !ok || got != 0 {
		t.Errorf("mlaudit_repository_audited for %s = %v %v, want 0", gone, got, ok)
	}
	for name := range families {
		if !model.LegacyValidation.IsValidMetricName(name) {
			t.Errorf("invalid metric name %q", name)
		}
	}
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.Label {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func TestMarkdownShowsTheMatrix(t *testing.T) {
	out := string(render(t, report.Markdown, fixed()))
	for _, want := range []string{
		"| image | linux/amd64 | linux/arm/v7 | windows(10.0.20348.2227)/amd64 |",
		"| ✅ | ❌ missing | ❌ mismatch |",
		"❌ **missing-platform**",
		"Fix: ",
		"**Not audited:**",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown should contain %q:\n%s", want, out)
		}
	}
}

// parser is the Prometheus text parser with the legacy (strictest) name
// rules, which node exporter's textfile collector applies.
func parser() *expfmt.TextParser {
	p := expfmt.NewTextParser(model.LegacyValidation)
	return &p
}

// repoOfError is the repository of r's first error, as its label reads.
func repoOfError(r *audit.Result) string {
	if r.Errors[0].Ref.IsRegistry() {
		return r.Errors[0].Ref.String()
	}
	return r.Errors[0].Ref.Repo().String()
}
