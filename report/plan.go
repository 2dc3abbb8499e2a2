package report

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/repair"
)

// RenderPlan writes a repair plan as a table: before and after, a row per
// entry (and per entry the destination loses), the reason for each row,
// what the result would still break, the signatures that would stay
// behind, and notes. In JSON, plans are part of [RenderRepairs].
func RenderPlan(w io.Writer, p *repair.Plan) error {
	pr := &printer{w: w}
	pr.line("Repair plan for " + p.Target.String())
	if !p.Dest.Equal(p.Target) {
		pr.line("  writing to " + p.Dest.String())
	}
	before := "nothing (the tag does not exist)"
	if p.OldDigest != "" {
		before = kindOf(string(p.OldMediaType)) + " " + ref.ShortDigest(p.OldDigest)
	}
	after := kindOf(p.MediaType) + " " + ref.ShortDigest(p.NewDigest)
	if !p.Changed {
		after += " (unchanged)"
	}
	pr.line("  now:   " + before)
	pr.line("  after: " + after)
	if p.Backup != nil {
		pr.line("  backup of the old manifest: " + p.Backup.String())
	}
	if pr.err != nil {
		return pr.err
	}
	t := newTable(w, "ACTION", "PLATFORM", "DIGEST", "FROM")
	for _, r := range p.Rows {
		plat := r.Platform
		if r.Attestation {
			plat = "(attestation)"
		}
		if err := appendRow(t, string(r.Action), cell(plat), orDash(ref.ShortHex(r.Digest)), foldRef(from(p, r.Source), 30)); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	pr.line("Why:")
	for _, r := range p.Rows {
		plat := r.Platform
		if r.Attestation {
			plat = "attestation " + ref.ShortHex(r.Digest)
		}
		pr.wrapped(fmt.Sprintf("  %-7s ", r.Action), plat+": "+r.Reason)
	}
	if len(p.Findings) > 0 {
		pr.line("")
		if p.OK() {
			pr.line("The result would still have warnings:")
		} else {
			pr.line("The result would still be wrong:")
		}
		for _, f := range p.Findings {
			pr.finding(f)
		}
	}
	if p.Unsigned() {
		pr.line("")
		pr.line("Signed: these refer to the old manifest and will not follow the new one:")
		for _, s := range p.Signatures {
			what := string(s.Kind)
			if s.ArtifactType != "" {
				what += " (" + s.ArtifactType + ")"
			}
			pr.line("  " + what)
			pr.line("    " + s.Ref.Brief(p.Dest))
		}
	}
	for _, n := range p.Notes {
		pr.line("")
		pr.wrapped("Note: ", n)
	}
	pr.line("")
	return pr.err
}

// from names where an entry comes from, briefly: the tag itself, another
// tag of the same repository (":tag"), or a full reference.
func from(p *repair.Plan, source ref.Ref) string {
	if source.Equal(p.Target) {
		return "(this tag)"
	}
	return source.Brief(p.Target)
}

// RenderApplied says what applying a repair moved, how to put it back,
// what to sign again, and the audit of the result. It writes nothing for a
// dry run, and never says "Applied" unless the tag was read back holding
// the new manifest.
func RenderApplied(w io.Writer, o *repair.Outcome) error {
	if o.Applied == nil {
		return nil
	}
	pr := &printer{w: w}
	a, dest := o.Applied, o.Plan.Dest
	switch {
	case a.Moved:
		pr.wrapped("Applied: ", dest.String()+" (read back: it holds the new manifest)")
	case o.Err == nil:
		pr.line(dest.String() + " already holds this manifest; nothing was written.")
	default:
		pr.wrapped("NOT applied: ", dest.String()+" (see the summary below)")
	}
	pr.line("  old: " + orNothing(a.OldDigest))
	if a.Moved {
		pr.line("  new: " + a.NewDigest)
	}
	if a.Backup != nil {
		pr.wrapped("", "The old manifest is kept as "+a.Backup.String()+".")
	}
	if (a.Moved || errors.Is(o.Err, repair.ErrNotConfirmed)) && a.OldDigest != "" && dest.Scheme == ref.Registry {
		// A command to paste: one line, however long.
		pr.line("To put it back:")
		pr.line(fmt.Sprintf("  crane tag %s %s", dest.WithDigest(a.OldDigest), dest.Tag))
	}
	if a.Moved && len(o.Plan.Signatures) > 0 {
		pr.line("Its old signatures stay on " + ref.ShortDigest(a.OldDigest) + "; sign the new manifest:")
		pr.line(fmt.Sprintf("  cosign sign --key KEY %s", dest.WithDigest(a.NewDigest)))
	}
	pr.line("")
	if pr.err != nil || o.Audit == nil {
		return pr.err
	}
	pr.line("Audited again:")
	pr.line("")
	return Render(w, Table, o.Audit)
}

func orNothing(digest string) string {
	if digest == "" {
		return "nothing"
	}
	return digest
}

// foldRef breaks a long reference, cleaned (see [clean]), after its
// slashes into lines of at most n characters (a longer path segment stands
// on its own line), so a table column of references stays narrow.
func foldRef(ref string, n int) string {
	ref = clean(ref)
	if len(ref) <= n {
		return ref
	}
	var lines []string
	line := ""
	for _, part := range strings.SplitAfter(ref, "/") {
		if line != "" && len(line)+len(part) > n {
			lines = append(lines, line)
			line = ""
		}
		line += part
	}
	return strings.Join(append(lines, line), "\n")
}
