package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/mlaudit/mlaudit/report"
)

// reportFlags are the flags of the commands that write an audit's report
// (audit, merge), read once by parse.
type reportFlags struct {
	format, output, failOn, show, sarifFile string
}

// reportConfig is what the report flags say.
type reportConfig struct {
	format  report.Format
	output  string // "" is standard output
	failOn  failOn
	options report.Options
}

func (f *reportFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&f.format, "format", "table", "output format: "+strings.Join(report.Formats(), ", "))
	fl.StringVarP(&f.output, "output", "o", "", "write the report to this file instead of standard output")
	fl.StringVar(&f.failOn, "fail-on", "error", "lowest finding severity that exits 1: error, warning or never")
	fl.StringVar(&f.show, "show", "failing", "which images the report shows in full: failing (beyond 20 images, passing ones get a line each) or all")
	fl.StringVar(&f.sarifFile, "sarif-file", "", "with --format sarif, place results at this file of your repository, line 1 (e.g. Dockerfile), so GitHub code scanning shows them")
}

// parse reads the flags; base holds what comes from the terminal and the
// build (colour, version).
func (f *reportFlags) parse(base report.Options) (reportConfig, error) {
	format, err := report.ParseFormat(f.format)
	if err != nil {
		return reportConfig{}, fmt.Errorf("--format: %w", err)
	}
	failOn, err := parseFailOn(f.failOn)
	if err != nil {
		return reportConfig{}, err
	}
	o := base
	switch f.show {
	case "all":
		o.All = true
	case "failing":
	default:
		return reportConfig{}, fmt.Errorf("--show %q: give failing or all", f.show)
	}
	o.SARIFFile = f.sarifFile
	return reportConfig{format: format, output: f.output, failOn: failOn, options: o}, nil
}
