package report

import (
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/ref"
)

// renderSARIF writes SARIF 2.1.0 for code-scanning dashboards: one rule per
// finding code (with what it means, why it matters and how to fix it as
// help), and one result per finding (see [SARIF] for where each is
// located). Targets that could not be audited are tool execution
// notifications.
func renderSARIF(w io.Writer, r *audit.Result, o Options) error {
	doc := SARIFWith(r, o)
	return doc.PrettyWrite(w)
}

// SARIF builds the SARIF report of r, for callers that validate it.
func SARIF(r *audit.Result) *sarif.Report { return SARIFWith(r, Options{}) }

// SARIFWith builds the SARIF report of r with o.
//
// Where a result is: an image is not a file, and GitHub code scanning
// shows only results located at a file of the repository (it rejects or
// drops others), so each result says its reference in its message and
// carries it as a logical location (kind "image"), which any SARIF viewer
// can show. It also has a physical location, with a region at line 1, when
// there is a file to point at: [Options.SARIFFile] (the Dockerfile that
// builds the image, say) for every result, else the index.json of an OCI
// layout given by a relative path (a buildx archive unpacked in the
// checkout). A registry reference gets no physical location: a docker://
// URI is valid SARIF but not a repository file, and GitHub's upload fails
// on a URI scheme it does not know, which would lose every result.
func SARIFWith(r *audit.Result, o Options) *sarif.Report {
	doc := sarif.NewReport()
	run := sarif.NewRunWithInformationURI("mlaudit", "https://github.com/mlaudit/mlaudit")
	run.Tool.Driver.WithName("mlaudit")
	if o.ToolVersion != "" {
		run.Tool.Driver.WithVersion(o.ToolVersion)
	}
	for _, info := range audit.Codes() {
		help := info.Summary + " " + info.Why + " Fix: " + info.Hint
		run.AddRule(string(info.Code)).
			WithName(ruleName(info.Code)).
			WithDescription(info.Summary).
			WithFullDescription(sarif.NewMultiformatMessageString().WithText(info.Summary + " " + info.Why)).
			WithHelp(sarif.NewMultiformatMessageString().WithText(help).WithMarkdown("**" + info.Summary + "**\n\n" + info.Why + "\n\n**Fix:** " + info.Hint)).
			WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(level(info.Severity)))
	}
	for _, f := range r.Findings {
		msg := f.Ref.String() + ": "
		if f.Platform != "" {
			msg += f.Platform + ": "
		}
		msg += f.Message
		location := sarif.NewLocation().WithLogicalLocations([]*sarif.LogicalLocation{
			sarif.NewLogicalLocation().WithFullyQualifiedName(f.Ref.String()).WithKind("image"),
		})
		if uri := fileOf(f.Ref, o); uri != "" {
			location.WithPhysicalLocation(sarif.NewPhysicalLocation().
				WithArtifactLocation(sarif.NewArtifactLocation().WithURI(uri)).
				WithRegion(sarif.NewRegion().WithStartLine(1)))
		}
		// WithPartialFingerprints, not AddPartialFingerprint: go-sarif's
		// Add writes into a nil map on a new result.
		run.CreateResultForRule(string(f.Code)).
			WithLevel(level(f.Severity)).
			WithMessage(sarif.NewTextMessage(msg + " Fix: " + f.Hint)).
			AddLocation(location).
			WithPartialFingerprints(map[string]string{"mlaudit/v1": string(f.Code) + "|" + f.Ref.String() + "|" + f.Platform + "|" + f.Digest})
	}
	if len(r.Errors) > 0 {
		inv := sarif.NewInvocation().WithExecutionSuccessful(false)
		for _, e := range r.Errors {
			inv.AddToolExecutionNotification(sarif.NewNotification().
				WithLevel("error").
				WithMessage(sarif.NewTextMessage(e.Ref.String() + " was not audited: " + e.Message)))
		}
		run.AddInvocation(inv)
	} else {
		run.AddInvocation(sarif.NewInvocation().WithExecutionSuccessful(true))
	}
	doc.AddRun(run)
	return doc
}

// fileOf is the repository file a result about at is located at, as a
// relative URI, or "" for none (see [SARIFWith]).
func fileOf(at ref.Ref, o Options) string {
	if o.SARIFFile != "" {
		return uriPath(filepath.ToSlash(o.SARIFFile))
	}
	if at.Scheme == ref.Layout && at.Path != "" && !filepath.IsAbs(at.Path) {
		p := filepath.ToSlash(filepath.Clean(at.Path))
		if p != ".." && !strings.HasPrefix(p, "../") {
			return uriPath(path.Join(p, "index.json"))
		}
	}
	return ""
}

// uriPath percent-encodes the bytes of s that are not RFC 3986 path
// characters (unreserved, sub-delims, ':', '@' and '/'), '%' included.
func uriPath(s string) string {
	const keep = "-._~!$&'()*+,;=:@/"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func level(s audit.Severity) string {
	if s == audit.Error {
		return "error"
	}
	return "warning"
}

// ruleName is a code in the PascalCase SARIF viewers show
// ("MissingPlatform").
func ruleName(c audit.Code) string {
	var b strings.Builder
	for _, part := range strings.Split(string(c), "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}
