package report

import (
	"strconv"
	"strings"
	"unicode/utf8"
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

// clean makes text safe to print: every rune that is not printable
// (strconv.IsPrint, or the ASCII space) is written as strconv.Quote writes
// it, without the quotes: ESC as \x1b, a newline as \n, a carriage return
// as \r, a bidi override as \u202e; a byte that is not UTF-8 as \xff.
// Printable text, quotes and backslashes included, is unchanged, so
// ordinary text reads as it did, and clean(clean(s)) == clean(s). The
// result is one line of printable runes: it cannot move the cursor,
// recolour the terminal, overwrite a line or reorder what follows it.
func clean(s string) string {
	i := unprintable(s)
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[s[i]>>4])
			b.WriteByte(hexDigits[s[i]&0xf])
		case printable(r):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

const hexDigits = "0123456789abcdef"

func printable(r rune) bool { return r == ' ' || strconv.IsPrint(r) }

// unprintable is the index of the first byte of s that [clean] escapes,
// or len(s).
func unprintable(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
		if !printable(r) {
			return i
		}
	}
	return len(s)
}

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
