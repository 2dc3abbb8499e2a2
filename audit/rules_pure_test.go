package audit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/treetest"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// The tests in this file audit trees built by hand with treetest: no
// registry, no HTTP, no disk. rules_test.go covers the same ground through
// a registry.

const (
	ociIndex   = types.OCIImageIndex
	dockerList = types.DockerManifestList
)

// errServer stands for a read failure that is neither missing content nor
// altered content (a 500, a malformed manifest).
var errServer = errors.New("unexpected status 500")

// entry is img as an index lists it, claiming p.
func entry(img *tree.Node, p string) *tree.Node { return treetest.Entry(img, p) }

// unreadable is n as an index lists it when reading its manifest failed
// with err, as the registry leaves it: nothing below the descriptor.
func unreadable(n *tree.Node, err error) *tree.Node {
	c := *n
	c.Raw, c.Manifest, c.Config, c.Index, c.Children = nil, nil, nil, nil, nil
	c.Err = err
	return &c
}

// alteredConfig is n as the registry leaves it when its config's bytes do
// not hash to the config's digest: the manifest read, the config not.
func alteredConfig(n *tree.Node) *tree.Node {
	c := *n
	c.Config = nil
	c.Err = &tree.DigestMismatchError{What: "config", Want: n.Manifest.Config.Digest, Got: treetest.Digest("another config")}
	return &c
}

// failedIndex is an index that was read but not walked, as the registry
// leaves one nested too deep or with too many entries: Index set, no
// children, Err set.
func failedIndex(err error, children ...*tree.Node) *tree.Node {
	n := treetest.Index(ociIndex, children...)
	n.Children = nil
	n.Err = err
	return n
}

// unreadableRoot is a root whose manifest could not be used at all.
func unreadableRoot(err error) *tree.Node {
	return &tree.Node{
		Descriptor: treetest.Index(ociIndex).Descriptor,
		Err:        err,
	}
}

func mustRef(t testing.TB, s string) ref.Ref {
	t.Helper()
	r, err := ref.Parse(s)
	if err != nil {
		t.Fatalf("ref.Parse(%q): %v", s, err)
	}
	return r
}

func mustPrefix(t testing.TB, s string) ref.Ref {
	t.Helper()
	r, err := ref.ParsePrefix(s)
	if err != nil {
		t.Fatalf("ref.ParsePrefix(%q): %v", s, err)
	}
	return r
}

func mustPlatforms(t testing.TB, s string) []platform.Platform {
	t.Helper()
	p, err := platform.ParseList(s)
	if err != nil {
		t.Fatalf("platform.ParseList(%q): %v", s, err)
	}
	return p
}

