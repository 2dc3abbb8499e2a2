// Package safetext makes text that others wrote (registries, layouts,
// error bodies) safe to write to a terminal or a text report: one line of
// printable runes that cannot move the cursor, recolour the terminal or
// reorder what follows. The reports, the -v request log and the CLI's
// error line all pass registry text through it.
package safetext

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Line makes text safe to print: every rune that is not printable
// (strconv.IsPrint, or the ASCII space) is written as strconv.Quote writes
// it, without the quotes: ESC as \x1b, a newline as \n, a carriage return
// as \r, a bidi override as \u202e; a byte that is not UTF-8 as \xff.
// Printable text, quotes and backslashes included, is unchanged, so
// ordinary text reads as it did, and Line(Line(s)) == Line(s). The
// result is one line of printable runes: it cannot move the cursor,
// recolour the terminal, overwrite a line or reorder what follows it.
func Line(s string) string {
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

// unprintable is the index of the first byte of s that [Line] escapes,
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

// Lines is [Line] for each line of s: the line breaks stay, everything else
// that is not printable is escaped. For messages of several lines (a
// policy's list of problems) that quote others' text.
func Lines(s string) string {
	parts := strings.Split(s, "\n")
	for i, p := range parts {
		parts[i] = Line(p)
	}
	return strings.Join(parts, "\n")
}
