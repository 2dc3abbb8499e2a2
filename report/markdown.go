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
// pull-request comment: a table with a row per image and a column per
// platform, then the findings with their fixes, then what was not audited.
func renderMarkdown(w io.Writer, r *audit.Result) error {
	p := &printer{w: w}
	m := newMatrix(r)
	verdict := "✅ mlaudit"
	if r.Count(audit.Error) > 0 || len(r.Errors) > 0 {
		verdict = "❌ mlaudit"
	}
	p.line("### " + verdict + ": " + Summary(r))
	p.line("")
	if len(m.Rows) > 0 {
		p.line("| image | " + strings.Join(mdEscapeAll(m.Platforms), " | ") + " |")
		p.line("|---" + strings.Repeat("|:---:", len(m.Platforms)) + "|")
		for _, row := range m.Rows {
			cells := make([]string, len(row.Cells))
			for i, c := range row.Cells {
				cells[i] = markdownCell[c]
			}
			p.line(fmt.Sprintf("| %s | %s |", mdCell(mdCode(row.Image.Ref.String())), strings.Join(cells, " | ")))
		}
		p.line("")
	}
	if len(r.Findings) > 0 {
		p.line("<details open><summary>Findings</summary>")
		p.line("")
		for _, f := range r.Findings {
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
