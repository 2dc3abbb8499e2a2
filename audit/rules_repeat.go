package audit

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// repeat is an entry for a nested index, with the index that lists it.
type repeat struct {
	parent, index *tree.Node
}

// checkRepeatedIndexes reports a nested index listed more than once, by
// one index or by several (duplicate-platform): every platform below it
// is claimed once per entry. Its images are read, shown and checked once,
// so a registry cannot make the audit's work grow with the number of
// paths; the finding comes once per listing index and repeated index,
// with the count.
func checkRepeatedIndexes(c *checker) {
	if len(c.repeats) == 0 {
		return
	}
	first := map[v1.Hash]*tree.Node{}
	for _, f := range c.firstListed {
		first[f.index.Descriptor.Digest] = f.parent
	}
	type pair struct{ parent, index v1.Hash }
	count := map[pair]int{}
	var order []repeat
	for _, r := range c.repeats {
		k := pair{r.parent.Descriptor.Digest, r.index.Descriptor.Digest}
		if count[k] == 0 {
			order = append(order, r)
		}
		count[k]++
	}
	claims := map[v1.Hash][]*platform.Platform{}
	for _, r := range order {
		digest := r.index.Descriptor.Digest
		names, ok := claims[digest]
		if !ok {
			names = claimedBelow(r.index)
			claims[digest] = names
		}
		if len(names) == 0 {
			continue // nothing below it claims a platform to duplicate
		}
		var p *platform.Platform
		if len(names) == 1 {
			p = names[0]
		}
		n := count[pair{r.parent.Descriptor.Digest, digest}]
		parent, index := short(r.parent), short(r.index)
		where := fmt.Sprintf("index %s lists index %s again, %d times in all", parent, index, n+1)
		if f := first[digest]; f != nil && f.Descriptor.Digest != r.parent.Descriptor.Digest {
			where = fmt.Sprintf("index %s lists index %s again, %s, after index %s listed it", parent, index, timesWord(n), short(f))
		}
		c.add(DuplicatePlatform, digest.String(), p, "%s: its platforms (%s) are claimed once per entry, and clients pick one entry arbitrarily; mlaudit reads it once", where, listSome(names, 8))
	}
}

// claimedBelow lists the platforms the image entries below idx claim,
// each once, in index order.
func claimedBelow(idx *tree.Node) []*platform.Platform {
	var out []*platform.Platform
	seen := map[string]bool{}
	for _, img := range idx.Images() {
		if p := img.Claimed(); !platform.Empty(p) {
			if name := platform.Format(p); !seen[name] {
				seen[name] = true
				out = append(out, p)
			}
		}
	}
	return out
}

func timesWord(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

func short(n *tree.Node) string { return ref.ShortDigest(n.Descriptor.Digest.String()) }

// listSome names at most limit platforms, saying how many more there are.
func listSome(ps []*platform.Platform, limit int) string {
	var names []string
	for _, p := range ps[:min(len(ps), limit)] {
		names = append(names, platform.Format(p))
	}
	if len(ps) > limit {
		names = append(names, fmt.Sprintf("and %d more", len(ps)-limit))
	}
	return strings.Join(names, ", ")
}
