package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/ref"
)

// renderSARIF writes SARIF 2.1.0 for code-scanning dashboards: one rule per
// finding code (with what it means, why it matters and how to fix it as
// help), and one result per finding, located at the image reference.
// Targets that could not be audited are tool execution notifications.
func renderSARIF(w io.Writer, r *audit.Result) error {
	doc := SARIF(r)
	return doc.PrettyWrite(w)
}

// SARIF builds the SARIF report of r, for callers that validate it.
func SARIF(r *audit.Result) *sarif.Report {
	doc := sarif.NewReport()
	run := sarif.NewRunWithInformationURI("mlaudit", "https://github.com/mlaudit/mlaudit")
	run.Tool.Driver.WithName("mlaudit")
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
		msg := f.Message
		if f.Platform != "" {
			msg = f.Platform + ": " + msg
		}
		location := sarif.NewLocationWithPhysicalLocation(
			sarif.NewPhysicalLocation().WithArtifactLocation(sarif.NewArtifactLocation().WithURI(artifactURI(f.Ref))))
		location.WithLogicalLocations([]*sarif.LogicalLocation{
			sarif.NewLogicalLocation().WithFullyQualifiedName(f.Ref.String()).WithKind("image"),
		})
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

// artifactURI writes a reference as the URI SARIF requires: registry
// references as docker://REF (skopeo's transport syntax; a bare
// "host:port/repo" does not parse as a URI), layout references as they are
// (oci:DIR:TAG is already one). A byte a URI path may not hold (a space, a
// control, a pipe, a backtick, anything not ASCII: a layout's directory and
// ref names may hold them) is percent-encoded, so one such reference does
// not make the report invalid.
func artifactURI(at ref.Ref) string {
	if at.Scheme == ref.Layout {
		return uriPath(at.String())
	}
	return "docker://" + uriPath(at.String())
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
