package safetext_test

import (
	"testing"

	"github.com/mlaudit/mlaudit/internal/safetext"
)

func TestLine(t *testing.T) {
	for in, want := range map[string]string{
		"ghcr.io/org/app:1.0":        "ghcr.io/org/app:1.0",
		"red \x1b[31mtext\x1b[0m":    `red \x1b[31mtext\x1b[0m`,
		"over\rwrite":                `over\rwrite`,
		"two\nlines":                 `two\nlines`,
		"bidi \u202eevil":            `bidi \u202eevil`,
		"bad \xff byte":              `bad \xff byte`,
		`quotes "and" \backslashes\`: `quotes "and" \backslashes\`,
		"tab\there":                  `tab\there`,
		"ünïcödé stays":              "ünïcödé stays",
	} {
		if got := safetext.Line(in); got != want {
			t.Errorf("Line(%q) = %q, want %q", in, got, want)
		}
		if got := safetext.Line(safetext.Line(in)); got != safetext.Line(in) {
			t.Errorf("Line is not idempotent on %q", in)
		}
	}
	if got := safetext.Lines("file:2: bad\nfile:3: \x1b[2Jworse"); got != "file:2: bad\nfile:3: \\x1b[2Jworse" {
		t.Errorf("Lines = %q", got)
	}
}
