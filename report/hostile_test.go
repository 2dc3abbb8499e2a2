package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/repair"
	"github.com/mlaudit/mlaudit/report"
)

// hostile is registry text chosen by whoever runs the registry: terminal
// escapes (colour, an OSC 8 hyperlink, cursor movement), line breaks that
// forge a report line, bidi overrides, markdown that loads an image or
// links elsewhere, pipes and backticks that break a table or a code span,
// HTML, C0 and C1 controls, and bytes that are not UTF-8.
var hostile = []string{
	"\x1b[31mred\x1b[0m \x1b]8;;http://evil.example/\x07click\x1b]8;;\x07 \x1b[2J\x1b[1A",
	"denied\r\nERROR   fake-code  linux/amd64\n        all good\rOK",
	"v1\u202e2v\u2066x\u2069 \u200f\u061c",
	"![t](http://evil.example/t.png) [x](http://evil.example/) <img src=http://evil.example/i> <http://evil.example/>",
	"a | b || c \\| d \\\\| e",
	"``code`` ` \\` end`",
	"`leading and trailing`",
	"</script><script>alert(1)</script>",
	"nul\x00byte \x7fdel \u0085nel \u009b31m csi \u2028ls \u2029ps \ttab",
	"bad\xff\xfe utf8 \xc3",
	"&#x202e; &#91;x&#93;(http://evil.example/) &lt;img&gt;",
	"windows(10.0\x1b[8m.1)/amd64",
}

// hostileResult is a result whose every field that carries registry text
// carries the given text: a layout entry named by tag (a layout's ref
// names are read from its index.json), a platform and a config platform as
// an index and a config state them, a media type, finding messages that
// quote registry text, and an error body.
func hostileResult(tag, plat, msg, errText string) *audit.Result {
	layout := ref.Ref{Scheme: ref.Layout, Path: "layout", Tag: tag}
	reg := mustRef("registry.example.com/app:1")
	digest := "sha256:" + strings.Repeat("ab", 32)
	return &audit.Result{
		Images: []audit.Image{{
			Ref: layout, Digest: digest, MediaType: "application/vnd.oci.image.index.v1+json",
			Platforms: []audit.PlatformEntry{
				{Platform: plat, ConfigPlatform: plat, Digest: digest, Status: audit.StatusMismatch},
				{Platform: "linux/amd64", ConfigPlatform: "linux/amd64", Digest: digest, Status: audit.StatusOK},
			},
			Required: []string{"linux/amd64", plat},
		}, {
			Ref: reg, Digest: digest, MediaType: msg,
			Platforms: []audit.PlatformEntry{{Platform: "linux/arm64", ConfigPlatform: plat, Digest: digest, Status: audit.StatusMismatch}},
		}},
		Findings: []audit.Finding{
			{Ref: layout, Code: audit.PlatformMismatch, Severity: audit.Error, Platform: plat, Message: "the index says " + plat + " but the config says " + msg, Hint: audit.PlatformMismatch.Info().Hint},
			{Ref: reg, Code: audit.NoncanonicalPlatform, Severity: audit.Warning, Platform: "linux/arm64", Message: msg, Hint: audit.NoncanonicalPlatform.Info().Hint},
			{Ref: mustRef("mirror.example.com/app:1"), Code: audit.MirrorDrift, Severity: audit.Error, Platform: plat, Message: msg, Hint: audit.MirrorDrift.Info().Hint},
		},
		Errors: []audit.TargetError{
			{Ref: mustRef("registry.example.com/gone:1"), Message: "GET https://registry.example.com/v2/gone/manifests/1: 401 Unauthorized: " + errText},
			{Ref: ref.Ref{Scheme: ref.Layout, Path: "dir/" + tag}, Message: errText},
		},
		Stats: audit.Stats{Requests: map[string]int64{"GET manifest": 3}, RequestsTotal: 3, DurationMs: 42},
	}
}

// textFormats are the formats read by people, in which registry text is
// escaped rather than encoded.
var textFormats = []report.Format{report.Table, report.Markdown, report.HTML}

