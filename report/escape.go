package report

import (
	"strings"

	"github.com/mlaudit/mlaudit/internal/safetext"
)

// Registry text (tag and repository names, platforms, media types,
// annotations, error bodies, and the findings that quote them) is written by
// whoever runs the registry. The text reports pass it through [clean] where
// they write it: printer.line for every line of the table reports,
// appendRow for every table cell, and the formatters that measure or break
// text before that (wrap, cell, foldRef). Markdown adds [mdEscape] and
// [mdCode]; HTML has html/template and [clean]. JSON, SARIF, JUnit and
// Prometheus are written by their encoders, which escape what their syntax
// needs (encoding/xml replaces the characters XML 1.0 forbids with U+FFFD).

// clean makes registry text safe to print, on one line: see
// [safetext.Line].
func clean(s string) string { return safetext.Line(s) }

// mdReplacer escapes what could turn plain text into markdown other than
// emphasis: a link or image ([ and ]), HTML or an autolink (< and >), an
// entity such as &#x202e; (&), a code span (`), a table cell (|), and the
// backslash that would escape the escapes.
var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "[", `\[`, "]", `\]`, "|", `\|`,
	"<", "&lt;", ">", "&gt;", "&", "&amp;",
)

// mdEscape makes registry text plain text in markdown, in a table cell or
// out of one: cleaned, so it stays on its line, then escaped, so it never
// becomes a link, an image, HTML, code or another cell. Emphasis (* _ ~)
// and GitHub's bare-URL autolinks are left as they are.
func mdEscape(s string) string {
	return mdReplacer.Replace(clean(s))
}

func mdEscapeAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = mdEscape(s)
	}
	return out
}

// mdCode writes registry text as a code span, in which markdown shows every
// character as it is: cleaned, fenced by one backtick more than its longest
// run of backticks, and padded with a space when it starts or ends with a
// backtick (or with a space at both ends, which markdown would strip).
func mdCode(s string) string {
	s = clean(s)
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") ||
		strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ") && strings.Trim(s, " ") != "" {
		s = " " + s + " "
	}
	fence := strings.Repeat("`", longest+1)
	return fence + s + fence
}

// mdCell keeps a code span in its table cell. GitHub splits a table row at
// every pipe, in a code span too, unless a backslash escapes it; and it
// reads a backslash before that backslash as escaping it instead. In the
// span, each escaped backslash shows as two.
func mdCell(code string) string {
	if !strings.Contains(code, "|") {
		return code
	}
	return strings.NewReplacer(`\`, `\\`, "|", `\|`).Replace(code)
}
