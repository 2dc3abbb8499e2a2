package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// Signatures says which manifests of each audited tag must be signed
// (--require-signatures, a policy's require-signatures).
type Signatures int

// The manifests that must be signed. SignIndex is the manifest the tag
// points at (an index, or a single image); SignChildren each image an
// index lists (for a single image, the image itself); SignAll both.
const (
	SignIndex Signatures = 1 << iota
	SignChildren
	SignAll = SignIndex | SignChildren
)

// ParseSignatures reads index, children or all; "" and none require
// nothing.
func ParseSignatures(s string) (Signatures, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none":
		return 0, nil
	case "index":
		return SignIndex, nil
	case "children":
		return SignChildren, nil
	case "all":
		return SignAll, nil
	}
	return 0, fmt.Errorf("%q: give index, children or all", s)
}

func (s Signatures) String() string {
	switch s {
	case 0:
		return "none"
	case SignIndex:
		return "index"
	case SignChildren:
		return "children"
	case SignAll:
		return "all"
	}
	return fmt.Sprintf("signatures(%d)", int(s))
}

// Signature artifact types: a referrer of one of these types signs its
// subject. cosign writes the first with --registry-referrers-mode=oci-1-1,
// notation the second.
const (
	CosignSignatureType   = "application/vnd.dev.cosign.artifact.sig.v1+json"
	NotarySignatureType   = "application/vnd.cncf.notary.signature"
	sigstoreBundlePrefix  = "application/vnd.dev.sigstore.bundle"
	bundlePredicateType   = "dev.sigstore.bundle.predicateType"
	cosignSignPredicate   = "https://sigstore.dev/cosign/sign/v1"
	cosignSignatureSuffix = ".sig"
)

// IsSignature reports whether a referrer's descriptor is a signature: a
// cosign or notation signature artifact, or a Sigstore bundle that cosign
// annotates as a signature (not an attestation).
func IsSignature(d v1.Descriptor) bool {
	switch {
	case d.ArtifactType == CosignSignatureType, d.ArtifactType == NotarySignatureType:
		return true
	case strings.HasPrefix(d.ArtifactType, sigstoreBundlePrefix):
		return d.Annotations[bundlePredicateType] == cosignSignPredicate
	}
	return false
}

// Referrers is implemented by sources that list what refers to a manifest
// by digest: the OCI 1.1 referrers API, else the fallback tag
// sha256-<hex>. registry.Client is one. [Run] needs it, and [Siblings]
// for cosign's tags, to check --require-signatures and to compare a
// mirror's signatures with the source's.
type Referrers interface {
	Referrers(ctx context.Context, r ref.Ref) ([]v1.Descriptor, error)
}

// signedBy says how one manifest is signed, for messages: the cosign tag
// or the referrer, "" when it is not.
type signedBy string

// tags lists r's repository's tags once per run (registry.Client lists
// them once per run too; sources that do not may be asked again).
func (a *auditor) tags(ctx context.Context, r ref.Ref) ([]string, error) {
	sib, ok := a.src.(Siblings)
	if !ok {
		return nil, fmt.Errorf("%s: the source cannot list tags", r.Repo())
	}
	return a.tagLists.Do(r.Repo().String(), func() ([]string, error) { return sib.Tags(ctx, r.Repo()) })
}

// referrers lists what refers to digest in r's repository, once per run.
func (a *auditor) referrers(ctx context.Context, r ref.Ref, digest string) ([]v1.Descriptor, error) {
	src, ok := a.src.(Referrers)
	if !ok {
		return nil, nil
	}
	at := r.WithDigest(digest)
	return a.referrerLists.Do(at.String(), func() ([]v1.Descriptor, error) { return src.Referrers(ctx, at) })
}

// signed says how digest is signed in r's repository: cosign's tag
// sha256-<hex>.sig among tags, else a signature referrer (one request,
// made only when there is no such tag).
func (a *auditor) signed(ctx context.Context, r ref.Ref, tags []string, digest string) (signedBy, error) {
	if tag := ref.ReferrersTag(digest) + cosignSignatureSuffix; slices.Contains(tags, tag) {
		return signedBy("the cosign tag " + tag), nil
	}
	refs, err := a.referrers(ctx, r, digest)
	if err != nil {
		return "", err
	}
	for _, d := range refs {
		if IsSignature(d) {
			return signedBy(fmt.Sprintf("the referrer %s (%s)", ref.ShortDigest(d.Digest.String()), d.ArtifactType)), nil
		}
	}
	return "", nil
}

// requireSignatures reports each manifest of r's tree that want says must
// be signed and is not (unsigned). Artifacts, signature and referrers tags
// are not asked for signatures.
func (a *auditor) requireSignatures(ctx context.Context, o *outcome, r ref.Ref, root *tree.Node, want Signatures) {
	if want == 0 || root.IsArtifact() || ref.IsSignatureTag(r.Tag) || ref.IsReferrersTag(r.Tag) || (root.Index == nil && root.Manifest == nil) {
		return
	}
	tags, err := a.tags(ctx, r)
	if err != nil {
		o.fail(r, fmt.Errorf("listing tags to find signatures: %w", err))
		return
	}
	type subject struct {
		node *tree.Node
		what string
	}
	var check []subject
	switch {
	case root.Index == nil:
		check = append(check, subject{root, "the image"})
	default:
		if want&SignIndex != 0 {
			check = append(check, subject{root, "the index"})
		}
		if want&SignChildren != 0 {
			seen := map[v1.Hash]bool{}
			for _, img := range root.Images() {
				if img.Err != nil || seen[img.Descriptor.Digest] {
					continue // missing-child says why it cannot be read
				}
				seen[img.Descriptor.Digest] = true
				check = append(check, subject{img, "the image"})
			}
		}
	}
	info := Unsigned.Info()
	for _, s := range check {
		digest := s.node.Descriptor.Digest.String()
		by, err := a.signed(ctx, r, tags, digest)
		if err != nil {
			o.fail(r, fmt.Errorf("finding the signatures of %s: %w", ref.ShortDigest(digest), err))
			continue
		}
		if by != "" {
			continue
		}
		f := Finding{
			Ref: r, Digest: digest, Code: Unsigned, Severity: info.Severity, Hint: info.Hint,
			Message: fmt.Sprintf("%s %s has no signature (--require-signatures %s): no cosign tag %s and no signature among its referrers",
				s.what, ref.ShortDigest(digest), want, ref.ReferrersTag(digest)+cosignSignatureSuffix),
		}
		if s.node != root {
			if p := claimedOrConfig(s.node); p != nil {
				f.Platform = platform.Format(p)
			}
		}
		o.findings = append(o.findings, f)
	}
}