func TestHostileRegistryText(t *testing.T) {
	for _, h := range hostile {
		t.Run(strconv.QuoteToASCII(h), func(t *testing.T) {
			checkHostile(t, h, h, h, h)
		})
	}
	// Each field on its own, the others ordinary.
	checkHostile(t, "v1", hostile[0], "ordinary", "ordinary")
	checkHostile(t, hostile[3], "linux/arm64", hostile[1], "ordinary")
}

// checkHostile renders a hostile result in every format and checks what
// each must guarantee.
func checkHostile(t *testing.T, tag, plat, msg, errText string) {
	t.Helper()
	r := hostileResult(tag, plat, msg, errText)
	escaped := hostileResult(report.Clean(tag), report.Clean(plat), report.Clean(msg), report.Clean(errText))
	for _, f := range report.Formats() {
		out := renderOK(t, report.Format(f), r)
		switch report.Format(f) {
		case report.Table:
			checkPrintable(t, f, out)
			checkTable(t, r, out)
		case report.Markdown:
			checkPrintable(t, f, out)
			checkMarkdown(t, r, out)
		case report.HTML:
			checkPrintable(t, f, out)
			for _, raw := range []string{"<img", "<script", "</script", "<http"} {
				if strings.Contains(out, raw) {
					t.Errorf("html holds %q from registry text", raw)
				}
			}
		case report.JUnit:
			checkJUnit(t, r, out)
		case report.JSON, report.SARIFFmt:
			if !json.Valid([]byte(out)) {
				t.Errorf("%s is not valid JSON:\n%s", f, out)
			}
			if report.Format(f) == report.SARIFFmt {
				if err := report.SARIF(r).Validate(); err != nil {
					t.Errorf("SARIF does not validate: %v", err)
				}
			}
		case report.Prometheus:
			if _, err := parser().TextToMetricFamilies(strings.NewReader(out)); err != nil {
				t.Errorf("the Prometheus text parser rejects the output: %v\n%s", err, out)
			}
		}
	}
	// The text formats show registry text exactly as they show its escaped
	// form: nothing of it reaches the reader but printable runes.
	for _, f := range textFormats {
		if got, want := renderOK(t, f, r), renderOK(t, f, escaped); got != want {
			t.Errorf("%s renders hostile text other than its escaped form:\n%s\nwant\n%s", f, got, want)
		}
	}
}

func renderOK(t *testing.T, f report.Format, r *audit.Result) string {
	t.Helper()
	var b bytes.Buffer
	if err := report.Render(&b, f, r); err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return b.String()
}

// checkPrintable fails on anything in out but printable runes and line
// ends: no ESC, CR, NUL, C1 control, bidi control or byte that is not
// UTF-8 reaches the reader.
func checkPrintable(t *testing.T, name, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s is not UTF-8: %q", name, out)
		return
	}
	for i, r := range out {
		if r != '\n' && r != ' ' && !strconv.IsPrint(r) {
			t.Errorf("%s holds %U at byte %d: %q", name, r, i, around(out, i))
			return
		}
	}
}

func around(s string, i int) string {
	return s[max(0, i-40):min(len(s), i+40)]
}

// checkTable: each image's reference is one line of its own, and each
// platform table is a grid whose rows are as wide as its borders.
func checkTable(t *testing.T, r *audit.Result, out string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	for _, img := range r.Images {
		want, n := report.Clean(img.Ref.String()), 0
		for _, l := range lines {
			if l == want {
				n++
			}
		}
		if n != 1 {
			t.Errorf("the reference %q should be one line of the table, seen %d times:\n%s", want, n, out)
		}
	}
	// A grid starts at a border (a line of + and - alone: registry text
	// may start a line with "| " or "+-", as a media type starts the line
	// under the reference) and runs over rows and borders.
	border := func(l string) bool { return strings.HasPrefix(l, "+-") && strings.Trim(l, "+-") == "" }
	var grid []string
	for _, l := range append(lines, "") {
		if border(l) || len(grid) > 0 && strings.HasPrefix(l, "|") {
			grid = append(grid, l)
			continue
		}
		for _, g := range grid {
			if utf8.RuneCountInString(g) != utf8.RuneCountInString(grid[0]) && isASCII(out) {
				t.Errorf("a table row is not as wide as its border:\n%s", strings.Join(grid, "\n"))
				break
			}
		}
		grid = nil
	}
	if !strings.Contains(out, "\nNOT AUDITED\n") {
		t.Errorf("the table lost its NOT AUDITED section:\n%s", out)
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] > 127 {
			return false
		}
	}
	return true
}

