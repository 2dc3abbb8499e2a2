package ref

import (
	"regexp"
	"strings"
)

// Tags that are not images to audit or repair, by the conventions of the
// tools that write them. Walks of repositories and registries skip them
// by default.

var (
	signatureTag = regexp.MustCompile(`^sha256-[0-9a-f]{64}\.(sig|att|sbom)$`)
	referrersTag = regexp.MustCompile(`^sha256-[0-9a-f]{64}$`)
	backupTag    = regexp.MustCompile(`(^|[-_.])` + BackupMarker + `([-_.]|$)`)
)

// BackupMarker is the word every repair backup tag holds, as its own
// part of the tag ("v1-backup-20261125"), so that later audits and walks
// know it for a backup and skip it.
const BackupMarker = "backup"

// IsSignatureTag reports whether tag is one of cosign's signature,
// attestation or SBOM tags for a digest (sha256-<hex>.sig, .att, .sbom).
func IsSignatureTag(tag string) bool { return signatureTag.MatchString(tag) }

// IsReferrersTag reports whether tag is the OCI 1.1 referrers tag of a
// digest (sha256-<hex>), which registries without the referrers API hold
// an index of referrers under.
func IsReferrersTag(tag string) bool { return referrersTag.MatchString(tag) }

// IsBackupTag reports whether tag is a repair's backup tag: it holds
// [BackupMarker] as a part of its own.
func IsBackupTag(tag string) bool { return backupTag.MatchString(strings.ToLower(tag)) }

// SignatureTags are the cosign tags of digest ("sha256:<hex>"): the tags
// a signature, an attestation or an SBOM of it is stored under.
func SignatureTags(digest string) []string {
	base := strings.Replace(digest, ":", "-", 1)
	return []string{base + ".sig", base + ".att", base + ".sbom"}
}

// ReferrersTag is the OCI 1.1 fallback referrers tag of digest.
func ReferrersTag(digest string) string { return strings.Replace(digest, ":", "-", 1) }
