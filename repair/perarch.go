package repair

import (
	"fmt"
	"slices"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// planPerArch makes a per-arch tag ("latest-aarch64") hold one image of
// the architecture its name promises, as a single image: the tag's own
// (or one of its index's) when it is right and sources are not preferred,
// else the first right image of the sources. Requirements do not apply: a
// per-arch tag is judged by its name, as audits judge it.
func (b *builder) planPerArch(p *Plan, dest *tree.Node, named platform.TagArch) (*Plan, error) {
	type candidate struct {
		node *tree.Node
		from ref.Ref
	}
	right := func(n *tree.Node) bool {
		cfg := configPlatform(n)
		return n.Err == nil && cfg != nil && named.Matches(*cfg)
	}
	var own, offered []candidate
	if cur := b.in.Current; cur != nil {
		for _, n := range cur.Images() {
			own = append(own, candidate{n, b.in.Target})
		}
	}
	for _, src := range b.in.Sources {
		for _, n := range src.Node.Images() {
			offered = append(offered, candidate{n, src.Ref})
		}
	}
	order := slices.Concat(own, offered)
	if b.in.PreferSources {
		order = slices.Concat(offered, own)
	}
	var chosen *candidate
	for i := range order {
		if right(order[i].node) {
			chosen = &order[i]
			break
		}
	}
	for _, c := range slices.Concat(own, offered) {
		if chosen != nil && c.node == chosen.node {
			continue
		}
		action, why := Skip, "not the image chosen for "+named.String()
		if c.from.Equal(b.in.Target) {
			action, why = Drop, "a per-arch tag holds one image, of "+named.String()
		}
		if !right(c.node) {
			why = "it is " + platform.Format(configPlatform(c.node)) + ", and the tag names " + named.String()
		}
		p.Rows = append(p.Rows, Row{Platform: platform.Format(configPlatform(c.node)), Digest: c.node.Descriptor.Digest.String(), Source: c.from, Action: action, Reason: why})
	}
	if chosen == nil {
		info := audit.TagPlatformMismatch.Info()
		p.Findings = append(p.Findings, audit.Finding{Ref: p.Dest, Code: audit.TagPlatformMismatch, Severity: info.Severity, Hint: info.Hint,
			Message: fmt.Sprintf("the tag names %s, but neither it nor any source holds a %s image", named, named)})
		if dest != nil {
			p.setResult(dest.Raw, dest.MediaType(), dest.Descriptor.Digest.String())
		}
		b.finish(p, dest)
		return p, nil
	}
	n := chosen.node
	action, why := Add, "the image the tag's name promises"
	switch {
	case chosen.from.Equal(b.in.Target) && b.in.Current.Index == nil:
		action, why = Keep, "correct"
	case chosen.from.Equal(b.in.Target):
		action, why = Keep, "the index's "+named.String()+" image, as a single image"
	case b.in.Current != nil:
		action, why = Replace, "the tag names "+named.String()+"; this source's image is one"
	}
	row := Row{Platform: platform.Format(configPlatform(n)), Digest: n.Descriptor.Digest.String(), Source: chosen.from, Action: action, Reason: why}
	p.Rows = append([]Row{row}, p.Rows...)
	p.Children = []Child{{Digest: n.Descriptor.Digest, MediaType: n.MediaType(), From: chosen.from}}
	p.setResult(n.Raw, n.MediaType(), n.Descriptor.Digest.String())
	single := *n
	single.Descriptor.Platform, single.Descriptor.Annotations = nil, nil
	b.judge(p, &single, nil)
	b.finish(p, dest)
	return p, nil
}
