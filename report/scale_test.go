package report_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/report"
)

// fleet is an audit of n tags of one repository, listed in the registry's
// (unsorted) order, of which the tags in failing lack linux/arm64.
func fleet(n int, failing ...int) *audit.Result {
	r := &audit.Result{}
	broken := map[int]bool{}
	for _, i := range failing {
		broken[i] = true
	}
	for k := 0; k < n; k++ {
		i := (k * 7919) % n // a scrambled order
		at := mustRef(fmt.Sprintf("registry.example.com/org/app:1.%d.0", i))
		img := audit.Image{Ref: at, Digest: "sha256:" + strings.Repeat("ab", 32), MediaType: "application/vnd.oci.image.index.v1+json",
			Required: []string{"linux/amd64", "linux/arm64"},
			Platforms: []audit.PlatformEntry{
				{Platform: "linux/amd64", ConfigPlatform: "linux/amd64", Digest: "sha256:" + strings.Repeat("01", 32), Status: audit.StatusOK},
				{Platform: "linux/arm64", ConfigPlatform: "linux/arm64", Digest: "sha256:" + strings.Repeat("02", 32), Status: audit.StatusOK},
			}}
		if broken[i] {
			img.Platforms[1] = audit.PlatformEntry{Platform: "linux/arm64", Status: audit.StatusMissing}
			r.Findings = append(r.Findings, audit.Finding{Ref: at, Code: audit.MissingPlatform, Severity: audit.Error, Platform: "linux/arm64",
				Message: "linux/arm64 is required but the index has no entry for it", Hint: audit.MissingPlatform.Info().Hint})
		}
		r.Images = append(r.Images, img)
	}
	return r
}

func renderWith(t *testing.T, f report.Format, r *audit.Result, o report.Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := report.RenderWith(&b, f, r, o); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestTableAtScale: 2,000 tags, 4 broken. The broken ones come first, in
// tag order, each ERROR line names its image, the passing ones get a line
// each, and a closing list names the broken ones before the summary.
func TestTableAtScale(t *testing.T) {
	r := fleet(2000, 1500, 7, 70, 1999)
	out := string(render(t, report.Table, r))
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) > 2000+100 {
		t.Errorf("%d lines for 2,000 tags: passing tags should get a line each", len(lines))
	}
	want := []string{"1.7.0", "1.70.0", "1.1500.0", "1.1999.0"}
	var errors []string
	for _, l := range lines {
		if strings.HasPrefix(l, "ERROR") {
			errors = append(errors, l)
		}
		if len(l) > 80 && strings.Contains(strings.TrimSpace(l), " ") {
			t.Errorf("line of %d columns: %q", len(l), l)
		}
		for _, c := range l {
			if c > 127 {
				t.Fatalf("non-ASCII in %q", l)
			}
		}
	}
	if len(errors) != 4 {
		t.Fatalf("%d ERROR lines, want 4:\n%s", len(errors), strings.Join(errors, "\n"))
	}
	for i, tag := range want {
		if !strings.HasSuffix(errors[i], "registry.example.com/org/app:"+tag) {
			t.Errorf("ERROR line %d = %q, want it to name app:%s (failing images sorted by tag)", i, errors[i], tag)
		}
	}
	if !strings.HasPrefix(out, "registry.example.com/org/app:1.7.0\n") {
		t.Errorf("the report should open with the first failing image:\n%s", out[:200])
	}
	closing := strings.Join(lines[len(lines)-7:], "\n")
	wantClosing := "FAILING (4 of 2000 images)\n  registry.example.com/org/app:1.7.0\n  registry.example.com/org/app:1.70.0\n  registry.example.com/org/app:1.1500.0\n  registry.example.com/org/app:1.1999.0\n\n2000 images audited: 4 errors, 0 warnings."
	if closing != wantClosing {
		t.Errorf("the report should close with the failing images and the summary:\n%s", closing)
	}
	if !strings.Contains(out, "PASSING (1996 images without findings") || !strings.Contains(out, "\n  registry.example.com/org/app:1.0.0\n  registry.example.com/org/app:1.1.0\n  registry.example.com/org/app:1.2.0\n") {
		t.Error("passing images should be listed one a line, in tag order")
	}
	if strings.Contains(out, "\x1b") {
		t.Error("no colour without Options.Colour")
	}
	// --show all: every image's table.
	all := renderWith(t, report.Table, r, report.Options{All: true})
	if n := strings.Count(all, "| PLATFORM "); n != 2000 {
		t.Errorf("with All, %d tables, want 2000", n)
	}
}

