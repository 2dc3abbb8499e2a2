package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/ref"
)

// The JUnit XML below follows the Jenkins / Maven Surefire schema that CI
// test dashboards read. It is written with encoding/xml because no
// maintained Go library writes JUnit for anything but `go test` output.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string         `xml:"name,attr"`
	Classname string         `xml:"classname,attr"`
	Time      string         `xml:"time,attr"`
	Failures  []junitProblem `xml:"failure,omitempty"`
	Errors    []junitProblem `xml:"error,omitempty"`
	SystemOut string         `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// renderJUnit writes one testcase per image, in the order of
// [sortedImages]: a failing image (an error-level finding) fails with one
// failure that lists every error with its fix, so failures counts failing
// images, however many ways each is broken; warnings go to system-out.
// Then one testcase per compared copy (mirror) with findings, and one
// erroring testcase per target that could not be audited.
//
// The reference is the testcase's name; the classname is its repository
// with dots written as underscores (see [classname]), because Jenkins and
// GitLab read a classname as a dotted Java package and class.
func renderJUnit(w io.Writer, r *audit.Result, _ Options) error {
	suite := junitSuite{Name: "mlaudit audit", Time: seconds(r.Stats.DurationMs)}
	if !r.Stats.StartedAt.IsZero() {
		suite.Timestamp = r.Stats.StartedAt.Format("2006-01-02T15:04:05")
	}
	byRef := findingsByRef(r.Findings)
	for _, img := range sortedImages(r) {
		suite.Cases = append(suite.Cases, junitCaseOf(img.Ref, byRef[img.Ref.String()]))
	}
	// References compared but not audited (mirror copies) with findings.
	seen := map[string]bool{}
	for _, f := range newMatrix(r).Others {
		if !seen[f.Ref.String()] {
			seen[f.Ref.String()] = true
			suite.Cases = append(suite.Cases, junitCaseOf(f.Ref, byRef[f.Ref.String()]))
		}
	}
	for _, e := range r.Errors {
		suite.Cases = append(suite.Cases, junitCase{Name: e.Ref.String(), Classname: classname(e.Ref), Time: "0",
			Errors: []junitProblem{{Message: "not audited", Type: "error", Text: e.Message}}})
	}
	for _, c := range suite.Cases {
		suite.Tests++
		if len(c.Failures) > 0 {
			suite.Failures++
		}
		if len(c.Errors) > 0 {
			suite.Errors++
		}
	}
	doc := junitSuites{Name: "mlaudit", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Time: suite.Time, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitCaseOf is the testcase of one reference: one failure for all its
// errors, its warnings in system-out.
func junitCaseOf(at ref.Ref, findings []audit.Finding) junitCase {
	c := junitCase{Name: at.String(), Classname: classname(at), Time: "0"}
	var errs, warnings []string
	var first audit.Finding
	for _, f := range findings {
		line := fmt.Sprintf("%s %s %s: %s (fix: %s)", f.Severity, f.Code, f.Platform, f.Message, f.Hint)
		if f.Severity != audit.Error {
			warnings = append(warnings, line)
			continue
		}
		if len(errs) == 0 {
			first = f
		}
		errs = append(errs, line)
	}
	if len(errs) > 0 {
		msg := string(first.Code)
		if first.Platform != "" {
			msg += " " + first.Platform
		}
		if len(errs) > 1 {
			msg += fmt.Sprintf(" and %d more", len(errs)-1)
		}
		c.Failures = []junitProblem{{Message: msg, Type: string(first.Code), Text: strings.Join(errs, "\n")}}
	}
	c.SystemOut = strings.Join(warnings, "\n")
	return c
}

// classname is a reference's repository as a JUnit classname: Jenkins
// and GitLab split a classname at its dots into packages and a class, so
// "ghcr.io/org/app" would show as class "io/org/app" in package "ghcr".
// Dots become underscores ("ghcr_io/org/app"); the testcase's name keeps
// the reference as it is.
func classname(at ref.Ref) string {
	return strings.ReplaceAll(at.Repo().String(), ".", "_")
}

func seconds(ms int64) string { return fmt.Sprintf("%.3f", float64(ms)/1000) }
