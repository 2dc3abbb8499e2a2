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

// FullTables is how many images a table report shows in full: beyond it,
// an image without findings gets one line (see [Options.All]).
const FullTables = 20

// Options change how [RenderWith] writes a report.
type Options struct {
	// Colour writes ANSI colours in the table report: ERROR and the
	// failing images red, WARNING yellow. Default: no colour.
	Colour bool
	// All shows every image in full: its platform table in the table
	// report, its row unfolded in markdown and HTML. Default: when there
	// are more than [FullTables] images, passing ones are brief.
	All bool
	// SARIFFile is a file in the repository (the Dockerfile that builds
	// the images, say) that SARIF results are located at, line 1, so
	// GitHub code scanning shows them. Default: none (see [SARIFWith]).
	SARIFFile string
	// ToolVersion is the mlaudit version SARIF names its tool driver with.
	// Default: none.
	ToolVersion string
}

// brief reports whether passing images are shown briefly.
func (o Options) brief(images int) bool { return !o.All && images > FullTables }

// ANSI colours, written only with [Options.Colour].
const (
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	reset  = "\x1b[0m"
)

// renderTable writes, for each image in the order of [sortedImages]
// (failing first), its reference, a table of its platforms and its
// findings with their hints; each ERROR and WARNING line names its image,
// so grep finds them. Beyond [FullTables] images, those without findings
// get one line each under PASSING. Then what could not be audited, the
// list of failing references, and a summary line. ASCII only and 80
// columns wide (but for long references), so it pastes cleanly into any CI
// log.
func renderTable(w io.Writer, r *audit.Result, o Options) error {
	p := &printer{w: w, colour: o.Colour}
	byRef := findingsByRef(r.Findings)
	images := sortedImages(r)
	var passing []audit.Image
	for _, img := range images {
		found := byRef[img.Ref.String()]
		if len(found) == 0 && o.brief(len(images)) {
			passing = append(passing, img)
			continue
		}
		p.image(img)
		for _, f := range found {
			p.finding(f)
		}
		delete(byRef, img.Ref.String())
		p.line("")
	}
	if len(passing) > 0 {
		p.line(fmt.Sprintf("PASSING (%s without findings; --show all prints their tables)", plural(len(passing), "image")))
		for _, img := range passing {
			p.line("  " + img.Ref.String())
		}
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
	if failing := failingRefs(r); len(failing) > 0 {
		p.painted(red, fmt.Sprintf("FAILING (%d of %s)", len(failing), plural(len(r.Images), "image")), "")
		for _, s := range failing {
			p.painted(red, "  "+clean(s), "")
		}
		p.line("")
	}
	p.line(Summary(r))
	return p.err
}

type printer struct {
	w      io.Writer
	colour bool
	err    error
}

// line writes s, cleaned (see [clean]), and a newline.
func (p *printer) line(s string) {
	if p.err == nil {
		_, p.err = fmt.Fprintln(p.w, clean(s))
	}
}

// painted writes head in colour (when the printer has colour) then rest,
// both cleaned, and a newline: colour codes are written only here, around
// text that is already clean.
func (p *printer) painted(colour, head, rest string) {
	head, rest = clean(head), clean(rest)
	if p.colour && head != "" {
		head = colour + head + reset
	}
	if p.err == nil {
		_, p.err = fmt.Fprintln(p.w, head+rest)
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

// finding writes a finding: a head line that names the severity, code,
// platform and image (so grep ERROR tells which images fail), then the
// message and the fix.
func (p *printer) finding(f audit.Finding) {
	sev := strings.ToUpper(f.Severity.String())
	colour := yellow
	if f.Severity == audit.Error {
		colour = red
	}
	rest := strings.Repeat(" ", max(1, 8-len(sev))) + string(f.Code)
	if f.Platform != "" {
		rest += "  " + clean(f.Platform)
	}
	rest += "  " + fitRef(clean(f.Ref.String()), width-len(sev)-len(rest)-2)
	p.painted(colour, sev, rest)
	p.wrapped("        ", f.Message)
	p.wrapped("        fix: ", f.Hint)
}

// fitRef shortens a reference to room columns, when it is longer, by
// dropping its start at a slash: ".../name:tag" keeps the tag and as many
// of the repository's last parts as fit, which tell images apart (the full
// reference heads the image's block). It never cuts the last part: a
// line overflows rather than lose the tag.
func fitRef(s string, room int) string {
	if len(s) <= room {
		return s
	}
	last := strings.LastIndexByte(s, '/')
	if at := strings.IndexByte(s, '@'); at >= 0 && at < last {
		last = strings.LastIndexByte(s[:at], '/') // a digest holds no slash, but be sure
	}
	if last < 0 {
		return s
	}
	cut := last
	for i := last - 1; i > 0; i-- {
		if s[i] == '/' && 3+len(s)-i <= room {
			cut = i
		}
	}
	return "..." + s[cut:]
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
	if r.Stats.Requests != nil {
		s += fmt.Sprintf("; %s in %s", plural(int(r.Stats.RequestsTotal), "request"), (time.Duration(r.Stats.DurationMs) * time.Millisecond).String())
	}
	if r.CompletenessNotChecked != "" {
		return s + ". Note: " + r.CompletenessNotChecked + "."
	}
	return s + "."
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
