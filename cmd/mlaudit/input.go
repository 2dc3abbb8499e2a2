package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/ref"
)

// Parsers for what users type: each value is parsed here, once, and the
// parsed value is what the packages get.

// parseRefs parses references, naming flag (or "argument") in the error.
func parseRefs(flag string, in []string) ([]ref.Ref, error) {
	out := make([]ref.Ref, 0, len(in))
	for _, s := range in {
		r, err := ref.Parse(s)
		if err == nil {
			err = checkNotAPath(r)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// bom is the UTF-8 byte-order mark some Windows editors put at the start
// of a file.
const bom = "\ufeff"

// readTargets reads a targets file: one target a line; blank lines and
// everything after a '#' are ignored. A UTF-8 byte-order mark at the start
// of the file is skipped. Each target is parsed; an error names the file
// and line.
func readTargets(r io.Reader, name string) ([]ref.Ref, error) {
	var out []ref.Ref
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			if b := []byte(text); len(b) >= 2 && (b[0] == 0xff && b[1] == 0xfe || b[0] == 0xfe && b[1] == 0xff) {
				return nil, fmt.Errorf("%s is UTF-16; save it as UTF-8 (one target a line)", name)
			}
			text = strings.TrimPrefix(text, bom)
		}
		if i := strings.Index(text, "#"); i >= 0 {
			text = text[:i]
		}
		if strings.Contains(text, bom) {
			return nil, fmt.Errorf("%s:%d: %q holds a byte-order mark (U+FEFF), which no target may: delete it (it is invisible in most editors)", name, line, text)
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		if strings.ContainsAny(text, " \t") {
			return nil, fmt.Errorf("%s:%d: %q holds more than one word; write one target a line", name, line, text)
		}
		t, err := ref.Parse(text)
		if err == nil {
			err = checkNotAPath(t)
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return out, nil
}

// readTargetsFile reads --targets-file, "-" being standard input.
func readTargetsFile(cmd *cobra.Command, path string) ([]ref.Ref, error) {
	if path == "-" {
		return readTargets(cmd.InOrStdin(), "standard input")
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--targets-file: %w", err)
	}
	defer file.Close()
	return readTargets(file, path)
}

// failOn is the lowest finding severity that makes an audit exit 1, or
// never.
type failOn struct {
	min   audit.Severity
	never bool
}

// parseFailOn reads --fail-on: error, warning or never.
func parseFailOn(s string) (failOn, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "error":
		return failOn{min: audit.Error}, nil
	case "warning":
		return failOn{min: audit.Warning}, nil
	case "never":
		return failOn{never: true}, nil
	}
	return failOn{}, fmt.Errorf("--fail-on %q: use error, warning or never", s)
}

// fails reports whether r has a finding at or above the threshold.
func (f failOn) fails(r *audit.Result) bool { return !f.never && r.Fails(f.min) }