// codes writes findings as sorted "code platform" strings, the platform
// left out when the finding has none.
func codes(findings []audit.Finding) []string {
	out := []string{}
	for _, f := range findings {
		s := string(f.Code)
		if f.Platform != "" {
			s += " " + f.Platform
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// located writes findings as sorted "ref code platform" strings, for runs
// where findings belong to several references.
func located(findings []audit.Finding) []string {
	out := []string{}
	for _, f := range findings {
		s := f.Ref.String() + " " + string(f.Code)
		if f.Platform != "" {
			s += " " + f.Platform
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// statuses lists the rows' statuses in report order.
func statuses(img audit.Image) []string {
	out := []string{}
	for _, p := range img.Platforms {
		out = append(out, p.Status)
	}
	return out
}

// only returns the one finding with code, failing the test otherwise.
func only(t *testing.T, findings []audit.Finding, code audit.Code) audit.Finding {
	t.Helper()
	var found []audit.Finding
	for _, f := range findings {
		if f.Code == code {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s finding, got %v", code, found)
	}
	return found[0]
}

func TestRulesPure(t *testing.T) {
	amd := treetest.Image("amd", "linux/amd64")
	arm := treetest.Image("arm", "linux/arm64")
	armv7 := treetest.Image("armv7", "linux/arm/v7")
	// A second amd64 build, different from amd.
	amd2 := treetest.Image("amd2", "linux/amd64")

	win17763 := treetest.DockerImage("ltsc2019", "windows/amd64:10.0.17763.5458")
	win20348 := treetest.DockerImage("ltsc2022", "windows/amd64:10.0.20348.2227")

	tests := []struct {
		name    string
		ref     string
		require string
		root    *tree.Node
		// want is the findings as sorted "code platform" strings.
		want []string
		// status is the rows' statuses, in report order; nil skips the
		// check.
		status []string
		// required is Image.Required, comma-joined.
		required string
		// problems is how many parts of the tree could not be checked.
		problems int
		// check, when set, asserts what else the case is about.
		check func(t *testing.T, img audit.Image, findings []audit.Finding, problems []error)
	}{
		{
			name:    "healthy two-arch index with attestations",
			ref:     "registry.example.com/app:1.0",
			require: "linux/amd64,linux/arm64",
			root: treetest.Index(ociIndex,
				entry(amd, "linux/amd64"), entry(arm, "linux/arm64"),
				treetest.Attestation(amd), treetest.Attestation(arm)),
			status:   []string{audit.StatusOK, audit.StatusOK, audit.StatusAttestation, audit.StatusAttestation},
			required: "linux/amd64,linux/arm64",
			check: func(t *testing.T, img audit.Image, _ []audit.Finding, _ []error) {
				if img.MediaType != string(ociIndex) {
					t.Errorf("media type = %q, want %q", img.MediaType, ociIndex)
				}
				if !img.Platforms[2].Attestation || img.Platforms[0].Attestation {
					t.Errorf("only attestation rows are marked Attestation: %+v", img.Platforms)
				}
				if got := img.Platforms[1].ConfigPlatform; got != "linux/arm64" {
					t.Errorf("config platform of the arm64 row = %q, want linux/arm64", got)
				}
			},
		},
		{
			name:    "missing-platform: a required platform has no entry",
			ref:     "registry.example.com/app:1.0",
			require: "linux/amd64,linux/arm64,linux/arm/v7",
			root:    treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(arm, "linux/arm64")),
			want:    []string{"missing-platform linux/arm/v7"},
			// The missing platform gets a row of its own, after the entries.
			status:   []string{audit.StatusOK, audit.StatusOK, audit.StatusMissing},
			required: "linux/amd64,linux/arm64,linux/arm/v7",
			check: func(t *testing.T, img audit.Image, findings []audit.Finding, _ []error) {
				if row := img.Platforms[2]; row.Platform != "linux/arm/v7" || row.Digest != "" {
					t.Errorf("missing row = %+v, want linux/arm/v7 without a digest", row)
				}
				if f := only(t, findings, audit.MissingPlatform); f.Digest != img.Digest {
					t.Errorf("missing-platform is about the index %s, not %s", img.Digest, f.Digest)
				}
			},
		},
		{
			name:    "arm/v7 does not stand in for arm64, nor 386 for amd64",
			ref:     "registry.example.com/app:1.0",
			require: "linux/amd64,linux/arm64",
			root: treetest.Index(ociIndex,
				entry(treetest.Image("i386", "linux/386"), "linux/386"), entry(armv7, "linux/arm/v7")),
			want:     []string{"missing-platform linux/amd64", "missing-platform linux/arm64"},
			status:   []string{audit.StatusOK, audit.StatusOK, audit.StatusMissing, audit.StatusMissing},
			required: "linux/amd64,linux/arm64",
		},
		{
			name:    "arm64/v8 entry satisfies linux/arm64",
			ref:     "registry.example.com/app:1.0",
			require: "linux/arm64",
			root: treetest.Index(ociIndex,
				entry(treetest.Image("v8", "linux/arm64/v8"), "linux/arm64/v8")),
			status:   []string{audit.StatusOK},
			required: "linux/arm64",
		},
		{
			name:    "not-an-index: a single image where two platforms are required",
			ref:     "registry.example.com/app:1.0",
			require: "linux/amd64,linux/arm64",
			root:    amd,
			want:    []string{"not-an-index linux/amd64"},
			// The image's own row, then a row for the platform it is not.
			status:   []string{audit.StatusOK, audit.StatusMissing},
			required: "linux/amd64,linux/arm64",
			check: func(t *testing.T, img audit.Image, _ []audit.Finding, _ []error) {
				if img.Platforms[0].Platform != "linux/amd64" || img.Platforms[1].Platform != "linux/arm64" {
					t.Errorf("rows = %+v, want linux/amd64 then the missing linux/arm64", img.Platforms)
				}
			},
		},
		{
			name:     "a single image that satisfies its one required platform",
			ref:      "registry.example.com/app:1.0",
			require:  "linux/arm64",
			root:     arm,
			status:   []string{audit.StatusOK},
			required: "linux/arm64",
			check: func(t *testing.T, img audit.Image, _ []audit.Finding, _ []error) {
				if row := img.Platforms[0]; row.Platform != "linux/arm64" || row.Digest != arm.Descriptor.Digest.String() {
					t.Errorf("row = %+v, want the image itself as linux/arm64", row)
				}
			},
		},
		{
			name:     "a single image of another platform than the one required",
			ref:      "registry.example.com/app:1.0",
			require:  "linux/amd64",
			root:     arm,
			want:     []string{"missing-platform linux/amd64"},
			status:   []string{audit.StatusOK, audit.StatusMissing},
			required: "linux/amd64",
		},
		{
			name:   "platform-mismatch: an entry claims arm64, its config says amd64",
			ref:    "registry.example.com/app:1.0",
			root:   treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(amd2, "linux/arm64")),
			want:   []string{"platform-mismatch linux/arm64"},
			status: []string{audit.StatusOK, audit.StatusMismatch},
			check: func(t *testing.T, img audit.Image, findings []audit.Finding, _ []error) {
				f := only(t, findings, audit.PlatformMismatch)
				if f.Digest != amd2.Descriptor.Digest.String() {
					t.Errorf("platform-mismatch is about the entry %s, not %s", amd2.Descriptor.Digest, f.Digest)
				}
				if !strings.Contains(f.Message, "config says linux/amd64") {
					t.Errorf("message should name the config's platform: %q", f.Message)
				}
				if img.Platforms[1].ConfigPlatform != "linux/amd64" {
					t.Errorf("config platform = %q, want linux/amd64", img.Platforms[1].ConfigPlatform)
				}
			},
		},
		{
			name: "a config without a variant agrees with an arm/v7 claim",
			ref:  "registry.example.com/app:1.0",
			root: treetest.Index(ociIndex, entry(treetest.Image("armhf", "linux/arm"), "linux/arm/v7")),
			// The config's bare "arm" is spelled non-canonically, but it is
			// not a mismatch.
			want:   []string{"noncanonical-platform linux/arm/v7"},
			status: []string{audit.StatusOK},
		},
		{
			name: "a config without a variant agrees with an arm/v6 claim",
			ref:  "registry.example.com/app:1.0",
			root: treetest.Index(ociIndex, entry(treetest.Image("armel", "linux/arm"), "linux/arm/v6")),
			// containerd reads a bare "arm" as arm/v7, but a config that
			// omits the variant is unspecific, not contradictory.
			want:   []string{"noncanonical-platform linux/arm/v7"},
			status: []string{audit.StatusOK},
		},
		{
			name:   "a config without a variant agrees with an arm64/v8 claim",
			ref:    "registry.example.com/app:1.0",
			root:   treetest.Index(ociIndex, entry(arm, "linux/arm64/v8")),
			status: []string{audit.StatusOK},
		},
		{
			name:   "an arm/v6 config does not agree with an arm/v7 claim",
			ref:    "registry.example.com/app:1.0",
			root:   treetest.Index(ociIndex, entry(treetest.Image("armv6", "linux/arm/v6"), "linux/arm/v7")),
			want:   []string{"platform-mismatch linux/arm/v7"},
			status: []string{audit.StatusMismatch},
		},
		{
			name:     "tag-platform-mismatch: latest-aarch64 holding a single amd64 image",
			ref:      "registry.example.com/app:latest-aarch64",
			require:  "linux/amd64,linux/arm64",
			root:     amd,
			want:     []string{"tag-platform-mismatch linux/amd64"},
			status:   []string{audit.StatusMismatch},
			required: "", // judged by its name, not --require
			check: func(t *testing.T, _ audit.Image, findings []audit.Finding, _ []error) {
				if f := only(t, findings, audit.TagPlatformMismatch); !strings.Contains(f.Message, `"aarch64"`) {
					t.Errorf("message should quote the tag's token: %q", f.Message)
				}
			},
		},
		{
			name:     "tag-platform-mismatch: a per-arch index tag with a foreign entry",
			ref:      "registry.example.com/app:1.0-arm64",
			require:  "linux/amd64,linux/arm64",
			root:     treetest.Index(ociIndex, entry(arm, "linux/arm64"), entry(amd, "linux/amd64")),
			want:     []string{"tag-platform-mismatch linux/amd64"},
			status:   []string{audit.StatusOK, audit.StatusMismatch},
			required: "",
		},
		{
			name:     "a per-arch tag is not judged against --require",
			ref:      "registry.example.com/app:1.0-arm64v8",
			require:  "linux/amd64,linux/arm64",
			root:     treetest.Image("v8", "linux/arm64/v8"),
			status:   []string{audit.StatusOK},
			required: "",
		},
		{
			name:     "a tag naming no architecture (1.0) is judged against --require",
			ref:      "registry.example.com/app:1.0",
			require:  "linux/amd64",
			root:     arm,
			want:     []string{"missing-platform linux/amd64"},
			status:   []string{audit.StatusOK, audit.StatusMissing},
			required: "linux/amd64",
		},
		{
			name:   "a tag naming two architectures promises nothing",
			ref:    "registry.example.com/app:amd64-arm64",
			root:   treetest.Image("s390x", "linux/s390x"),
			status: []string{audit.StatusOK},
		},
		{
			name:    "missing-child: an entry the registry does not have",
			ref:     "registry.example.com/app:1.0",
			require: "linux/amd64,linux/arm64",
			root: treetest.Index(ociIndex,
				entry(amd, "linux/amd64"), treetest.Missing(entry(arm, "linux/arm64"))),
			// The entry is listed, so linux/arm64 is not also missing-platform.
			want:     []string{"missing-child linux/arm64"},
			status:   []string{audit.StatusOK, audit.StatusMissingChild},
			required: "linux/amd64,linux/arm64",
			check: func(t *testing.T, _ audit.Image, findings []audit.Finding, _ []error) {
				f := only(t, findings, audit.MissingChild)
				if f.Digest != arm.Descriptor.Digest.String() {
					t.Errorf("missing-child is about %s, not %s", arm.Descriptor.Digest, f.Digest)
				}
				if !strings.Contains(f.Message, "registry does not have it") {
					t.Errorf("message should say the registry lacks it: %q", f.Message)
				}
			},
		},
		{
			name: "missing-child in a layout says the child was not exported",
			ref:  "oci:out:1.0",
			root: treetest.Index(ociIndex,
				entry(amd, "linux/amd64"), treetest.Missing(entry(arm, "linux/arm64"))),
			want:   []string{"missing-child linux/arm64"},
			status: []string{audit.StatusOK, audit.StatusMissingChild},
			check: func(t *testing.T, _ audit.Image, findings []audit.Finding, _ []error) {
				f := only(t, findings, audit.MissingChild)
				if !strings.Contains(f.Message, "not exported") || !strings.Contains(f.Message, "docker save --platform") || strings.Contains(f.Message, "registry") {
					t.Errorf("message should say the child was not exported (a partial export), not that a registry lacks it: %q", f.Message)
				}
				if !strings.Contains(f.Hint, "--all-platforms") || strings.HasPrefix(f.Hint, "Re-push") {
					t.Errorf("hint should say how to export every platform: %q", f.Hint)
				}
			},
		},
		{
			name: "digest-mismatch on a child",
			ref:  "registry.example.com/app:1.0",
			root: treetest.Index(ociIndex,
				entry(amd, "linux/amd64"), treetest.Altered(entry(arm, "linux/arm64"))),
			want:   []string{"digest-mismatch linux/arm64"},
			status: []string{audit.StatusOK, audit.StatusDigestMismatch},
		},
		{
			name: "digest-mismatch on a child's config",
			ref:  "registry.example.com/app:1.0",
			root: treetest.Index(ociIndex,
				entry(amd, "linux/amd64"), alteredConfig(entry(arm, "linux/arm64"))),
			want:   []string{"digest-mismatch linux/arm64"},
			status: []string{audit.StatusOK, audit.StatusDigestMismatch},
			check: func(t *testing.T, _ audit.Image, findings []audit.Finding, _ []error) {
				if f := only(t, findings, audit.DigestMismatch); !strings.Contains(f.Message, "config "+arm.Manifest.Config.Digest.String()[:19]) {
					t.Errorf("message should name the config: %q", f.Message)
				}
			},
		},
		{
			name: "a single image whose config the registry does not have",
			ref:  "registry.example.com/app:1.0",
			root: func() *tree.Node {
				n := *amd
				n.Config = nil
				n.Err = fmt.Errorf("%w: config", tree.ErrMissing)
				return &n
			}(),
			want:   []string{"missing-child"},
			status: []string{audit.StatusMissingChild},
		},
		{
			name:    "digest-mismatch on an unreadable root",
			ref:     "registry.example.com/app:1.0",
			require: "linux/amd64",
			root: unreadableRoot(&tree.DigestMismatchError{
				What: "manifest", Want: treetest.Digest("asked"), Got: treetest.Digest("served"), Declared: true,
			}),
			want: []string{"digest-mismatch"},
			// Nothing of the tree can be read, so there are no rows and
			// no requirement is judged.
			status:   []string{},
			required: "",
			check: func(t *testing.T, img audit.Image, findings []audit.Finding, _ []error) {
				if f := only(t, findings, audit.DigestMismatch); f.Digest != img.Digest {
					t.Errorf("digest-mismatch is about the root %s, not %s", img.Digest, f.Digest)
				}
			},
		},
		{
			name:     "an unreadable root that is not a mismatch is a problem",
			ref:      "registry.example.com/app:1.0",
			require:  "linux/amd64",
			root:     unreadableRoot(fmt.Errorf("manifest: %w", errServer)),
			status:   []string{},
			problems: 1,
			check: func(t *testing.T, _ audit.Image, _ []audit.Finding, problems []error) {
				if !errors.Is(problems[0], errServer) {
					t.Errorf("the problem should wrap the read error: %v", problems[0])
				}
			},
		},
		{
			name:     "a root that is neither an index nor an image is a problem",
			ref:      "registry.example.com/app:1.0",
			root:     unreadableRoot(nil),
			status:   []string{},
			problems: 1,
		},
		{
			name:    "a child with another read error is a problem, not a finding",
			ref:     "registry.example.com/app:1.0",
			require: "linux/amd64,linux/arm64",
			root: treetest.Index(ociIndex,
				entry(amd, "linux/amd64"), unreadable(entry(arm, "linux/arm64"), fmt.Errorf("GET: %w", errServer))),
			status:   []string{audit.StatusOK, audit.StatusUnreadable},
			required: "linux/amd64,linux/arm64",
			problems: 1,
			check: func(t *testing.T, _ audit.Image, _ []audit.Finding, problems []error) {
				if !errors.Is(problems[0], errServer) {
					t.Errorf("the problem should wrap the read error: %v", problems[0])
				}
				if !strings.Contains(problems[0].Error(), arm.Descriptor.Digest.Hex[:12]) {
					t.Errorf("the problem should name the entry: %v", problems[0])
				}
			},
		},
		{
			name:   "duplicate-platform: two entries claim linux/amd64",
			ref:    "registry.example.com/app:1.0",
			root:   treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(amd2, "linux/amd64")),
			want:   []string{"duplicate-platform linux/amd64"},
			status: []string{audit.StatusOK, audit.StatusDuplicate},
			check: func(t *testing.T, _ audit.Image, findings []audit.Finding, _ []error) {
				if f := only(t, findings, audit.DuplicatePlatform); f.Digest != amd2.Descriptor.Digest.String() {
					t.Errorf("duplicate-platform is about the second entry %s, not %s", amd2.Descriptor.Digest, f.Digest)
				}
			},
		},
		{
			name: "duplicate-platform: arm64 and arm64/v8 are the same platform",
			ref:  "registry.example.com/app:1.0",
			root: treetest.Index(ociIndex,
				entry(arm, "linux/arm64"), entry(treetest.Image("v8", "linux/arm64/v8"), "linux/arm64/v8")),
			want:   []string{"duplicate-platform linux/arm64"},
			status: []string{audit.StatusOK, audit.StatusDuplicate},
		},
		{
			name:   "missing-platform-field: an image entry without a platform",
			ref:    "registry.example.com/app:1.0",
			root:   treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(arm, "")),
			want:   []string{"missing-platform-field"},
			status: []string{audit.StatusOK, audit.StatusNoPlatform},
			check: func(t *testing.T, img audit.Image, _ []audit.Finding, _ []error) {
				if img.Platforms[1].Platform != "unknown" {
					t.Errorf("row platform = %q, want unknown", img.Platforms[1].Platform)
				}
			},
		},
		{
			name:     "an entry without a platform does not satisfy a requirement",
			ref:      "registry.example.com/app:1.0",
			require:  "linux/arm64",
			root:     treetest.Index(ociIndex, entry(arm, "")),
			want:     []string{"missing-platform linux/arm64", "missing-platform-field"},
			status:   []string{audit.StatusNoPlatform, audit.StatusMissing},
			required: "linux/arm64",
		},
		{
			name:    "noncanonical-platform in the entry: a linux/aarch64 claim",
			ref:     "registry.example.com/app:1.0",
			require: "linux/arm64",
			root:    treetest.Index(ociIndex, entry(arm, "linux/aarch64")),
			// aarch64 is arm64: no mismatch with the config, and the
			// requirement is met.
			want:     []string{"noncanonical-platform linux/arm64"},
			status:   []string{audit.StatusOK},
			required: "linux/arm64",
			check: func(t *testing.T, _ audit.Image, findings []audit.Finding, _ []error) {
				if f := only(t, findings, audit.NoncanonicalPlatform); !strings.Contains(f.Message, "index entry") {
					t.Errorf("message should blame the index entry: %q", f.Message)
				}
			},
		},
		{
			name:   "noncanonical-platform in the config: linux/x86_64",
			ref:    "registry.example.com/app:1.0",
			root:   treetest.Index(ociIndex, entry(treetest.Image("x86", "linux/x86_64"), "linux/amd64")),
			want:   []string{"noncanonical-platform linux/amd64"},
			status: []string{audit.StatusOK},
			check: func(t *testing.T, _ audit.Image, findings []audit.Finding, _ []error) {
				if f := only(t, findings, audit.NoncanonicalPlatform); !strings.Contains(f.Message, "image config") {
					t.Errorf("message should blame the image config: %q", f.Message)
				}
			},
		},
		{
			name:   "noncanonical-platform in a single image's config",
			ref:    "registry.example.com/app:1.0",
			root:   treetest.Image("x86", "linux/x86_64"),
			want:   []string{"noncanonical-platform linux/amd64"},
			status: []string{audit.StatusOK},
		},
		{
			name:     "arm without a variant is arm/v7, spelled non-canonically",
			ref:      "registry.example.com/app:1.0",
			require:  "linux/arm/v7",
			root:     treetest.Index(ociIndex, entry(armv7, "linux/arm")),
			want:     []string{"noncanonical-platform linux/arm/v7"},
			status:   []string{audit.StatusOK},
			required: "linux/arm/v7",
			check: func(t *testing.T, _ audit.Image, findings []audit.Finding, _ []error) {
				if f := only(t, findings, audit.NoncanonicalPlatform); !strings.Contains(f.Message, "no variant") {
					t.Errorf("message should say the variant is missing: %q", f.Message)
				}
			},
		},
		{
			name: "orphan-attestation: its subject is not in the index",
			ref:  "registry.example.com/app:1.0",
			root: treetest.Index(ociIndex,
				entry(amd, "linux/amd64"), treetest.Attestation(amd), treetest.Attestation(arm)),
			want:   []string{"orphan-attestation"},
			status: []string{audit.StatusOK, audit.StatusAttestation, audit.StatusAttestation},
			check: func(t *testing.T, _ audit.Image, findings []audit.Finding, _ []error) {
				if f := only(t, findings, audit.OrphanAttestation); f.Digest != treetest.Attestation(arm).Descriptor.Digest.String() {
					t.Errorf("orphan-attestation is about the arm64 attestation, not %s", f.Digest)
				}
			},
		},
		{
			name: "orphan-attestation: it names no subject",
			ref:  "registry.example.com/app:1.0",
			root: treetest.Index(ociIndex,
				entry(amd, "linux/amd64"), treetest.Attestation(nil)),
			want:   []string{"orphan-attestation"},
			status: []string{audit.StatusOK, audit.StatusAttestation},
			check: func(t *testing.T, _ audit.Image, findings []audit.Finding, _ []error) {
				if f := only(t, findings, audit.OrphanAttestation); !strings.Contains(f.Message, "names no subject") {
					t.Errorf("message should say there is no subject: %q", f.Message)
				}
			},
		},
		{
			name:   "mixed-media-types: a Docker manifest list holding an OCI manifest",
			ref:    "registry.example.com/app:1.0",
			root:   treetest.Index(dockerList, entry(treetest.DockerImage("amd", "linux/amd64"), "linux/amd64"), entry(arm, "linux/arm64")),
			want:   []string{"mixed-media-types"},
			status: []string{audit.StatusOK, audit.StatusOK},
			check: func(t *testing.T, img audit.Image, findings []audit.Finding, _ []error) {
				f := only(t, findings, audit.MixedMediaTypes)
				if !strings.Contains(f.Message, "Docker manifest list") || f.Digest != img.Digest {
					t.Errorf("mixed-media-types should name the Docker list %s: %s %q", img.Digest, f.Digest, f.Message)
				}
			},
		},
		{
			// Every Docker Official Image with Windows entries is this, and
			// Docker, containerd and podman pull it: not mixed-media-types
			// (see checkMediaTypes for the evidence).
			name:   "an OCI index holding a Docker manifest is not mixed-media-types",
			ref:    "registry.example.com/app:1.0",
			root:   treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(treetest.DockerImage("arm", "linux/arm64"), "linux/arm64")),
			status: []string{audit.StatusOK, audit.StatusOK},
		},
		{
			name:   "a Docker manifest list of Docker manifests is not mixed",
			ref:    "registry.example.com/app:1.0",
			root:   treetest.Index(dockerList, entry(treetest.DockerImage("amd", "linux/amd64"), "linux/amd64")),
			status: []string{audit.StatusOK},
		},
		{
			name:    "a nested index's images count for the parent",
			ref:     "registry.example.com/app:1.0",
			require: "linux/amd64,linux/arm64,linux/arm/v7",
			root: treetest.Index(ociIndex,
				treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(arm, "linux/arm64")),
				entry(armv7, "linux/arm/v7")),
			// One row per image, the nested index flattened.
			status:   []string{audit.StatusOK, audit.StatusOK, audit.StatusOK},
			required: "linux/amd64,linux/arm64,linux/arm/v7",
		},
		{
			name: "a nested index is checked like the root (mixed types, orphans, duplicates)",
			ref:  "registry.example.com/app:1.0",
			root: treetest.Index(ociIndex,
				entry(amd, "linux/amd64"),
				treetest.Index(dockerList, entry(amd2, "linux/amd64"), treetest.Attestation(arm))),
			// mixed-media-types once: the nested Docker list holds OCI
			// manifests; the OCI root holding a Docker list is fine.
			want:   []string{"duplicate-platform linux/amd64", "mixed-media-types", "orphan-attestation"},
			status: []string{audit.StatusOK, audit.StatusDuplicate, audit.StatusAttestation},
			check: func(t *testing.T, img audit.Image, findings []audit.Finding, _ []error) {
				if f := only(t, findings, audit.MixedMediaTypes); f.Digest == img.Digest {
					t.Errorf("mixed-media-types should be about the nested Docker list, not the root: %v", f)
				}
			},
		},
		{
			name:    "an index nested too deep is a problem, and its platforms are missing",
			ref:     "registry.example.com/app:1.0",
			require: "linux/amd64,linux/arm64",
			root: treetest.Index(ociIndex,
				entry(amd, "linux/amd64"),
				failedIndex(errors.New("indexes nested more than 8 deep"), entry(arm, "linux/arm64"))),
			want:     []string{"missing-platform linux/arm64"},
			status:   []string{audit.StatusOK, audit.StatusMissing},
			required: "linux/amd64,linux/arm64",
			problems: 1,
			check: func(t *testing.T, _ audit.Image, _ []audit.Finding, problems []error) {
				if !strings.Contains(problems[0].Error(), "nested more than 8 deep") {
					t.Errorf("the problem should carry the index's error: %v", problems[0])
				}
			},
		},
		{
			name: "an error recorded on a root index that was read is a problem",
			ref:  "registry.example.com/app:1.0",
			root: func() *tree.Node {
				n := treetest.Index(ociIndex, entry(amd, "linux/amd64"))
				n.Err = fmt.Errorf("index has 10001 entries: %w", errServer)
				return n
			}(),
			status:   []string{audit.StatusOK},
			problems: 1,
			check: func(t *testing.T, _ audit.Image, _ []audit.Finding, problems []error) {
				if !errors.Is(problems[0], errServer) {
					t.Errorf("the problem should wrap the index's error: %v", problems[0])
				}
			},
		},
		{
			name:     "windows entries of different os.version are not duplicates",
			ref:      "registry.example.com/win:1.0",
			require:  "windows(10.0.17763)/amd64,windows(10.0.20348)/amd64",
			root:     treetest.Index(dockerList, entry(win17763, "windows/amd64:10.0.17763.5458"), entry(win20348, "windows/amd64:10.0.20348.2227")),
			status:   []string{audit.StatusOK, audit.StatusOK},
			required: "windows(10.0.17763)/amd64,windows(10.0.20348)/amd64",
			check: func(t *testing.T, img audit.Image, _ []audit.Finding, _ []error) {
				row := img.Platforms[0]
				if row.Platform != "windows(10.0.17763.5458)/amd64" || row.ConfigPlatform != "windows(10.0.17763.5458)/amd64" {
					t.Errorf("row = %+v, want the os.version in the claimed and config platforms", row)
				}
			},
		},
		{
			name:     "windows: an os.version must match a versioned requirement",
			ref:      "registry.example.com/win:1.0",
			require:  "windows(10.0.17763)/amd64",
			root:     treetest.Index(dockerList, entry(win20348, "windows/amd64:10.0.20348.2227")),
			want:     []string{"missing-platform windows(10.0.17763)/amd64"},
			status:   []string{audit.StatusOK, audit.StatusMissing},
			required: "windows(10.0.17763)/amd64",
		},
		{
			name:     "windows: an entry without os.version does not meet a versioned requirement",
			ref:      "registry.example.com/win:1.0",
			require:  "windows(10.0.17763)/amd64",
			root:     treetest.Index(dockerList, entry(win17763, "windows/amd64")),
			want:     []string{"missing-platform windows(10.0.17763)/amd64"},
			status:   []string{audit.StatusOK, audit.StatusMissing},
			required: "windows(10.0.17763)/amd64",
		},
		{
			name:     "windows: a requirement without os.version accepts any",
			ref:      "registry.example.com/win:1.0",
			require:  "windows/amd64",
			root:     treetest.Index(dockerList, entry(win20348, "windows/amd64:10.0.20348.2227")),
			status:   []string{audit.StatusOK},
			required: "windows/amd64",
		},
		{
			name:   "windows: an entry whose config names another os.version",
			ref:    "registry.example.com/win:1.0",
			root:   treetest.Index(dockerList, entry(win17763, "windows/amd64:10.0.20348.2227")),
			want:   []string{"platform-mismatch windows(10.0.20348.2227)/amd64"},
			status: []string{audit.StatusMismatch},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := mustRef(t, tt.ref)
			img, findings, problems := audit.Check(at, tt.root, mustPlatforms(t, tt.require))

			if got := codes(findings); !slices.Equal(got, tt.want) {
				t.Errorf("findings:\n got  %v\n want %v", got, tt.want)
			}
			if tt.status != nil {
				if got := statuses(img); !slices.Equal(got, tt.status) {
					t.Errorf("row statuses:\n got  %v\n want %v", got, tt.status)
				}
			}
			if got := strings.Join(img.Required, ","); got != tt.required {
				t.Errorf("required = %q, want %q", got, tt.required)
			}
			if len(problems) != tt.problems {
				t.Errorf("problems = %v, want %d", problems, tt.problems)
			}
			if !img.Ref.Equal(at) || img.Digest != tt.root.Descriptor.Digest.String() {
				t.Errorf("image = %s@%s, want %s@%s", img.Ref, img.Digest, at, tt.root.Descriptor.Digest)
			}
			for _, f := range findings {
				info := f.Code.Info()
				if f.Code == audit.MissingChild && at.Scheme == ref.Layout {
					info.Hint = f.Hint // a layout's own hint, checked by its case
				}
				if !f.Ref.Equal(at) || f.Severity != info.Severity || f.Hint != info.Hint || f.Digest == "" || f.Message == "" {
					t.Errorf("finding %+v: want ref %s, severity %s, the code's hint, a digest and a message", f, at, info.Severity)
				}
			}
			if tt.check != nil && !t.Failed() {
				tt.check(t, img, findings, problems)
			}
		})
	}
}