// ourHTML are the lines of HTML the markdown report writes itself.
var ourHTML = map[string]bool{"<details open><summary>Findings</summary>": true, "</details>": true}

// checkMarkdown: the matrix has one row per image with as many cells as
// its header, there is one bullet per finding and per error, and outside
// code spans no registry text is left that markdown would read as a link,
// an image, HTML or an entity.
func checkMarkdown(t *testing.T, r *audit.Result, out string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	var rows []string
	for _, l := range lines {
		if strings.HasPrefix(l, "|") {
			rows = append(rows, l)
		}
	}
	if len(rows) != len(r.Images)+2 {
		t.Errorf("the matrix has %d lines, want a header, a delimiter and %d rows:\n%s", len(rows), len(r.Images), out)
	}
	for _, row := range rows {
		if got, want := gfmCells(row), gfmCells(rows[0]); got != want {
			t.Errorf("row %q has %d cells, the header %d", row, got, want)
		}
	}
	bullets, fixes := 0, 0
	for _, l := range lines {
		if strings.HasPrefix(l, "- ") {
			bullets++
		}
		if strings.HasPrefix(l, "  Fix: ") {
			fixes++
		}
		if ourHTML[l] || strings.HasPrefix(l, "  Fix: ") {
			continue
		}
		if c, i := markup(l); c != 0 {
			t.Errorf("markdown reads %q as markup in %q", c, around(l, i))
		}
	}
	// A bullet per failing reference at the top, per finding and per
	// target not audited.
	failing := map[string]bool{}
	for _, f := range r.Findings {
		if f.Severity == audit.Error {
			failing[f.Ref.String()] = true
		}
	}
	if want := len(failing) + len(r.Findings) + len(r.Errors); bullets != want || fixes != len(r.Findings) {
		t.Errorf("%d bullets and %d fixes, want %d and %d:\n%s", bullets, fixes, want, len(r.Findings), out)
	}
}

// gfmCells counts the cells of a table row as GitHub splits it (cmark-gfm's
// scan_table_cell): at every pipe that a backslash does not escape, where a
// backslash escapes any ASCII punctuation that follows it, a backslash
// included.
func gfmCells(row string) int {
	pipes := 0
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row) && isPunct(row[i+1]):
			i++
		case row[i] == '|':
			pipes++
		}
	}
	return pipes - 1
}

func isPunct(c byte) bool { return strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c) >= 0 }

// markup returns the first character of line that markdown would read as
// the start of a link, an image, HTML, an autolink or an entity, and its
// index; 0 if there is none. Code spans (CommonMark: a run of n backticks
// up to the next run of exactly n) and backslash escapes are literal text.
func markup(line string) (byte, int) {
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line) && isPunct(line[i+1]):
			i++
		case c == '`':
			n := run(line[i:], '`')
			end := closing(line[i+n:], n)
			if end < 0 {
				i += n - 1 // literal backticks
			} else {
				i += n + end + n - 1
			}
		case c == '[' || c == ']' || c == '<' || c == '>':
			return c, i
		case c == '&':
			rest := line[i:]
			if !strings.HasPrefix(rest, "&amp;") && !strings.HasPrefix(rest, "&lt;") && !strings.HasPrefix(rest, "&gt;") {
				return c, i
			}
		}
	}
	return 0, 0
}

func run(s string, c byte) int {
	n := 0
	for n < len(s) && s[n] == c {
		n++
	}
	return n
}

// closing is the index in s of the first run of exactly n backticks, or -1.
func closing(s string, n int) int {
	for i := 0; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		m := run(s[i:], '`')
		if m == n {
			return i
		}
		i += m
	}
	return -1
}

