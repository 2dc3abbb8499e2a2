package audit

import (
	"fmt"

	"github.com/mlaudit/mlaudit/ref"
)

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
	StaleArchTag         Code = "stale-arch-tag"
	MirrorDrift          Code = "mirror-drift"
	BinaryArchMismatch   Code = "binary-arch-mismatch"
	PlatformDropped      Code = "platform-dropped"
	OrphanReferrer       Code = "orphan-referrer"
	Unsigned             Code = "unsigned"
)

// CodeInfo describes a finding code: its severity, what it means, why it
// matters and how to fix it. `mlaudit codes`, the README, SARIF rule help
// and every report use this text.
type CodeInfo struct {
	Code     Code     `json:"code"`
	Severity Severity `json:"severity"`
	// Summary says what the code means, in one sentence.
	Summary string `json:"summary"`
	// Why says what goes wrong for users, in one sentence.
	Why string `json:"why"`
	// Hint says how to fix it, in one sentence.
	Hint string `json:"hint"`
}

var codes = []CodeInfo{
	{MissingPlatform, Error,
		"A required platform has no entry in the index.",
		"Pulls on that platform fail with \"no matching manifest\", and so do mirror and sync jobs that copy the list for it.",
		"Build and push the missing platform, then re-create the list with every platform (`mlaudit repair --per-arch '{tag}-{arch}'`, or `docker buildx imagetools create -t TAG IMAGE-amd64 IMAGE-arm64`)."},
	{NotAnIndex, Error,
		"Several platforms are required but the tag holds a single image.",
		"Every other platform gets the wrong image or none; this is what a per-arch CI job overwriting a multi-arch tag leaves behind.",
		"Re-create a multi-arch list from the per-arch images (`mlaudit repair --per-arch '{tag}-{arch}'`, or `docker buildx imagetools create`)."},
	{PlatformMismatch, Error,
		"An index entry claims one platform but its image config says another.",
		"Clients pull that image for the claimed platform and fail with \"exec format error\", or run it under emulation without knowing.",
		"Rebuild the image for the platform the index claims, or re-create the index with the platform from the image config (`mlaudit repair --fix`)."},
	{TagPlatformMismatch, Error,
		"The tag's name names an architecture its image is not (e.g. latest-aarch64 holding amd64).",
		"Users who pick the tag for their architecture get \"does not match the specified platform\", or run the wrong binaries under emulation.",
		"Rebuild the tag for the architecture its name promises (`docker buildx build --platform ...`), or move the image to a correctly named tag."},
	{MissingChild, Error,
		"The index references a manifest or config the registry does not have (or an artifact, such as an SBOM, names a subject it does not have).",
		"Pulls of that platform fail, and so does copying the whole list (skopeo copy --all, crane copy).",
		"Re-push the missing image, or re-create the index without the entry (`mlaudit repair --fix`)."},
	{DuplicatePlatform, Warning,
		"Two index entries claim the same platform.",
		"Clients pick one of them arbitrarily, so two machines may run different images.",
		"Re-create the index with one entry per platform (`mlaudit repair --fix`)."},
	{MissingPlatformField, Error,
		"An image entry in the index has no platform.",
		"Clients cannot select it, so the image is unreachable by platform.",
		"Re-create the index with the platform of every image entry set from its config (`mlaudit repair --fix`)."},
	{NoncanonicalPlatform, Warning,
		"A platform is spelled in a non-canonical way (aarch64, x86_64, arm without a variant).",
		"Clients and registries that match platforms literally do not find the entry.",
		"Re-create the index (`mlaudit repair --fix`) or rebuild the image with canonical names: linux/amd64, linux/arm64, linux/arm/v7."},
	{OrphanAttestation, Warning,
		"An attestation manifest describes an image that is not in the index.",
		"Its provenance or SBOM is attached to nothing, so verifiers cannot use it.",
		"Re-create the index with each attestation next to the image it describes, or drop the attestation (`mlaudit repair` does both)."},
	{MixedMediaTypes, Warning,
		"A Docker manifest list holds OCI manifests (an OCI index holding Docker manifests, as Docker Official Images with Windows entries are, is fine).",
		"Docker's manifest list format allows only Docker manifests: registries such as GCR and Quay have refused such lists, and clients without OCI support cannot pull those entries.",
		"Push the list as an OCI index (buildx with oci-mediatypes=true, `docker buildx imagetools create`), or convert every entry to Docker schema 2."},
	{DigestMismatch, Error,
		"Bytes fetched from the registry do not hash to the digest that was asked for or declared.",
		"The content is corrupt or altered, so nothing built on it can be trusted.",
		"Re-push the image and check the registry's storage and any proxy in front of it."},
	{StaleArchTag, Warning,
		"A per-arch tag (latest-arm64) points to another image than the multi-arch tag's entry for that platform.",
		"Users of the per-arch tag run an older (or newer) build than users of the multi-arch tag, and nobody notices.",
		"Push the per-arch tags and the multi-arch list from the same build, or rebuild the list from the per-arch tags (`mlaudit repair --per-arch '{tag}-{arch}' --prefer-sources`)."},
	{MirrorDrift, Error,
		"A mirror's copy of the tag lacks platforms, holds other images than the source, or lacks the signatures and referrers the source has for them.",
		"Users of the mirror pull something else than users of the source, or nothing at all for the missing platform; without the signatures, admission controllers refuse the mirror's images.",
		"Copy the whole list again (`skopeo copy --all`, `crane copy`) with its signatures and referrers (`cosign copy`, `regctl image copy --referrers`), and audit the source before syncing."},
	{BinaryArchMismatch, Error,
		"The image's executables are built for another architecture than its config and index say (found with --deep).",
		"On a real machine of that architecture it fails with \"exec format error\"; under QEMU emulation in CI it runs, slowly, and hides the mistake.",
		"Build or download the binaries for the target platform ($TARGETARCH in a Dockerfile, or cross-compile from $BUILDPLATFORM), then rebuild the image."},
	{PlatformDropped, Warning,
		"A release tag holds fewer platforms than the release before it, in version order (found when walking a repository).",
		"Users on the dropped platform who upgrade get \"no matching manifest\"; a build job that failed for one architecture often leaves exactly this.",
		"Build and push the dropped platform and re-create the list (`mlaudit repair --per-arch '{tag}-{arch}'`); if the drop is intended, say so in the release notes and ignore the code for that repository."},
	{OrphanReferrer, Warning,
		"A signature, attestation or referrers tag (sha256-<hex>, sha256-<hex>.sig) names a subject no tag of the repository reaches (found when walking a repository).",
		"A retag or a rebuilt index left it behind: verifiers of the current tags do not see it, and the stale tag misleads whoever reads the tag list.",
		"Sign or attach again to the digest the tag points at now (`cosign sign IMAGE@DIGEST`), then delete the stale tag (`crane delete`, `regctl tag delete`)."},
	{Unsigned, Error,
		"A manifest that must be signed (`--require-signatures index`, `children` or `all`) has no signature: no cosign tag sha256-<hex>.sig and no signature among its OCI 1.1 referrers.",
		"Admission controllers that verify signatures (Kyverno, Sigstore policy-controller, Ratify) refuse to run it, or, where they check only the index, run children nobody signed.",
		"Sign the digest the tag points at, and each child with `cosign sign --recursive` (or `notation sign`), after the last push; sign again after any repair, whose new index has a new digest."},
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
	// Ref is the reference the finding is about: the one audited, or its
	// per-arch sibling or mirror copy.
	Ref ref.Ref `json:"ref"`
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