func TestTableColour(t *testing.T) {
	r := fixed()
	out := renderWith(t, report.Table, r, report.Options{Colour: true})
	for _, want := range []string{"\x1b[31mERROR\x1b[0m   missing-platform", "\x1b[33mWARNING\x1b[0m noncanonical-platform", "\x1b[31mFAILING (1 of 1 image)\x1b[0m"} {
		if !strings.Contains(out, want) {
			t.Errorf("coloured table lacks %q:\n%s", want, out)
		}
	}
	// Registry text never carries an escape of its own, coloured or not.
	r.Findings[0].Platform = "linux/\x1b[2Jarm"
	out = renderWith(t, report.Table, r, report.Options{Colour: true})
	if strings.Contains(out, "\x1b[2J") || !strings.Contains(out, `linux/\x1b[2Jarm`) {
		t.Error("registry text must be escaped in a coloured table too")
	}
}

// TestJUnitCountsFailingImages: a broken tag is one failure however many
// findings it has; a JUnit reader (here encoding/xml, as CI parsers read
// it) counts 4 failing cases of 2,000, with classnames without dots.
func TestJUnitCountsFailingImages(t *testing.T) {
	r := fleet(2000, 3, 30, 300, 1000)
	for _, f := range append([]audit.Finding(nil), r.Findings...) {
		f.Code, f.Platform = audit.PlatformMismatch, "linux/amd64"
		r.Findings = append(r.Findings, f)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Name      string     `xml:"name,attr"`
				Classname string     `xml:"classname,attr"`
				Failures  []struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(render(t, report.JUnit, r), &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.Suites[0]
	if doc.Tests != 2000 || doc.Failures != 4 || s.Tests != 2000 || s.Failures != 4 || len(s.Cases) != 2000 {
		t.Fatalf("tests=%d failures=%d (suite %d, %d; %d cases), want 2000 and 4", doc.Tests, doc.Failures, s.Tests, s.Failures, len(s.Cases))
	}
	failures := 0
	for i, c := range s.Cases {
		failures += len(c.Failures)
		if strings.Contains(c.Classname, ".") {
			t.Fatalf("classname %q has dots, which Jenkins and GitLab split into packages", c.Classname)
		}
		if i < 4 && len(c.Failures) != 1 {
			t.Errorf("case %d (%s) should be a failing image: failing images come first", i, c.Name)
		}
	}
	if failures != 4 {
		t.Errorf("%d <failure> elements, want one per failing image (4)", failures)
	}
}

func TestSARIFForCodeScanning(t *testing.T) {
	r := fixed()
	r.Findings = append(r.Findings, audit.Finding{Ref: mustRef("oci:out:app:1.0"), Code: audit.MissingPlatform, Severity: audit.Error,
		Platform: "linux/arm64", Message: "linux/arm64 is required", Hint: audit.MissingPlatform.Info().Hint})
	check := func(o report.Options) *sarif.Run {
		t.Helper()
		o.ToolVersion = "v1.2.3"
		out := renderWith(t, report.SARIFFmt, r, o)
		doc, err := sarif.FromBytes([]byte(out), sarif.WithStrictValidation())
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.Validate(); err != nil {
			t.Fatalf("SARIF does not validate: %v", err)
		}
		run := doc.Runs[0]
		if v := run.Tool.Driver.Version; v == nil || *v != "v1.2.3" {
			t.Errorf("tool.driver.version = %v, want v1.2.3", v)
		}
		for _, res := range run.Results {
			// GitHub's required fields: ruleId, message.text, and a
			// location.
			if res.RuleID == nil || res.Message.Text == nil || len(res.Locations) != 1 || len(res.PartialFingerprints) == 0 {
				t.Errorf("result lacks what GitHub requires: %+v", res)
			}
		}
		return run
	}
	run := check(report.Options{})
	for i, res := range run.Results[:3] {
		loc := res.Locations[0]
		if loc.PhysicalLocation != nil || *loc.LogicalLocations[0].FullyQualifiedName != r.Findings[i].Ref.String() || !strings.HasPrefix(*res.Message.Text, r.Findings[i].Ref.String()+": ") {
			t.Errorf("a registry image is not a file: logical location and the reference in the message, got %+v", loc)
		}
	}
	layout := run.Results[3].Locations[0].PhysicalLocation
	if layout == nil || *layout.ArtifactLocation.URI != "out/index.json" || *layout.Region.StartLine != 1 {
		t.Errorf("an OCI layout in the checkout is located at its index.json, line 1: %+v", layout)
	}
	run = check(report.Options{SARIFFile: "build/Dockerfile"})
	for _, res := range run.Results {
		pl := res.Locations[0].PhysicalLocation
		if pl == nil || *pl.ArtifactLocation.URI != "build/Dockerfile" || pl.Region == nil || *pl.Region.StartLine != 1 {
			t.Errorf("with SARIFFile every result is at that file, line 1: %+v", pl)
		}
	}
}

// TestMarkdownAndHTMLPutFailuresFirst: at 300 tags with 2 broken, both
// open with the failing list, their matrices start with the failing rows,
// and the passing rows are folded.
func TestMarkdownAndHTMLPutFailuresFirst(t *testing.T) {
	r := fleet(300, 250, 12)
	md := string(render(t, report.Markdown, r))
	failing := strings.Index(md, "**Failing (2 of 300 images):**\n\n- `registry.example.com/org/app:1.12.0`: missing-platform linux/arm64\n- `registry.example.com/org/app:1.250.0`")
	table := strings.Index(md, "| image |")
	fold := strings.Index(md, "<details><summary>Passing: 298 images without findings</summary>")
	if failing < 0 || table < failing || fold < table {
		t.Errorf("markdown should open with the failing list, then their rows, then fold the passing ones (%d %d %d):\n%s", failing, table, fold, md[:min(len(md), 1500)])
	}
	if first := md[table:]; !strings.Contains(first[:300], "app:1.12.0") {
		t.Errorf("the first matrix row should be a failing image:\n%s", first[:300])
	}
	page := string(render(t, report.HTML, r))
	sec := strings.Index(page, `<section class="failing">`)
	matrix := strings.Index(page, `<table class="matrix">`)
	folded := strings.Index(page, `<details class="passing"><summary>Passing: 298 images without findings</summary>`)
	if sec < 0 || matrix < sec || folded < matrix {
		t.Errorf("HTML should show the failing section, then the failing rows, then fold the passing ones (%d %d %d)", sec, matrix, folded)
	}
	if !strings.Contains(page[sec:matrix], "registry.example.com/org/app:1.12.0</code>: missing-platform linux/arm64") {
		t.Error("the failing section should name each failing image and its errors")
	}
	if strings.Contains(page, "href=") || strings.Contains(page, "<script") {
		t.Error("the page must stay self-contained")
	}
	// Few images: nothing folded.
	small := string(render(t, report.Markdown, fleet(5, 2)))
	if strings.Contains(small, "<details><summary>Passing") {
		t.Error("a handful of images should not be folded")
	}
}
