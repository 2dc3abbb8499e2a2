package report

import (
	_ "embed"
	"html/template"
	"io"
	"strings"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/ref"
)

//go:embed html.tmpl
var htmlTemplate string

// htmlPage escapes every value for its context (html/template); registry
// text also goes through text, which escapes the characters a browser would
// not show (bidi overrides, controls) as [clean] does.
var htmlPage = template.Must(template.New("report").Funcs(template.FuncMap{"breakable": breakable, "text": clean}).Parse(htmlTemplate))

// breakable lets a long reference wrap after its slashes and colons only.
func breakable(at ref.Ref) template.HTML {
	var b strings.Builder
	for _, r := range clean(at.String()) {
		b.WriteString(template.HTMLEscapeString(string(r)))
		if r == '/' || r == ':' {
			b.WriteString("<wbr>")
		}
	}
	return template.HTML(b.String()) //nolint:gosec // every rune was escaped above
}

// htmlLabel is what a matrix cell says.
var htmlLabel = map[string]string{
	cellPresent:  "✓",
	cellMismatch: "✗ mismatch",
	cellMissing:  "✗ missing",
	cellBroken:   "✗ broken",
	cellWarning:  "! duplicate",
	cellNone:     "–",
}

type htmlCell struct{ Class, Label, Platform string }

type htmlRow struct {
	Ref      ref.Ref
	Cells    []htmlCell
	Findings []audit.Finding
}

// htmlFailing is one failing reference at the top of the page.
type htmlFailing struct {
	Ref    string
	Errors string
}

// renderHTML writes one self-contained page (no scripts, fonts or styles
// from elsewhere): the verdict and the failing images first, so the first
// screen shows what is broken; then a matrix of images by platforms
// coloured by status, failing rows first, the findings and fixes beside
// each row; beyond [FullTables] images the passing rows are folded; then
// what was not audited. On a narrow screen each row becomes a card.
func renderHTML(w io.Writer, r *audit.Result, o Options) error {
	m := newMatrix(r)
	page := struct {
		Summary   string
		Pass      bool
		Started   string
		Failing   []htmlFailing
		Platforms []string
		Rows      []htmlRow
		Folded    []htmlRow
		Others    []audit.Finding
		Errors    []audit.TargetError
	}{Summary: Summary(r), Pass: r.Count(audit.Error) == 0 && len(r.Errors) == 0, Platforms: m.Platforms, Others: m.Others, Errors: r.Errors}
	if !r.Stats.StartedAt.IsZero() {
		page.Started = r.Stats.StartedAt.Format("2006-01-02 15:04 UTC")
	}
	byRef := findingsByRef(r.Findings)
	for _, s := range failingRefs(r) {
		page.Failing = append(page.Failing, htmlFailing{Ref: s, Errors: errorCodes(byRef[s])})
	}
	for _, row := range m.Rows {
		hr := htmlRow{Ref: row.Image.Ref, Findings: row.Findings}
		for i, state := range row.Cells {
			class := state
			if class == cellNone {
				class = "none"
			}
			hr.Cells = append(hr.Cells, htmlCell{Class: class, Label: htmlLabel[state], Platform: m.Platforms[i]})
		}
		if len(row.Findings) == 0 && o.brief(len(m.Rows)) {
			page.Folded = append(page.Folded, hr)
		} else {
			page.Rows = append(page.Rows, hr)
		}
	}
	return htmlPage.Execute(w, page)
}