// TestRulesPureUnreadableNestedIndex checks nested indexes the registry
// could not read (Index unset, Err set): the entry's error gives its
// finding, and nothing else is reported: an index entry has no platform by
// nature, so it is not missing-platform-field.
func TestRulesPureUnreadableNestedIndex(t *testing.T) {
	amd := treetest.Image("amd", "linux/amd64")
	inner := treetest.Index(ociIndex, entry(treetest.Image("arm", "linux/arm64"), "linux/arm64"))
	tests := []struct {
		name     string
		err      error
		code     audit.Code // "" for none
		status   string
		problems int
	}{
		{"missing", fmt.Errorf("%w: index", tree.ErrMissing), audit.MissingChild, audit.StatusMissingChild, 0},
		{"altered", &tree.DigestMismatchError{What: "manifest", Want: inner.Descriptor.Digest, Got: treetest.Digest("x")}, audit.DigestMismatch, audit.StatusDigestMismatch, 0},
		{"another error", fmt.Errorf("GET: %w", errServer), "", audit.StatusUnreadable, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := treetest.Index(ociIndex, entry(amd, "linux/amd64"), unreadable(inner, tt.err))
			img, findings, problems := audit.Check(mustRef(t, "registry.example.com/app:1.0"), root, nil)
			if tt.code != "" {
				if f := only(t, findings, tt.code); f.Digest != inner.Descriptor.Digest.String() {
					t.Errorf("%s is about %s, not %s", tt.code, inner.Descriptor.Digest, f.Digest)
				}
			}
			for _, f := range findings {
				if f.Code != tt.code {
					t.Errorf("unexpected finding %s", f)
				}
			}
			if got, want := statuses(img), []string{audit.StatusOK, tt.status}; !slices.Equal(got, want) {
				t.Errorf("row statuses = %v, want %v", got, want)
			}
			if len(problems) != tt.problems {
				t.Errorf("problems = %v, want %d", problems, tt.problems)
			}
		})
	}
}

