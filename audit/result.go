package audit

import (
	"time"

	"github.com/mlaudit/mlaudit/deep"
	"github.com/mlaudit/mlaudit/ref"
)

// Result is everything an audit found, in the order targets were given.
type Result struct {
	// Images has one entry per reference audited.
	Images []Image `json:"images"`
	// Findings has every finding, grouped by image.
	Findings []Finding `json:"findings"`
	// Errors has every target or reference that could not be audited
	// (network, authentication, not found, unreadable content).
	Errors []TargetError `json:"errors"`
	// Stats counts the cost of the audit.
	Stats Stats `json:"stats"`
	// CompletenessNotChecked is set when no image audited had platforms
	// required (--require, a policy) or inferred (per-arch sibling tags):
	// nothing said which platforms a tag must hold, so a tag that lost
	// platforms passes. It says so, and how to check.
	CompletenessNotChecked string `json:"completenessNotChecked,omitempty"`
	// Shard is the part of the audit this result holds (--shard), nil
	// for a whole audit or a merge of every shard.
	Shard *Shard `json:"shard,omitempty"`
}

// Image is one reference audited: an index or a single image.
type Image struct {
	// Ref is the reference audited, canonical in JSON
	// ("registry/repo:tag").
	Ref ref.Ref `json:"ref"`
	// Digest and MediaType are the manifest's the reference resolved to.
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	// Platforms has one entry per image in the index (nested indexes
	// flattened), attestations included, then one per required platform
	// that is missing. A single image has one entry.
	Platforms []PlatformEntry `json:"platforms"`
	// Required lists the platforms the image was required to provide
	// (none for a per-arch tag, which is judged by its name).
	Required []string `json:"required,omitempty"`
	// Inferred lists the platforms the image was found to lack without
	// being required: those its per-arch sibling tags hold (--per-arch).
	Inferred []string `json:"inferred,omitempty"`
	// Artifact is true when the reference holds an artifact or referrer
	// (an SBOM, a signature, a referrers index), not an image: only its
	// integrity is checked.
	Artifact bool `json:"artifact,omitempty"`
}

// Status values of a [PlatformEntry].
const (
	StatusOK             = "ok"
	StatusMismatch       = "mismatch"
	StatusMissing        = "missing"
	StatusMissingChild   = "missing-child"
	StatusDigestMismatch = "digest-mismatch"
	StatusNoPlatform     = "no-platform"
	StatusDuplicate      = "duplicate"
	StatusUnreadable     = "unreadable"
	StatusAttestation    = "attestation"
	StatusArtifact       = "artifact"
)

// PlatformEntry is one image of an index, or a required platform that is
// missing.
type PlatformEntry struct {
	// Platform is what the index claims ("linux/arm64"); for a single
	// image, what its config says; "unknown" when the entry has none.
	Platform string `json:"platform"`
	// Digest is the image manifest's digest ("" for a missing platform).
	Digest string `json:"digest,omitempty"`
	// ConfigPlatform is what the image config says, when it was read.
	ConfigPlatform string `json:"configPlatform,omitempty"`
	// Attestation is true for attestation manifests.
	Attestation bool `json:"attestation"`
	// Status is one of ok, mismatch, missing, missing-child,
	// digest-mismatch, no-platform, duplicate, unreadable, attestation,
	// artifact.
	Status string `json:"status"`
	// Binaries are the executables the deep check read (--deep), with the
	// architecture each is built for.
	Binaries []deep.Binary `json:"binaries,omitempty"`
}

// TargetError is a target or reference that could not be audited.
type TargetError struct {
	Ref     ref.Ref `json:"ref"`
	Message string  `json:"message"`
	// Err is the error itself, for callers to classify with errors.Is
	// and errors.As; Message is its text.
	Err error `json:"-"`
}

// Stats is what the audit cost.
type Stats struct {
	// Requests counts HTTP requests by "METHOD kind" ("GET manifest").
	Requests map[string]int64 `json:"requests"`
	// RequestsTotal is the sum of Requests.
	RequestsTotal int64 `json:"requestsTotal"`
	// Pulls counts manifest GETs: what Docker Hub charges as pulls.
	Pulls int64 `json:"pulls"`
	// CacheHits counts manifests and configs served from memory or the
	// on-disk cache instead of a GET.
	CacheHits int64 `json:"cacheHits"`
	// RateLimitRemaining is the last allowance each registry host
	// announced (Docker Hub's ratelimit-remaining).
	RateLimitRemaining map[string]int `json:"rateLimitRemaining,omitempty"`
	// DurationMs is the wall time of the audit in milliseconds.
	DurationMs int64 `json:"durationMs"`
	// StartedAt is when the audit started.
	StartedAt time.Time `json:"startedAt"`
	// DeepBytes counts the compressed layer bytes the deep check read.
	DeepBytes int64 `json:"deepBytes,omitempty"`
}

// Worst returns the highest severity among the findings, or 0 if there are
// none.
func (r *Result) Worst() Severity {
	var worst Severity
	for _, f := range r.Findings {
		if f.Severity > worst {
			worst = f.Severity
		}
	}
	return worst
}

// Fails reports whether any finding is at or above severity min.
func (r *Result) Fails(min Severity) bool {
	return r.Worst() != 0 && r.Worst() >= min
}

// Count returns how many findings have severity s.
func (r *Result) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}
