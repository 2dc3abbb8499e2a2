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
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/repair"
	"github.com/mlaudit/mlaudit/report"
	"github.com/mlaudit/mlaudit/stories"
)

// Options tune [Run].
type Options struct {
	// Format is the report format; table prints one section per story.
	Format report.Format
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
			require, err := platform.ParseList(t.Require)
			if err != nil {
				return nil, err
			}
			targets = append(targets, audit.Target{Name: t.Ref, Require: require, PerArch: t.PerArch, Mirrors: t.Mirrors, Deep: t.Deep})
			sec.repos = append(sec.repos, repoPath(t.Ref))
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
		return result, report.Render(w, opts.Format, result)
	}
	if err := renderSections(w, sections, result); err != nil {
		return nil, err
	}
	return result, repairAIBrix(ctx, w, seeder, dest.Registry+"/"+stories.AIBrixRuntime)
}

// repairAIBrix rebuilds the list that lost linux/amd64 from its per-arch
// tags, applies it to the embedded registry, and audits it again.
func repairAIBrix(ctx context.Context, w io.Writer, client *registry.Client, target string) error {
	require, err := platform.ParseList("linux/amd64,linux/arm64")
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "7. Repair")
	fmt.Fprintln(w, "=========")
	for _, l := range report.Wrap("The AIBrix list is rebuilt from its per-arch tags, as the team did by hand:", 78) {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintf(w, "  mlaudit repair --per-arch '{tag}-{arch}' --require linux/amd64,linux/arm64 \\\n    --apply %s\n\n", target)
	plan, err := repair.Prepare(ctx, client, repair.Request{Target: target, PerArch: []string{"{tag}-{arch}"}, Require: require})
	if err != nil {
		return err
	}
	if err := report.RenderPlan(w, report.Table, plan, nil); err != nil {
		return err
	}
	applied, err := repair.Apply(ctx, client, plan, repair.ApplyOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Applied: the tag moved from %s to %s.\n", short(applied.OldDigest), short(applied.NewDigest))
	fmt.Fprintln(w, "Audited again:")
	fmt.Fprintln(w)
	fresh, err := registry.New()
	if err != nil {
		return err
	}
	after := audit.Run(ctx, fresh, []audit.Target{{Name: target, Require: require}}, audit.Options{})
	if err := report.Render(w, report.Table, after); err != nil {
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Now your own images:")
	fmt.Fprintln(w, "  mlaudit audit --require linux/amd64,linux/arm64 REGISTRY/REPO:TAG")
	fmt.Fprintln(w, "  mlaudit repair --per-arch '{tag}-{arch}' --require linux/amd64,linux/arm64 REGISTRY/REPO:TAG")
	return nil
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}

// section is one story's part of the report: its targets' repositories,
// with the per-arch tags and mirror copies found from them.
type section struct {
	story   stories.Story
	repos   []string
	require string
}

// owns reports whether ref is in one of the section's repositories, or a
// mirror copy of one.
func (s section) owns(ref string) bool {
	for _, repo := range s.repos {
		if strings.HasSuffix(repoPath(ref), "/"+repo) || repoPath(ref) == repo {
			return true
		}
	}
	return false
}

// repoPath is a reference without its host (or layout directory) and tag.
func repoPath(ref string) string {
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		ref = ref[:i]
	} else if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	if i := strings.Index(ref, "/"); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

func renderSections(w io.Writer, sections []section, result *audit.Result) error {
	fmt.Fprintf(w, "mlaudit demo: %d real multi-arch failures, seeded into an in-process registry\n\n", len(sections))
	for i, sec := range sections {
		heading := fmt.Sprintf("%d. %s", i+1, sec.story.Source)
		fmt.Fprintf(w, "%s\n%s\n", heading, strings.Repeat("=", len(heading)))
		for _, l := range report.Wrap(sec.story.Title, 78) {
			fmt.Fprintln(w, l)
		}
		fmt.Fprintf(w, "Required: %s\n\n", sec.require)
		if err := report.Render(w, report.Table, filter(result, sec.owns)); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "All stories:\n  %s\n\n", report.Summary(result))
	return nil
}

// filter keeps the parts of r about references owns accepts. Stats are
// whole-run only, so they are left out.
func filter(r *audit.Result, owns func(string) bool) *audit.Result {
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