// memSource is an in-memory [audit.Source] and [audit.Siblings]: trees
// keyed by [ref.Ref.String].
type memSource struct {
	nodes map[string]*tree.Node
	// errs makes Fetch fail for these references.
	errs map[string]error
	// beforeFetch, when set, is called at the start of every Fetch.
	beforeFetch func(ref.Ref)
}

func newMemSource() *memSource {
	return &memSource{nodes: map[string]*tree.Node{}, errs: map[string]error{}}
}

// put stores n at reference r.
func (s *memSource) put(t testing.TB, r string, n *tree.Node) *memSource {
	t.Helper()
	s.nodes[mustRef(t, r).String()] = n
	return s
}

// fail makes Fetch of reference r fail with err.
func (s *memSource) fail(t testing.TB, r string, err error) *memSource {
	t.Helper()
	s.errs[mustRef(t, r).String()] = err
	return s
}

// stored returns every stored reference in target's repository, sorted.
func (s *memSource) stored(target ref.Ref) ([]ref.Ref, error) {
	var out []ref.Ref
	for key := range s.nodes {
		r, err := ref.Parse(key)
		if err != nil {
			return nil, err
		}
		if r.SameRepository(target) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

func (s *memSource) Expand(_ context.Context, target ref.Ref) ([]ref.Ref, error) {
	if target.IsImage() {
		return []ref.Ref{target}, nil
	}
	return s.stored(target)
}

func (s *memSource) Fetch(_ context.Context, r ref.Ref) (*tree.Node, error) {
	if s.beforeFetch != nil {
		s.beforeFetch(r)
	}
	if err, ok := s.errs[r.String()]; ok {
		return nil, err
	}
	if n, ok := s.nodes[r.String()]; ok {
		return n, nil
	}
	return nil, fmt.Errorf("%w: %s", tree.ErrMissing, r)
}

func (s *memSource) Tags(_ context.Context, r ref.Ref) ([]string, error) {
	refs, err := s.stored(r.Repo())
	if err != nil {
		return nil, err
	}
	var tags []string
	for _, x := range refs {
		if x.Tag != "" {
			tags = append(tags, x.Tag)
		}
	}
	return tags, nil
}

var (
	_ audit.Source   = (*memSource)(nil)
	_ audit.Siblings = (*memSource)(nil)
)

// noErrors fails the test if the run recorded any error.
func noErrors(t *testing.T, r *audit.Result) {
	t.Helper()
	for _, e := range r.Errors {
		t.Errorf("not audited: %s: %s", e.Ref, e.Message)
	}
}

// imageRefs lists the references of the images audited, in result order.
func imageRefs(r *audit.Result) []string {
	out := []string{}
	for _, img := range r.Images {
		out = append(out, img.Ref.String())
	}
	return out
}

func TestRunPure(t *testing.T) {
	ctx := context.Background()
	amd := treetest.Image("amd", "linux/amd64")
	arm := treetest.Image("arm", "linux/arm64")
	armStale := treetest.Image("arm rebuilt alone", "linux/arm64")
	armOther := treetest.Image("arm another build", "linux/arm64")
	index := treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(arm, "linux/arm64"))

	t.Run("per-arch siblings: stale-arch-tag and tag-platform-mismatch", func(t *testing.T) {
		const repo = "registry.example.com/app"
		src := newMemSource().
			put(t, repo+":2.0", index).
			put(t, repo+":2.0-amd64", amd).       // current: the index's amd64 image
			put(t, repo+":2.0-aarch64", arm).     // current, spelled aarch64
			put(t, repo+":2.0-arm64", armStale).  // stale: another arm64 image
			put(t, repo+":2.0-x86_64", armOther). // wrong arch: arm64 under an amd64 name
			put(t, repo+":3.0-arm64", armOther).  // a sibling of 3.0, not of 2.0
			put(t, repo+":2.0-s390x-extra", amd)  // not what {tag}-{arch} makes
		r := audit.Run(ctx, src, []audit.Target{{Ref: mustRef(t, repo+":2.0"), PerArch: []string{"{tag}-{arch}"}}}, audit.Options{})
		noErrors(t, r)
		want := []string{
			repo + ":2.0-arm64 stale-arch-tag linux/arm64",
			// Not stale-arch-tag: the sibling is not the arch its name says.
			repo + ":2.0-x86_64 tag-platform-mismatch linux/arm64",
		}
		if got := located(r.Findings); !slices.Equal(got, want) {
			t.Errorf("findings:\n got  %v\n want %v", got, want)
		}
		stale := only(t, r.Findings, audit.StaleArchTag)
		if stale.Digest != armStale.Descriptor.Digest.String() || stale.Severity != audit.Warning {
			t.Errorf("stale-arch-tag = %+v, want the sibling's image %s as a warning", stale, armStale.Descriptor.Digest)
		}
		// The tag first, then its siblings, each audited once.
		wantImages := []string{repo + ":2.0", repo + ":2.0-aarch64", repo + ":2.0-amd64", repo + ":2.0-arm64", repo + ":2.0-x86_64"}
		got := imageRefs(r)
		if len(got) == 0 || got[0] != wantImages[0] {
			t.Errorf("the target's image should come first: %v", got)
		}
		sort.Strings(got)
		if !slices.Equal(got, wantImages) {
			t.Errorf("images audited:\n got  %v\n want %v", got, wantImages)
		}
	})

	t.Run("per-arch siblings that are targets themselves are audited once", func(t *testing.T) {
		const repo = "registry.example.com/app"
		src := newMemSource().put(t, repo+":2.0", index).put(t, repo+":2.0-arm64", armStale)
		r := audit.Run(ctx, src, []audit.Target{
			{Ref: mustRef(t, repo+":2.0"), PerArch: []string{"{tag}-{arch}"}},
			{Ref: mustRef(t, repo+":2.0-arm64")},
		}, audit.Options{})
		noErrors(t, r)
		if got, want := imageRefs(r), []string{repo + ":2.0", repo + ":2.0-arm64"}; !slices.Equal(got, want) {
			t.Errorf("images = %v, want %v", got, want)
		}
		if got, want := located(r.Findings), []string{repo + ":2.0-arm64 stale-arch-tag linux/arm64"}; !slices.Equal(got, want) {
			t.Errorf("findings = %v, want %v", got, want)
		}
	})

	t.Run("mirror-drift", func(t *testing.T) {
		const source = "ghcr.io/org/app:1.0"
		const copyAt = "registry.internal/mirror/org/app:1.0"
		tests := []struct {
			name string
			copy *tree.Node // nil: the mirror lacks the tag
			want []string
			msg  string // a word every finding's message holds
		}{
			{"the mirror lacks the tag", nil, []string{copyAt + " mirror-drift"}, "has no"},
			{"the mirror lacks a platform", treetest.Index(ociIndex, entry(amd, "linux/amd64")),
				[]string{copyAt + " mirror-drift linux/arm64"}, "lacks"},
			{"only the host's platform was copied, as a single image", amd,
				[]string{copyAt + " mirror-drift linux/arm64"}, "lacks"},
			{"the mirror holds another image for a platform", treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(armOther, "linux/arm64")),
				[]string{copyAt + " mirror-drift linux/arm64"}, "in the mirror"},
			{"the mirror holds the same index", index, nil, ""},
			{"the mirror holds the same images in a Docker list", treetest.Index(dockerList, entry(amd, "linux/amd64"), entry(arm, "linux/arm64")), nil, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				src := newMemSource().put(t, source, index)
				if tt.copy != nil {
					src.put(t, copyAt, tt.copy)
				}
				r := audit.Run(ctx, src, []audit.Target{{Ref: mustRef(t, source), Mirrors: []ref.Ref{mustPrefix(t, "registry.internal/mirror")}}}, audit.Options{})
				noErrors(t, r)
				if got := located(r.Findings); !slices.Equal(got, tt.want) {
					t.Errorf("findings:\n got  %v\n want %v", got, tt.want)
				}
				for _, f := range r.Findings {
					if !strings.Contains(f.Message, tt.msg) || f.Severity != audit.Error {
						t.Errorf("finding %s %q: want an error saying %q", f.Code, f.Message, tt.msg)
					}
				}
				// The mirror's copy is compared, not audited.
				if got := imageRefs(r); !slices.Equal(got, []string{mustRef(t, source).String()}) {
					t.Errorf("images = %v, want only the source", got)
				}
			})
		}
	})

	t.Run("a mirror that cannot be read is an error, not drift", func(t *testing.T) {
		src := newMemSource().put(t, "ghcr.io/org/app:1.0", index).
			fail(t, "registry.internal/mirror/org/app:1.0", fmt.Errorf("mirror: %w", errServer))
		r := audit.Run(ctx, src, []audit.Target{{Ref: mustRef(t, "ghcr.io/org/app:1.0"), Mirrors: []ref.Ref{mustPrefix(t, "registry.internal/mirror")}}}, audit.Options{})
		if len(r.Findings) != 0 {
			t.Errorf("findings = %v, want none", located(r.Findings))
		}
		if len(r.Errors) != 1 || !errors.Is(r.Errors[0].Err, errServer) || r.Errors[0].Ref.String() != "registry.internal/mirror/org/app:1.0" {
			t.Errorf("errors = %+v, want the mirror's read error", r.Errors)
		}
	})

	t.Run("Options.Ignore drops a code and Options.Severity changes a severity", func(t *testing.T) {
		src := newMemSource().put(t, "registry.example.com/app:1.0", treetest.Index(ociIndex,
			entry(amd, "linux/amd64"), entry(treetest.Image("amd2", "linux/amd64"), "linux/amd64"), // duplicate-platform (warning)
			entry(treetest.Image("amd3", "linux/amd64"), "linux/arm64"))) // platform-mismatch (error)
		targets := []audit.Target{{Ref: mustRef(t, "registry.example.com/app:1.0")}}
		severities := func(r *audit.Result) []string {
			out := []string{}
			for _, f := range r.Findings {
				out = append(out, fmt.Sprintf("%s %s", f.Code, f.Severity))
			}
			sort.Strings(out)
			return out
		}

		plain := audit.Run(ctx, src, targets, audit.Options{})
		noErrors(t, plain)
		if got, want := severities(plain), []string{"duplicate-platform warning", "platform-mismatch error"}; !slices.Equal(got, want) {
			t.Fatalf("without options: %v, want %v", got, want)
		}

		judged := audit.Run(ctx, src, targets, audit.Options{
			Ignore:   map[audit.Code]bool{audit.DuplicatePlatform: true},
			Severity: map[audit.Code]audit.Severity{audit.PlatformMismatch: audit.Warning},
		})
		noErrors(t, judged)
		if got, want := severities(judged), []string{"platform-mismatch warning"}; !slices.Equal(got, want) {
			t.Errorf("with options: %v, want %v", got, want)
		}
		if judged.Worst() != audit.Warning || judged.Fails(audit.Error) {
			t.Errorf("worst = %v, want warning once the error is downgraded", judged.Worst())
		}
	})

	t.Run("Target.RequireFor overrides Require per reference", func(t *testing.T) {
		const repo = "registry.example.com/app"
		src := newMemSource().
			put(t, repo+":1.0", index).
			put(t, repo+":1.0-slim", treetest.Index(ociIndex, entry(amd, "linux/amd64")))
		requireFor := func(r ref.Ref) []platform.Platform {
			if r.Tag == "1.0-slim" {
				return mustPlatforms(t, "linux/amd64")
			}
			return mustPlatforms(t, "linux/amd64,linux/arm64,linux/s390x")
		}
		r := audit.Run(ctx, src, []audit.Target{{
			Ref:        mustRef(t, repo), // the whole repository
			Require:    mustPlatforms(t, "linux/riscv64"),
			RequireFor: requireFor,
		}}, audit.Options{})
		noErrors(t, r)
		if got, want := located(r.Findings), []string{repo + ":1.0 missing-platform linux/s390x"}; !slices.Equal(got, want) {
			t.Errorf("findings:\n got  %v\n want %v", got, want)
		}
		required := map[string]string{}
		for _, img := range r.Images {
			required[img.Ref.Tag] = strings.Join(img.Required, ",")
		}
		want := map[string]string{"1.0": "linux/amd64,linux/arm64,linux/s390x", "1.0-slim": "linux/amd64"}
		if fmt.Sprint(required) != fmt.Sprint(want) {
			t.Errorf("required = %v, want %v", required, want)
		}
	})

	t.Run("a target that cannot be fetched is an error; the others are audited", func(t *testing.T) {
		src := newMemSource().
			put(t, "registry.example.com/a:1.0", index).
			fail(t, "registry.example.com/b:1.0", fmt.Errorf("GET manifest: %w", errServer)).
			put(t, "registry.example.com/d:1.0", amd)
		r := audit.Run(ctx, src, []audit.Target{
			{Ref: mustRef(t, "registry.example.com/a:1.0"), Require: mustPlatforms(t, "linux/arm/v7")},
			{Ref: mustRef(t, "registry.example.com/b:1.0")},
			{Ref: mustRef(t, "registry.example.com/c:1.0")}, // not stored: missing
			{Ref: mustRef(t, "registry.example.com/d:1.0"), Require: mustPlatforms(t, "linux/amd64,linux/arm64")},
			{Ref: mustRef(t, "registry.example.com/empty")}, // a repository with no tags
		}, audit.Options{Jobs: 2})
		if got, want := imageRefs(r), []string{"registry.example.com/a:1.0", "registry.example.com/d:1.0"}; !slices.Equal(got, want) {
			t.Errorf("images = %v, want %v", got, want)
		}
		if got, want := located(r.Findings), []string{
			"registry.example.com/a:1.0 missing-platform linux/arm/v7",
			"registry.example.com/d:1.0 not-an-index linux/amd64",
		}; !slices.Equal(got, want) {
			t.Errorf("findings:\n got  %v\n want %v", got, want)
		}
		if len(r.Errors) != 3 {
			t.Fatalf("errors = %+v, want b, c and empty", r.Errors)
		}
		for i, want := range []struct {
			ref string
			is  error
		}{
			{"registry.example.com/b:1.0", errServer},
			{"registry.example.com/c:1.0", tree.ErrMissing},
			{"registry.example.com/empty", audit.ErrNoTags},
		} {
			e := r.Errors[i]
			if e.Ref.String() != want.ref || e.Err == nil || e.Message != e.Err.Error() {
				t.Errorf("error %d = %+v, want %s with Err set and its text as Message", i, e, want.ref)
			}
			if want.is != nil && !errors.Is(e.Err, want.is) {
				t.Errorf("error %d: errors.Is(%v, %v) = false", i, e.Err, want.is)
			}
		}
	})

	t.Run("results are in target order, not in completion order", func(t *testing.T) {
		names := []string{"registry.example.com/z:1", "registry.example.com/a:1", "registry.example.com/m:1", "registry.example.com/b:1"}
		src := newMemSource()
		var targets []audit.Target
		for _, n := range names {
			// Each image differs, and each lacks linux/s390x.
			src.put(t, n, treetest.Index(ociIndex, entry(treetest.Image(n, "linux/amd64"), "linux/amd64")))
			targets = append(targets, audit.Target{Ref: mustRef(t, n), Require: mustPlatforms(t, "linux/s390x")})
		}
		// The first target's fetch waits until every other is audited, so
		// it finishes last.
		first := mustRef(t, names[0]).String()
		others := make(chan struct{})
		src.beforeFetch = func(r ref.Ref) {
			if r.String() == first {
				select {
				case <-others:
				case <-time.After(5 * time.Second):
				}
			}
		}
		var order []string
		r := audit.Run(ctx, src, targets, audit.Options{Jobs: len(names), Progress: func(done, total int, r ref.Ref) {
			order = append(order, r.String())
			if done == total-1 {
				close(others)
			}
		}})
		noErrors(t, r)
		if len(order) != len(names) || order[len(order)-1] != first {
			t.Fatalf("completion order = %v, want %s last", order, first)
		}
		want := make([]string, len(names))
		for i, n := range names {
			want[i] = mustRef(t, n).String()
		}
		if got := imageRefs(r); !slices.Equal(got, want) {
			t.Errorf("images = %v, want %v", got, want)
		}
		var findingRefs []string
		for _, f := range r.Findings {
			findingRefs = append(findingRefs, f.Ref.String())
		}
		if !slices.Equal(findingRefs, want) {
			t.Errorf("findings by ref = %v, want %v", findingRefs, want)
		}
	})
}
