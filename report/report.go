package report

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/mlaudit/mlaudit/audit"
)

// Format names an output format.
type Format string

// The output formats.
const (
	Table      Format = "table"
	JSON       Format = "json"
	Markdown   Format = "markdown"
	JUnit      Format = "junit"
	SARIFFmt   Format = "sarif"
	Prometheus Format = "prometheus"
	HTML       Format = "html"
)

// renderers maps each format to the function that writes it.
var renderers = map[Format]func(io.Writer, *audit.Result, Options) error{
	Table:      renderTable,
	JSON:       renderJSON,
	Markdown:   renderMarkdown,
	JUnit:      renderJUnit,
	SARIFFmt:   renderSARIF,
	Prometheus: renderPrometheus,
	HTML:       renderHTML,
}

// Formats lists the formats, sorted.
func Formats() []string {
	var out []string
	for f := range renderers {
		out = append(out, string(f))
	}
	sort.Strings(out)
	return out
}

// ErrUnknownFormat is wrapped by the errors of [ParseFormat].
var ErrUnknownFormat = errors.New("unknown report format")

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := renderers[f]; !ok {
		return "", fmt.Errorf("%w %q: use one of %s", ErrUnknownFormat, s, strings.Join(Formats(), ", "))
	}
	return f, nil
}

// Render writes r to w in format f, with the default options.
func Render(w io.Writer, f Format, r *audit.Result) error {
	return RenderWith(w, f, r, Options{})
}

// RenderWith writes r to w in format f, with options o.
func RenderWith(w io.Writer, f Format, r *audit.Result, o Options) error {
	render, ok := renderers[f]
	if !ok {
		return fmt.Errorf("unknown report format %q", f)
	}
	return render(w, r, o)
}
