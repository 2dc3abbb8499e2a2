package repair

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// Input is what a repair starts from.
type Input struct {
	// Target is the tag to make whole.
	Target ref.Ref
	// Current is what Target holds now; nil when the tag does not exist.
	Current *tree.Node
	// Sources are images or indexes to take platforms from, most preferred
	// first.
	Sources []Source
	// Require lists the platforms the result must provide.
	Require []platform.Platform
	// Fix rewrites wrong or non-canonical entry platforms from their
	// configs, drops entries whose child is missing, and drops duplicates
	// (keeping the first correct one).
	Fix bool
	// PreferSources lets a source replace an existing entry that is
	// correct.
	PreferSources bool
	// Tags are the tags of Target's repository, to count the signature
	// tags of the images the new manifest lists.
	Tags []string
	// Signatures are what refers to the destination's current manifest
	// (its cosign tags and OCI 1.1 referrers): they do not follow a new
	// digest.
	Signatures []Signature
	// Dest, when set (not the zero Ref), is where the result goes instead
	// of Target, and DestCurrent what it holds now (nil when it does not
	// exist).
	Dest        ref.Ref
	DestCurrent *tree.Node
}

// Source is an image or index to take platforms from.
type Source struct {
	Ref ref.Ref
	// Node is what it holds.
	Node *tree.Node
}

// Build computes the plan for in. It reads only what in holds: plans can
// be tested on trees built by hand.
//
// It works in four steps, one file each: the target's existing entries
// are classified (classify.go), the sources are weighed against them
// (sources.go), attestations follow their images (attestations.go), and
// the index is assembled and audited (assemble.go).
func Build(in Input) (*Plan, error) {
	if in.Current == nil && len(in.Sources) == 0 {
		return nil, fmt.Errorf("%w: %s does not exist and no sources were given to build it from", ErrNoSources, in.Target)
	}
	b := &builder{in: in, byKey: map[string]*slot{}}
	b.existing()
	for _, src := range in.Sources {
		b.source(src)
	}
	b.settleWrong()
	b.attestations()
	return b.plan()
}

// fault is what is wrong with an existing image entry.
type fault int

const (
	// sound: nothing is wrong.
	sound fault = iota
	// broken: its manifest or config is missing, altered or unreadable.
	broken
	// mislabelled: the platform it claims is not its config's.
	mislabelled
	// unlabelled: it claims no platform.
	unlabelled
)

// origin is how an entry came to be in the new index.
type origin int

const (
	// existing: it was in the target's index (or was the target's image).
	existing origin = iota
	// replacing: a source's image took the place of an existing entry.
	replacing
	// appended: a source's image added a platform the index lacked.
	appended
)

// slot is one entry of the index being built.
type slot struct {
	desc v1.Descriptor
	node *tree.Node
	from ref.Ref
	row  Row
	// fault is what is wrong with an existing entry; why says it.
	fault   fault
	why     string
	origin  origin
	dropped bool
	// within, on a nested index's platforms, is the nested index's slot:
	// the platform is provided there.
	within *slot
}

// key is the platform the slot takes in the new index.
func (s *slot) key() string { return platform.Format(platform.FromV1(s.desc.Platform)) }

type builder struct {
	in Input
	// order is every existing entry, attestations included, in index
	// order: the new index keeps it, so a rebuild that changes nothing
	// keeps its bytes and digest.
	order  []*slot
	slots  []*slot // existing image entries, in index order, then additions
	byKey  map[string]*slot
	atts   []*slot // attestations, existing first
	srcAtt []*slot // attestations offered by source indexes
	out    []Row   // entries and sources left out
}
