package audit

import "fmt"

// Severity ranks findings. Errors break pulls; warnings are risks.
type Severity int

// Severities, lowest first.
const (
	Warning Severity = iota + 1
	Error
)

func (s Severity) String() string {
	switch s {
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText writes the severity as "warning" or "error".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads "warning" or "error".
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "warning":
		*s = Warning
	case "error":
		*s = Error
	default:
		return fmt.Errorf("unknown severity %q: use warning or error", b)
	}
	return nil
}

// Code names a kind of finding. Codes are a stable contract.
type Code string

// The finding codes.
const (
	MissingPlatform      Code = "missing-platform"
	NotAnIndex           Code = "not-an-index"
	PlatformMismatch     Code = "platform-mismatch"
	TagPlatformMismatch  Code = "tag-platform-mismatch"
	MissingChild         Code = "missing-child"
	DuplicatePlatform    Code = "duplicate-platform"
	MissingPlatformField Code = "missing-platform-field"
	NoncanonicalPlatform Code = "noncanonical-platform"
	OrphanAttestation    Code = "orphan-attestation"
	MixedMediaTypes      Code = "mixed-media-types"
	DigestMismatch       Code = "digest-mismatch"
)

// CodeInfo describes a finding code: its severity, what it means and how
// to fix it. The README and every report format use this text.
type CodeInfo struct {
	Code     Code     `json:"code"`
	Severity Severity `json:"severity"`
	// Summary says what the code means, in one sentence.
	Summary string `json:"summary"`
	// Hint says how to fix it, in one sentence.
	Hint string `json:"hint"`
}

var codes = []CodeInfo{
	{MissingPlatform, Error,
		"A required platform has no entry in the index, so pulls on that platform fail with \"no matching manifest\".",
		"Build and push the missing platform, then re-create the list with every platform (e.g. `docker buildx imagetools create -t TAG IMAGE-amd64 IMAGE-arm64`)."},
	{NotAnIndex, Error,
		"Several platforms are required but the tag holds a single image, often because a per-arch job overwrote the list.",
		"Re-create a multi-arch list from the per-arch images (e.g. `docker buildx imagetools create -t TAG IMAGE-amd64 IMAGE-arm64`)."},
	{PlatformMismatch, Error,
		"An index entry claims one platform but its image config says another, so clients pull the wrong binaries.",
		"Rebuild the image for the platform the index claims, or re-create the index with the platform from the image config."},
	{TagPlatformMismatch, Error,
		"The tag's name names an architecture its image is not (e.g. latest-aarch64 holding amd64).",
		"Rebuild the tag for the architecture its name promises (`docker buildx build --platform ...`), or move the image to a correctly named tag."},
	{MissingChild, Error,
		"The index references a manifest or config the registry does not have, so pulls of that platform fail.",
		"Re-push the missing image, or re-create the index without the entry."},
	{DuplicatePlatform, Warning,
		"Two index entries claim the same platform; clients pick one of them arbitrarily.",
		"Re-create the index with one entry per platform."},
	{MissingPlatformField, Error,
		"An image entry in the index has no platform, so clients cannot select it.",
		"Re-create the index with the platform of every image entry set from its config."},
	{NoncanonicalPlatform, Warning,
		"A platform is spelled in a non-canonical way (aarch64, x86_64, arm without a variant) that some clients do not match.",
		"Re-create the index (or rebuild the image) with canonical names: linux/amd64, linux/arm64, linux/arm/v7."},
	{OrphanAttestation, Warning,
		"An attestation manifest describes an image that is not in the index.",
		"Re-create the index with each attestation next to the image it describes, or drop the attestation."},
	{MixedMediaTypes, Warning,
		"A Docker manifest list holds OCI manifests, or an OCI index holds Docker manifests; some clients reject the mix.",
		"Push the list in one format: all OCI (buildx with oci-mediatypes=true) or all Docker schema 2."},
	{DigestMismatch, Error,
		"Bytes fetched from the registry do not hash to the digest that was asked for or declared: the content is corrupt or altered.",
		"Re-push the image and check the registry's storage and any proxy in front of it."},
}

// Codes returns every finding code with its description, in a stable order.
func Codes() []CodeInfo {
	return append([]CodeInfo(nil), codes...)
}

// Info returns the description of a code.
func (c Code) Info() CodeInfo {
	for _, i := range codes {
		if i.Code == c {
			return i
		}
	}
	return CodeInfo{Code: c, Severity: Error}
}

// Finding is one problem found in one image.
type Finding struct {
	// Ref is the full reference audited ("registry/repo:tag").
	Ref string `json:"ref"`
	// Digest is the manifest the finding is about: the index itself, or
	// the entry concerned.
	Digest   string   `json:"digest,omitempty"`
	Code     Code     `json:"code"`
	Severity Severity `json:"severity"`
	// Platform is the platform concerned, in containerd's format
	// ("linux/arm/v7"), when there is one.
	Platform string `json:"platform,omitempty"`
	// Message says what is wrong, with the facts.
	Message string `json:"message"`
	// Hint says how to fix it.
	Hint string `json:"hint"`
}

// String writes the finding on one line, as logs show it.
func (f Finding) String() string {
	s := fmt.Sprintf("%s %s %s", f.Severity, f.Code, f.Ref)
	if f.Platform != "" {
		s += " " + f.Platform
	}
	return s + ": " + f.Message
}
