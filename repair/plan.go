package repair

import (
	"errors"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/ref"
)

// Action says what a plan does with one entry.
type Action string

// Actions, as plans show them.
const (
	// Keep: an existing entry stays as it is.
	Keep Action = "keep"
	// Add: a source provides a platform the index lacks.
	Add Action = "add"
	// Replace: a source's image takes the place of a wrong existing entry
	// (or of a correct one, with PreferSources).
	Replace Action = "replace"
	// Fix: an existing entry's platform is rewritten from its config.
	Fix Action = "fix"
	// Drop: an entry leaves the index (its child is missing, it duplicates
	// another, or it attests an image that left).
	Drop Action = "drop"
	// Skip: a source's image is not used because the platform is already
	// provided.
	Skip Action = "skip"
	// Reject: a whole source is refused (its tag names an architecture its
	// image is not).
	Reject Action = "reject"
)

// Row is one line of a plan.
type Row struct {
	// Platform is the platform of the entry after the repair, in
	// containerd's format; "unknown" for none.
	Platform string `json:"platform"`
	// Digest is the manifest the row is about.
	Digest string `json:"digest,omitempty"`
	// Source is the reference the entry comes from: the target itself for
	// existing entries.
	Source ref.Ref `json:"source"`
	Action Action  `json:"action"`
	// Reason says why, in a phrase.
	Reason string `json:"reason"`
	// Attestation marks attestation manifests.
	Attestation bool `json:"attestation,omitempty"`
}

// Child is a manifest the new index lists and where it can be read from.
type Child struct {
	Digest    v1.Hash
	MediaType types.MediaType
	// From is a reference in the repository or OCI layout that holds it.
	From ref.Ref
}

// Plan is a computed repair: what the tag holds now, what it will hold, and
// why.
type Plan struct {
	// Target is the tag made whole.
	Target ref.Ref `json:"target"`
	// Dest is where the result goes: Target, or another tag.
	Dest ref.Ref `json:"dest"`
	// OldDigest is what Dest holds now ("" when the tag does not exist).
	OldDigest string `json:"oldDigest"`
	// NewDigest and MediaType describe the new index.
	NewDigest string `json:"newDigest"`
	MediaType string `json:"mediaType"`
	// Changed is false when the new index is the old one.
	Changed bool `json:"changed"`
	// Rows has one row per entry of the new index, then one per entry or
	// source left out.
	Rows []Row `json:"rows"`
	// Findings are the audit of the new index against the requirements.
	Findings []audit.Finding `json:"findings"`
	// Notes are things to know before applying (signatures that will not
	// follow the new digest).
	Notes []string `json:"notes"`

	// Index is the new index's bytes; Children where its entries live.
	Index    []byte  `json:"-"`
	Children []Child `json:"-"`
	// OldIndex and OldMediaType are Dest's old manifest, for a backup
	// tag.
	OldIndex     []byte          `json:"-"`
	OldMediaType types.MediaType `json:"-"`
}

// OK reports whether the plan satisfies the requirements and leaves no
// error-level finding: only such a plan is applied.
func (p *Plan) OK() bool {
	for _, f := range p.Findings {
		if f.Severity == audit.Error {
			return false
		}
	}
	return true
}

// Errors a repair returns, for errors.Is.
var (
	// ErrUnsatisfied is returned when the plan cannot satisfy the
	// requirements, or would leave an error-level finding; nothing was
	// written.
	ErrUnsatisfied = errors.New("the repaired index would still be wrong")
	// ErrChanged is returned when the tag changed after the plan was made;
	// the tag was not moved.
	ErrChanged = errors.New("the tag changed since the plan was made")
	// ErrNoSources is returned when the target does not exist and nothing
	// was given to build it from.
	ErrNoSources = errors.New("nothing to build from")
)
