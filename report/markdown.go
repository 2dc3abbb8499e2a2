package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/mlaudit/mlaudit/audit"
)

// markdownCell shows a matrix state in a GitHub-flavoured table.
var markdownCell = map[string]string{
	cellPresent:  "✅",
	cellWarning:  "⚠️ duplicate",
	cellMismatch: "❌ mismatch",
	cellMissing:  "❌ missing",
	cellBroken:   "❌ broken",
	cellNone:     "·",
}

// renderMarkdown writes a summary for a GitHub Actions step summary or a
// pull-request comment: the verdict, the failing images with their error
// codes, a table with a row per image (failing first) and a column per
// platform, then the findings with their fixes, then what was not audited.
// Beyond [FullTables] images, the rows of passing images are folded.
func renderMarkdown(w io.Writer, r *audit.Result, o Options) error {
	p := &printer{w: w}
	m := newMatrix(r)
	verdict := "✅ mlaudit"
	if r.Count(audit.Error) > 0 || len(r.Errors) > 0 {
		verdict = "❌ mlaudit"
	}
	p.line("### " + verdict + ": " + Summary(r))
	p.line("")
	byRef := findingsByRef(r.Findings)
	if failing := failingRefs(r); len(failing) > 0 {
		p.line(fmt.Sprintf("**Failing (%d of %s):**", len(failing), plural(len(r.Images), "image")))
		p.line("")
		for _, s := range failing {
			p.line("- " + mdCode(s) + ": " + mdEscape(errorCodes(byRef[s])))
		}
		p.line("")
	}
	var shown, folded []matrixRow
	for _, row := range m.Rows {
		if len(row.Findings) == 0 && o.brief(len(m.Rows)) {
			folded = append(folded, row)
		} else {
			shown = append(shown, row)
		}
	}
	if len(shown) > 0 {
		p.markdownMatrix(m.Platforms, shown)
	}
	if len(folded) > 0 {
		p.line(fmt.Sprintf("<details><summary>Passing: %s without findings</summary>", plural(len(folded), "image")))
		p.line("")
		p.markdownMatrix(m.Platforms, folded)
		p.line("</details>")
		p.line("")
	}
	if len(r.Findings) > 0 {
		p.line("<details open><summary>Findings</summary>")
		p.line("")
		for _, row := range m.Rows {
			p.markdownFindings(row.Findings)
		}
		p.markdownFindings(m.Others)
		p.line("")
		p.line("</details>")
		p.line("")
	}
	if len(r.Errors) > 0 {
		p.line("**Not audited:**")
		p.line("")
		for _, e := range r.Errors {
			p.line(fmt.Sprintf("- %s: %s", mdCode(e.Ref.String()), mdEscape(e.Message)))
		}
		p.line("")
	}
	return p.err
}

func (p *printer) markdownMatrix(platforms []string, rows []matrixRow) {
	p.line("| image | " + strings.Join(mdEscapeAll(platforms), " | ") + " |")
	p.line("|---" + strings.Repeat("|:---:", len(platforms)) + "|")
	for _, row := range rows {
		cells := make([]string, len(row.Cells))
		for i, c := range row.Cells {
			cells[i] = markdownCell[c]
		}
		p.line(fmt.Sprintf("| %s | %s |", mdCell(mdCode(row.Image.Ref.String())), strings.Join(cells, " | ")))
	}
	p.line("")
}

func (p *printer) markdownFindings(findings []audit.Finding) {
	for _, f := range findings {
		where := mdCode(f.Ref.String())
		if f.Platform != "" {
			where += " " + mdEscape(f.Platform)
		}
		icon := "⚠️"
		if f.Severity == audit.Error {
			icon = "❌"
		}
		p.line(fmt.Sprintf("- %s **%s** %s: %s  ", icon, f.Code, where, mdEscape(f.Message)))
		p.line("  Fix: " + f.Hint)
	}
}

// errorCodes names the error-level findings of one image, briefly:
// "missing-platform linux/arm/v7, platform-mismatch windows/amd64".
func errorCodes(findings []audit.Finding) string {
	var parts []string
	for _, f := range findings {
		if f.Severity == audit.Error {
			s := string(f.Code)
			if f.Platform != "" {
				s += " " + f.Platform
			}
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}
