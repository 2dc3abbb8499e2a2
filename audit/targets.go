package audit

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// ReadTargets reads a targets file: one target a line; blank lines and
// everything after a '#' are ignored. name is used in errors.
func ReadTargets(r io.Reader, name string) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.Index(text, "#"); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		if strings.ContainsAny(text, " \t") {
			return nil, fmt.Errorf("%s:%d: %q holds more than one word; write one target a line", name, line, text)
		}
		out = append(out, text)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return out, nil
}

// FailOn is the lowest severity that makes an audit fail; [Never] fails on
// nothing.
type FailOn Severity

// Never makes no finding fail the audit.
const Never FailOn = 1 << 10

// ParseFailOn reads --fail-on: error, warning or never.
func ParseFailOn(s string) (FailOn, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "error":
		return FailOn(Error), nil
	case "warning":
		return FailOn(Warning), nil
	case "never":
		return Never, nil
	}
	return 0, fmt.Errorf("--fail-on %q: use error, warning or never", s)
}

// Fails reports whether any finding is at or above the threshold.
func (r *Result) Fails(threshold FailOn) bool {
	return r.Worst() != 0 && FailOn(r.Worst()) >= threshold
}