// checkJUnit: the report is well-formed XML 1.0 (Go's decoder rejects the
// characters XML forbids) with every test case.
func checkJUnit(t *testing.T, r *audit.Result, out string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(out))
	cases := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Errorf("the JUnit report is not XML: %v\n%s", err, out)
			}
			break
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "testcase" {
			cases++
		}
	}
	// One case per image, per compared copy with findings, per target
	// not audited.
	want := len(r.Errors) + len(r.Images)
	for _, f := range r.Findings {
		if f.Ref.String() == "mirror.example.com/app:1" {
			want++
			break
		}
	}
	if cases != want {
		t.Errorf("%d test cases, want %d", cases, want)
	}
}

// TestHostileTextInRepairReports: a plan's reasons, platforms, notes and
// artifact types, and a repair's error, quote registry text too.
func TestHostileTextInRepairReports(t *testing.T) {
	for _, h := range hostile {
		target := mustRef("ghcr.io/org/app:v1")
		src := ref.Ref{Scheme: ref.Layout, Path: "layout/" + h, Tag: h}
		p := &repair.Plan{
			Target: target, Dest: target, OldDigest: "sha256:" + strings.Repeat("ab", 32), OldMediaType: "application/vnd.oci.image.index.v1+json",
			NewDigest: "sha256:" + strings.Repeat("cd", 32), MediaType: h, Changed: true,
			Rows: []repair.Row{
				{Platform: h, Digest: "sha256:" + strings.Repeat("01", 32), Source: src, Action: repair.Add, Reason: "the source says " + h},
				{Platform: "linux/amd64", Digest: "sha256:" + strings.Repeat("02", 32), Source: target, Action: repair.Keep, Reason: "correct"},
			},
			Findings:   []audit.Finding{{Ref: target, Code: audit.MissingChild, Severity: audit.Error, Platform: h, Message: h, Hint: audit.MissingChild.Info().Hint}},
			Signatures: []repair.Signature{{Kind: repair.Referrer, Ref: target, ArtifactType: h}},
			Notes:      []string{h},
		}
		var b bytes.Buffer
		if err := report.RenderPlan(&b, p); err != nil {
			t.Fatal(err)
		}
		checkPrintable(t, "plan", b.String())
		o := &repair.Outcome{Job: repair.Job{Request: repair.Request{Target: target}}, Plan: p, Result: repair.Failed, Err: errors.New("pushing: " + h)}
		b.Reset()
		if err := report.RenderRepairs(&b, report.Table, []*repair.Outcome{o}); err != nil {
			t.Fatal(err)
		}
		checkPrintable(t, "repairs", b.String())
		if want := "\nfailed         rebuild index  abababababab  cdcdcdcdcdcd  ghcr.io/org/app:v1\n"; !strings.Contains(b.String(), want) {
			t.Errorf("the target's line should stay one line:\n%s", b.String())
		}
	}
}

// FuzzRenderHostile renders a result whose registry text is fuzzed (a
// layout entry's name, a platform, a message quoting registry text, an
// error body) and checks that the table and markdown reports hold only
// printable text in their usual shape, and that the JUnit report is XML.
func FuzzRenderHostile(f *testing.F) {
	for _, h := range hostile {
		f.Add(h, h, h, h)
	}
	f.Add("v1", "linux/arm64", "ordinary", "ordinary")
	f.Fuzz(func(t *testing.T, tag, plat, msg, errText string) {
		r := hostileResult(tag, plat, msg, errText)
		escaped := hostileResult(report.Clean(tag), report.Clean(plat), report.Clean(msg), report.Clean(errText))
		table := renderOK(t, report.Table, r)
		checkPrintable(t, "table", table)
		checkTable(t, r, table)
		md := renderOK(t, report.Markdown, r)
		checkPrintable(t, "markdown", md)
		checkMarkdown(t, r, md)
		for _, f := range []report.Format{report.Table, report.Markdown} {
			if got, want := renderOK(t, f, r), renderOK(t, f, escaped); got != want {
				t.Errorf("%s renders hostile text other than its escaped form", f)
			}
		}
		checkJUnit(t, r, renderOK(t, report.JUnit, r))
	})
}
