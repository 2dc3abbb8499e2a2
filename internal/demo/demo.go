// Package demo runs mlaudit's main job on an embedded default: it starts
// go-containerregistry's in-process registry on a loopback port, seeds it
// with the stories mlaudit exists for (package stories), audits them,
// prints the report, then repairs the AIBrix list from its per-arch tags
// and audits it again. It needs no network and no set-up.
package demo

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/deep"
	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/repair"
	"github.com/mlaudit/mlaudit/report"
)

// Options tune [Run].
type Options struct {
	// Format is the report format; table prints one section per story.
	Format report.Format
	// Report is how reports are written (colour, the version for SARIF).
	Report report.Options
	// Registry options (for example request logging) for the client.
	Registry []registry.Option
}

// Run seeds the stories into a fresh in-process registry and a temporary
// OCI layout, audits them and writes the report to w. It returns the audit
// result.
func Run(ctx context.Context, w io.Writer, opts Options) (*audit.Result, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the demo registry on loopback: %w", err)
	}
	srv := &http.Server{Handler: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))}
	go srv.Serve(ln) //nolint:errcheck // Serve returns when Close is called below.
	defer srv.Close()

	dir, err := os.MkdirTemp("", "mlaudit-demo-")
	if err != nil {
		return nil, fmt.Errorf("making a directory for the demo's OCI layout: %w", err)
	}
	defer os.RemoveAll(dir)

	seeder, err := registry.New()
	if err != nil {
		return nil, err
	}
	dest := stories.Dest{Registry: ln.Addr().String(), LayoutDir: dir}
	var targets []audit.Target
	sections := make([]section, 0, len(stories.All()))
	for _, s := range stories.All() {
		seeded, err := s.Seed(ctx, seeder, dest)
		if err != nil {
			return nil, err
		}
		sec := section{story: s}
		for _, t := range seeded {
			targets = append(targets, t.Audit())
			sec.repos = append(sec.repos, t.Ref.Repo())
			for _, m := range t.Mirrors {
				if copy, err := t.Ref.Rebase(m); err == nil {
					sec.repos = append(sec.repos, copy.Repo())
				}
			}
			sec.require = t.Require
		}
		sections = append(sections, sec)
	}

	// A client of its own, so stats and logs show only the audit.
	auditClient, err := registry.New(opts.Registry...)
	if err != nil {
		return nil, err
	}
	result := audit.Run(ctx, auditClient, targets, audit.Options{Deep: &deep.Inspector{Limits: deep.DefaultLimits}})
	if opts.Format != report.Table {
		return result, report.RenderWith(w, opts.Format, result, opts.Report)
	}
	if err := renderSections(w, sections, result, opts.Report); err != nil {
		return nil, err
	}
	runtime, err := ref.Parse(dest.Registry + "/" + stories.AIBrixRuntime)
	if err != nil {
		return nil, err
	}
	return result, repairAIBrix(ctx, w, seeder, runtime)
}

// repairAIBrix rebuilds the list that lost linux/amd64 from its per-arch
// tags, as `mlaudit repair --apply` does, and shows the audit after.
func repairAIBrix(ctx context.Context, w io.Writer, client *registry.Client, target ref.Ref) error {
	job := repair.Job{
		Request: repair.Request{Target: target, PerArch: []string{"{tag}-{arch}"}, Require: stories.TwoArch()},
		Apply:   true,
	}
	fmt.Fprintln(w, "7. Repair")
	fmt.Fprintln(w, "=========")
	for _, l := range report.Wrap("The AIBrix list is rebuilt from its per-arch tags, as the team did by hand:", 78) {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintf(w, "  mlaudit repair --per-arch '{tag}-{arch}' --require %s \\\n    --apply %s\n\n", platform.FormatList(job.Require), target)
	verify, err := registry.New()
	if err != nil {
		return err
	}
	show := func(p *repair.Plan) error { return report.RenderPlan(w, p) }
	outcome, err := repair.Run(ctx, client, job, show, verify)
	if err != nil {
		return err
	}
	if err := report.RenderApplied(w, outcome); err != nil {
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Now your own images:")
	fmt.Fprintln(w, "  mlaudit audit --require linux/amd64,linux/arm64 REGISTRY/REPO:TAG")
	fmt.Fprintln(w, "  mlaudit repair --per-arch '{tag}-{arch}' --require linux/amd64,linux/arm64 \\")
	fmt.Fprintln(w, "    REGISTRY/REPO:TAG")
	return nil
}

// section is one story's part of the report: its targets' repositories
// and their mirror copies' (per-arch tags are in the same repositories).
type section struct {
	story   stories.Story
	repos   []ref.Ref
	require []platform.Platform
}

// owns reports whether r is in one of the section's repositories.
func (s section) owns(r ref.Ref) bool {
	for _, repo := range s.repos {
		if r.SameRepository(repo) {
			return true
		}
	}
	return false
}

func renderSections(w io.Writer, sections []section, result *audit.Result, o report.Options) error {
	fmt.Fprintf(w, "mlaudit demo: %d real multi-arch failures, seeded into an in-process registry\n\n", len(sections))
	for i, sec := range sections {
		heading := fmt.Sprintf("%d. %s", i+1, sec.story.Source)
		fmt.Fprintf(w, "%s\n%s\n", heading, strings.Repeat("=", len(heading)))
		for _, l := range report.Wrap(sec.story.Title, 78) {
			fmt.Fprintln(w, l)
		}
		fmt.Fprintf(w, "Required: %s\n\n", platform.FormatList(sec.require))
		if err := report.RenderWith(w, report.Table, filter(result, sec.owns), o); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "All stories:\n  %s\n\n", report.Summary(result))
	return nil
}

// filter keeps the parts of r about references owns accepts. Stats are
// whole-run only, so they are left out.
func filter(r *audit.Result, owns func(ref.Ref) bool) *audit.Result {
	out := &audit.Result{}
	for _, img := range r.Images {
		if owns(img.Ref) {
			out.Images = append(out.Images, img)
		}
	}
	for _, f := range r.Findings {
		if owns(f.Ref) {
			out.Findings = append(out.Findings, f)
		}
	}
	for _, e := range r.Errors {
		if owns(e.Ref) {
			out.Errors = append(out.Errors, e)
		}
	}
	return out
}
