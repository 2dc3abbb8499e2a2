package repair

import (
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
	// Lose: the destination holds this entry now and the new index does
	// not (a --to onto an existing tag).
	Lose Action = "lose"
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
	// NewDigest and MediaType describe the new manifest: an index, or a
	// single image for a per-arch tag.
	NewDigest string `json:"newDigest"`
	MediaType string `json:"mediaType"`
	// Changed is false when the new manifest is the old one.
	Changed bool `json:"changed"`
	// Backup is the tag the old manifest will be kept under before the
	// destination moves; nil for none.
	Backup *ref.Ref `json:"backup,omitempty"`
	// Signatures are what refers to the destination's old manifest: they
	// do not follow a new digest. Nil when nothing moves.
	Signatures []Signature `json:"signatures"`
	// Rows has one row per entry of the new index, then one per entry or
	// source left out.
	Rows []Row `json:"rows"`
	// Findings are the audit of the new index against the requirements.
	Findings []audit.Finding `json:"findings"`
	// Notes are things to know before applying.
	Notes []string `json:"notes"`

	// Manifest is the new manifest's bytes; Children where the entries of
	// a new index live (for a single image, where it lives).
	Manifest []byte  `json:"-"`
	Children []Child `json:"-"`
	// OldManifest and OldMediaType are Dest's old manifest, for a backup
	// tag.
	OldManifest  []byte          `json:"-"`
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

// Signature is something that refers to a manifest by digest and will not
// follow it to a new digest: a cosign signature, attestation or SBOM tag,
// or an OCI 1.1 referrer (from the referrers API or its fallback tag).
type Signature struct {
	// Kind says how it refers to the manifest.
	Kind SignatureKind `json:"kind"`
	// Ref names it: the cosign tag, or the referrer by digest.
	Ref ref.Ref `json:"ref"`
	// ArtifactType is a referrer's artifact type, when it has one.
	ArtifactType string `json:"artifactType,omitempty"`
}

// SignatureKind says how a [Signature] refers to a manifest.
type SignatureKind string

// Signature kinds.
const (
	// CosignTag: cosign's sha256-<hex>.sig, .att or .sbom tag.
	CosignTag SignatureKind = "cosign tag"
	// Referrer: an OCI 1.1 referrer, whose subject is the manifest.
	Referrer SignatureKind = "referrer"
)

// Unsigned reports whether applying the plan would leave signatures on the
// old digest only.
func (p *Plan) Unsigned() bool { return p.Changed && len(p.Signatures) > 0 }
