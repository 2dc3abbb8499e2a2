package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/mlaudit/mlaudit/audit"
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

// renderJUnit writes one testcase per image, failing with one failure per
// error-level finding (warnings go to system-out); one testcase per image
// and required platform, failing when that platform is missing or wrong;
// and one erroring testcase per target that could not be audited.
func renderJUnit(w io.Writer, r *audit.Result) error {
	suite := junitSuite{Name: "mlaudit audit", Time: seconds(r.Stats.DurationMs)}
	if !r.Stats.StartedAt.IsZero() {
		suite.Timestamp = r.Stats.StartedAt.Format("2006-01-02T15:04:05")
	}
	byRef := findingsByRef(r.Findings)
	for _, img := range r.Images {
		c := junitCase{Name: img.Ref.String(), Classname: img.Ref.Repo().String(), Time: "0"}
		var warnings []string
		for _, f := range byRef[img.Ref.String()] {
			if f.Severity == audit.Error {
				c.Failures = append(c.Failures, problem(f))
			} else {
				warnings = append(warnings, fmt.Sprintf("warning %s %s: %s (fix: %s)", f.Code, f.Platform, f.Message, f.Hint))
			}
		}
		c.SystemOut = strings.Join(warnings, "\n")
		suite.Cases = append(suite.Cases, c)
		for _, req := range img.Required {
			pc := junitCase{Name: img.Ref.String() + " " + req, Classname: img.Ref.Repo().String(), Time: "0"}
			if state := cellOf(img, req); state != cellPresent {
				pc.Failures = append(pc.Failures, platformProblem(req, state, byRef[img.Ref.String()]))
			}
			suite.Cases = append(suite.Cases, pc)
		}
	}
	// References compared but not audited (mirror copies) with findings.
	for _, f := range newMatrix(r).Others {
		c := junitCase{Name: f.Ref.String(), Classname: f.Ref.Repo().String(), Time: "0"}
		if f.Severity == audit.Error {
			c.Failures = append(c.Failures, problem(f))
		} else {
			c.SystemOut = fmt.Sprintf("warning %s %s: %s (fix: %s)", f.Code, f.Platform, f.Message, f.Hint)
		}
		suite.Cases = append(suite.Cases, c)
	}
	for _, e := range r.Errors {
		suite.Cases = append(suite.Cases, junitCase{Name: e.Ref.String(), Classname: e.Ref.Repo().String(), Time: "0",
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

// platformProblem explains why a required platform is not present: the
// finding about it when there is one, else the state of its row.
func platformProblem(req, state string, findings []audit.Finding) junitProblem {
	for _, f := range findings {
		if f.Severity == audit.Error && f.Platform == req {
			return problem(f)
		}
	}
	if state == cellNone {
		state = cellMissing
	}
	return junitProblem{Message: req + ": " + state, Type: state, Text: "see the image's findings"}
}

func problem(f audit.Finding) junitProblem {
	return junitProblem{Message: string(f.Code) + ": " + f.Message, Type: string(f.Code), Text: "fix: " + f.Hint}
}

func seconds(ms int64) string { return fmt.Sprintf("%.3f", float64(ms)/1000) }
