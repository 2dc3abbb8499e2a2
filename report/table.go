package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/ref"
)

// width is the column the table report wraps prose at: CI logs and
// terminals are at least this wide.
const width = 80

// renderTable writes, for each image, its reference, a table of its
// platforms and its findings with their hints; then what could not be
// audited; then a summary line. ASCII only and 80 columns wide (but for
// long references), so it pastes cleanly into any CI log.
func renderTable(w io.Writer, r *audit.Result) error {
	p := &printer{w: w}
	byRef := findingsByRef(r.Findings)
	for _, img := range r.Images {
		p.image(img)
		for _, f := range byRef[img.Ref.String()] {
			p.finding(f)
		}
		delete(byRef, img.Ref.String())
		p.line("")
	}
	// Findings about references with no image of their own: mirror copies,
	// which are compared, not audited.
	for _, f := range r.Findings {
		if _, ok := byRef[f.Ref.String()]; ok {
			p.line(f.Ref.String())
			for _, g := range byRef[f.Ref.String()] {
				p.finding(g)
			}
			delete(byRef, f.Ref.String())
			p.line("")
		}
	}
	if len(r.Errors) > 0 {
		p.line("NOT AUDITED")
		for _, e := range r.Errors {
			p.line("  " + e.Ref.String())
			p.wrapped("    ", e.Message)
		}
		p.line("")
	}
	p.line(Summary(r))
	return p.err
}

type printer struct {
	w   io.Writer
	err error
}

// line writes s, cleaned (see [clean]), and a newline.
func (p *printer) line(s string) {
	if p.err == nil {
		_, p.err = fmt.Fprintln(p.w, clean(s))
	}
}

// wrapped writes s wrapped at the report width, the first line after
// first and the rest indented to line up with it.
func (p *printer) wrapped(first, s string) {
	rest := strings.Repeat(" ", len(first))
	for i, l := range wrap(s, width-len(first)) {
		if i == 0 {
			p.line(first + l)
		} else {
			p.line(rest + l)
		}
	}
}

func (p *printer) image(img audit.Image) {
	p.line(img.Ref.String())
	p.line(kindOf(img.MediaType) + " " + ref.ShortDigest(img.Digest))
	if p.err != nil {
		return
	}
	t := newTable(p.w, "PLATFORM", "CONFIG", "DIGEST", "STATUS")
	for _, pl := range img.Platforms {
		config := pl.ConfigPlatform
		if config == "" {
			config = "-"
		}
		platformName := pl.Platform
		if pl.Attestation {
			platformName = "(attestation)"
			config = "-"
		}
		if err := appendRow(t, cell(platformName), cell(config), orDash(ref.ShortHex(pl.Digest)), strings.ToUpper(pl.Status)); err != nil {
			p.err = err
			return
		}
	}
	if err := t.Render(); err != nil {
		p.err = err
	}
}

func (p *printer) finding(f audit.Finding) {
	head := fmt.Sprintf("%-7s %s", strings.ToUpper(f.Severity.String()), f.Code)
	if f.Platform != "" {
		head += "  " + f.Platform
	}
	p.line(head)
	p.wrapped("        ", f.Message)
	p.wrapped("        fix: ", f.Hint)
}

// newTable makes the ASCII, left-aligned table every table report uses.
func newTable(w io.Writer, header ...string) *tablewriter.Table {
	t := tablewriter.NewTable(w,
		tablewriter.WithRendition(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleASCII)}),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
	)
	t.Header(header)
	return t
}

// appendRow adds a row to a table, each line of each cell cleaned (see
// [clean]): cell and foldRef clean a value before they break it over lines.
func appendRow(t *tablewriter.Table, cells ...string) error {
	for i, c := range cells {
		lines := strings.Split(c, "\n")
		for j := range lines {
			lines[j] = clean(lines[j])
		}
		cells[i] = strings.Join(lines, "\n")
	}
	return t.Append(cells)
}

// Summary is the report's last line: counts, then cost and time when the
// result carries them.
func Summary(r *audit.Result) string {
	s := fmt.Sprintf("%s audited: %s, %s", plural(len(r.Images), "image"), plural(r.Count(audit.Error), "error"), plural(r.Count(audit.Warning), "warning"))
	if len(r.Errors) > 0 {
		s += fmt.Sprintf(", %d not audited", len(r.Errors))
	}
	if r.Stats.Requests == nil {
		return s + "."
	}
	return s + fmt.Sprintf("; %s in %s.", plural(int(r.Stats.RequestsTotal), "request"), (time.Duration(r.Stats.DurationMs)*time.Millisecond).String())
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func kindOf(mt string) string {
	switch types.MediaType(mt) {
	case types.OCIImageIndex:
		return "OCI index"
	case types.DockerManifestList:
		return "Docker manifest list"
	case types.OCIManifestSchema1:
		return "OCI image"
	case types.DockerManifestSchema2:
		return "Docker image"
	}
	if mt == "" {
		return "unknown type"
	}
	return mt
}

// cell fits a platform into a table cell: a Windows os.version goes on a
// second line ("windows/amd64", "(10.0.20348.2227)"), so two platform
// columns stay within 80 columns. The platform is cleaned first, so that
// line break is the only one.
func cell(platform string) string {
	platform = clean(platform)
	open, close := strings.Index(platform, "("), strings.Index(platform, ")")
	if open < 0 || close < open {
		return platform
	}
	return platform[:open] + platform[close+1:] + "\n" + platform[open:close+1]
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Wrap breaks s into lines of at most n characters at spaces, for prose in
// reports; a word longer than n stands on its own line. Characters that are
// not printable are escaped as Go escapes them in a quoted string ("\x1b").
func Wrap(s string, n int) []string { return wrap(s, n) }

// wrap breaks s, cleaned (see [clean]), into lines of at most n characters
// at spaces; a word longer than n stands on its own line.
func wrap(s string, n int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(clean(s)) {
		if line != "" && len(line)+1+len(word) > n {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
