package repair_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/internal/treetest"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/repair"
	"github.com/mlaudit/mlaudit/tree"
)

// The tests in this file plan and apply repairs on trees built by hand:
// no registry, no HTTP, no disk. repair_test.go runs the same stories
// against real registries.

const (
	host     = "registry.example.com"
	oci      = types.OCIImageIndex
	dockerML = types.DockerManifestList
)

// at names a reference in the test registry: at("app:1").
func at(s string) string { return host + "/" + s }

func mustRef(t testing.TB, s string) ref.Ref {
	t.Helper()
	r, err := ref.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// planRows writes a plan's rows as sorted "action platform" strings,
// attestations as "action attestation".
func planRows(p *repair.Plan) string {
	out := []string{}
	for _, r := range p.Rows {
		if r.Attestation {
			out = append(out, string(r.Action)+" attestation")
		} else {
			out = append(out, string(r.Action)+" "+r.Platform)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// findingCodes writes a plan's finding codes, sorted.
func findingCodes(p *repair.Plan) string {
	out := []string{}
	for _, f := range p.Findings {
		out = append(out, string(f.Code))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func parseIndex(t testing.TB, raw []byte) *v1.IndexManifest {
	t.Helper()
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the new index does not parse: %v\n%s", err, raw)
	}
	return im
}

// entryPlatforms lists the new index's entries in order, each platform as
// written in the index (not normalized, so "linux/aarch64" stays visible):
// "attestation" for attestations, "index" for nested indexes, "none" for
// an entry without a platform.
func entryPlatforms(t testing.TB, p *repair.Plan) []string {
	t.Helper()
	var out []string
	for _, d := range parseIndex(t, p.Manifest).Manifests {
		switch {
		case tree.IsAttestation(d):
			out = append(out, "attestation")
		case d.MediaType.IsIndex():
			out = append(out, "index")
		case d.Platform == nil:
			out = append(out, "none")
		default:
			s := d.Platform.OS + "/" + d.Platform.Architecture
			if d.Platform.Variant != "" {
				s += "/" + d.Platform.Variant
			}
			out = append(out, s)
		}
	}
	return out
}

// entryDigests lists the new index's entry digests in order.
func entryDigests(t testing.TB, p *repair.Plan) []string {
	t.Helper()
	var out []string
	for _, d := range parseIndex(t, p.Manifest).Manifests {
		out = append(out, d.Digest.String())
	}
	return out
}

// rowsWith returns the rows of one action.
func rowsWith(p *repair.Plan, a repair.Action) []repair.Row {
	var out []repair.Row
	for _, r := range p.Rows {
		if r.Action == a {
			out = append(out, r)
		}
	}
	return out
}

func digestOf(raw []byte) string {
	d, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		panic(err)
	}
	return d.String()
}

func dg(n *tree.Node) string { return n.Descriptor.Digest.String() }

// reindented is idx with its bytes pretty-printed, as some tools push
// them: bytes json.Marshal would not write again, under their own digest.
func reindented(idx *tree.Node) *tree.Node {
	var buf bytes.Buffer
	if err := json.Indent(&buf, idx.Raw, "", "   "); err != nil {
		panic(err)
	}
	c := *idx
	c.Raw = buf.Bytes()
	d, size, err := v1.SHA256(bytes.NewReader(c.Raw))
	if err != nil {
		panic(err)
	}
	c.Descriptor.Digest, c.Descriptor.Size = d, size
	return &c
}

// annotated is idx with index-level annotations, bytes and digest to
// match.
func annotated(idx *tree.Node, ann map[string]string) *tree.Node {
	c := *idx
	im := *idx.Index
	im.Annotations = ann
	c.Index = &im
	return treetest.Rehashed(&c)
}

// unreadable is n as an index lists it when reading it failed for a reason
// that is neither a missing manifest nor a digest mismatch.
func unreadable(n *tree.Node) *tree.Node {
	c := *n
	c.Raw, c.Manifest, c.Config = nil, nil, nil
	c.Err = errors.New("connection reset by peer")
	return &c
}

// snapshot writes everything of a tree Build could change by mistake.
func snapshot(n *tree.Node) string {
	if n == nil {
		return "nil"
	}
	b, err := json.Marshal(struct {
		D v1.Descriptor
		I *v1.IndexManifest
		M *v1.Manifest
		C *v1.ConfigFile
		R []byte
	}{n.Descriptor, n.Index, n.Manifest, n.Config, n.Raw})
	if err != nil {
		panic(err)
	}
	s := string(b)
	for _, c := range n.Children {
		s += "\n" + snapshot(c)
	}
	return s
}

type srcSpec struct {
	ref  string
	node *tree.Node
}

type buildCase struct {
	name string
	// target defaults to app:1.
	target      string
	current     *tree.Node
	sources     []srcSpec
	require     string
	fix, prefer bool
	tags        []string
	dest        string
	destCurrent *tree.Node

	// wantErr (errors.Is) or wantErrText (a substring) expect Build to
	// fail; the other wants are then unused.
	wantErr     error
	wantErrText string

	rows      string
	ok        bool
	changed   bool
	mediaType types.MediaType
	codes     string
	// order, when set, is entryPlatforms of the new index.
	order []string
	// signed gives the old manifest a cosign signature tag, as Prepare
	// finds it.
	signed bool
	check  func(t *testing.T, p *repair.Plan)
}

func TestBuild(t *testing.T) {
	amd := treetest.Image("app", "linux/amd64")
	arm := treetest.Image("app", "linux/arm64")
	armv7 := treetest.Image("app", "linux/arm/v7")
	s390x := treetest.Image("app", "linux/s390x")
	// fake is what an arm64 job that built FROM an amd64 base pushed.
	fake := treetest.Image("app built FROM amd64", "linux/amd64")
	newAmd := treetest.Image("newer build", "linux/amd64")
	rebuilt := treetest.Image("rebuilt", "linux/arm64")
	dAmd, dArm := treetest.DockerImage("rt", "linux/amd64"), treetest.DockerImage("rt", "linux/arm64")

	healthy := treetest.Index(oci, treetest.Entry(amd, "linux/amd64"), treetest.Entry(arm, "linux/arm64"))
	armOnly := treetest.Index(oci, treetest.Entry(arm, "linux/arm64"))
	amdOnly := treetest.Index(oci, treetest.Entry(amd, "linux/amd64"))
	aibrix := treetest.Index(dockerML, treetest.Entry(dArm, "linux/arm64"))
	mislabelled := treetest.Index(oci, treetest.Entry(amd, "linux/amd64"), treetest.Entry(fake, "linux/arm64"), treetest.Attestation(fake))
	swapped := treetest.Index(oci, treetest.Entry(amd, "linux/arm64"), treetest.Entry(arm, "linux/amd64"))
	unlabelled := treetest.Index(oci, treetest.Entry(amd, "linux/amd64"), treetest.Entry(arm, ""))
	noncanonical := treetest.Index(oci, treetest.Entry(amd, "linux/amd64"), treetest.Entry(arm, "linux/aarch64"), treetest.Entry(armv7, "linux/arm"))
	duplicates := treetest.Index(oci, treetest.Entry(amd, "linux/amd64"), treetest.Entry(newAmd, "linux/amd64"), treetest.Entry(arm, "linux/arm64"))
	missing := treetest.Index(oci, treetest.Entry(amd, "linux/amd64"), treetest.Missing(treetest.Entry(arm, "linux/arm64")))
	altered := treetest.Index(oci, treetest.Entry(amd, "linux/amd64"), treetest.Altered(treetest.Entry(arm, "linux/arm64")))
	inner := treetest.Index(oci, treetest.Entry(amd, "linux/amd64"), treetest.Entry(arm, "linux/arm64"))
	nested := treetest.Index(oci, inner, treetest.Entry(armv7, "linux/arm/v7"))
	withAtts := treetest.Index(oci, treetest.Entry(amd, "linux/amd64"), treetest.Entry(arm, "linux/arm64"), treetest.Attestation(amd), treetest.Attestation(arm))
	armWithAtt := treetest.Index(oci, treetest.Entry(arm, "linux/arm64"), treetest.Attestation(arm))
	orphans := treetest.Index(oci, treetest.Entry(amd, "linux/amd64"), treetest.Attestation(arm), treetest.Attestation(nil))
	withReference := treetest.Index(oci, treetest.Entry(arm, "linux/arm64"), treetest.Reference("build-info"))
	versioned := annotated(armOnly, map[string]string{"org.opencontainers.image.version": "1.0"})
	pretty := reindented(healthy)
	signed := treetest.Index(oci, treetest.Entry(arm, "linux/arm64"))
	sigTag := "sha256-" + signed.Descriptor.Digest.Hex + ".sig"
	otherDest := treetest.Index(oci, treetest.Entry(newAmd, "linux/amd64"))

	reasonsAre := func(want string) func(t *testing.T, p *repair.Plan) {
		return func(t *testing.T, p *repair.Plan) {
			for _, r := range p.Rows {
				if r.Reason != want {
					t.Errorf("row %s %s: reason %q, want %q", r.Action, r.Platform, r.Reason, want)
				}
			}
		}
	}
	digestsAre := func(want ...*tree.Node) func(t *testing.T, p *repair.Plan) {
		return func(t *testing.T, p *repair.Plan) {
			var w []string
			for _, n := range want {
				w = append(w, dg(n))
			}
			if got := entryDigests(t, p); fmt.Sprint(got) != fmt.Sprint(w) {
				t.Errorf("entry digests:\n got  %v\n want %v", got, w)
			}
		}
	}

	tests := []buildCase{
		{
			name:    "AIBrix: a per-arch tag adds the amd64 the list lost; a Docker list stays a Docker list",
			current: aibrix,
			sources: []srcSpec{{at("app:1-amd64"), dAmd}},
			require: "linux/amd64,linux/arm64",
			rows:    "add linux/amd64, keep linux/arm64", ok: true, changed: true, mediaType: dockerML,
			order: []string{"linux/arm64", "linux/amd64"},
			check: func(t *testing.T, p *repair.Plan) {
				digestsAre(dArm, dAmd)(t, p)
				if p.OldDigest != dg(aibrix) || !bytes.Equal(p.OldManifest, aibrix.Raw) || p.OldMediaType != dockerML {
					t.Errorf("old: %s %s, want the current list %s", p.OldDigest, p.OldMediaType, dg(aibrix))
				}
				add := rowsWith(p, repair.Add)
				if len(add) != 1 || !add[0].Source.Equal(mustRef(t, at("app:1-amd64"))) || add[0].Reason != "missing from the index" || add[0].Digest != dg(dAmd) {
					t.Errorf("add row: %+v", add)
				}
			},
		},
		{
			name:    "a new tag from OCI sources is an OCI index of new-index rows",
			target:  at("app:2"),
			sources: []srcSpec{{at("app:2-amd64"), amd}, {at("app:2-arm64"), arm}},
			require: "linux/amd64,linux/arm64",
			rows:    "add linux/amd64, add linux/arm64", ok: true, changed: true, mediaType: oci,
			order: []string{"linux/amd64", "linux/arm64"},
			check: func(t *testing.T, p *repair.Plan) {
				reasonsAre("new index")(t, p)
				if p.OldDigest != "" || p.OldManifest != nil {
					t.Errorf("a new tag has no old index: %q", p.OldDigest)
				}
			},
		},
		{
			name:    "a new tag from Docker images of another repository is a Docker list",
			target:  at("new/app:1.0"),
			sources: []srcSpec{{at("legacy/app:amd64-1.0"), dAmd}, {at("legacy/app:arm32v7-1.0"), treetest.DockerImage("legacy", "linux/arm/v7")}},
			require: "linux/amd64,linux/arm/v7",
			rows:    "add linux/amd64, add linux/arm/v7", ok: true, changed: true, mediaType: dockerML,
			order: []string{"linux/amd64", "linux/arm/v7"},
			check: func(t *testing.T, p *repair.Plan) {
				reasonsAre("new index")(t, p)
				if len(p.Children) != 2 || !p.Children[0].From.Equal(mustRef(t, at("legacy/app:amd64-1.0"))) || !p.Children[1].From.Equal(mustRef(t, at("legacy/app:arm32v7-1.0"))) {
					t.Errorf("children must be read from their sources: %+v", p.Children)
				}
			},
		},
		{
			// An OCI index may hold the Docker manifests it keeps: no
			// mixed-media-types (audit's checkMediaTypes has the evidence).
			name:    "a Docker list given an OCI image becomes an OCI index, with no warning",
			current: aibrix,
			sources: []srcSpec{{at("app:1-amd64"), amd}},
			require: "linux/amd64,linux/arm64",
			rows:    "add linux/amd64, keep linux/arm64", ok: true, changed: true, mediaType: oci,
		},
		{
			name:    "a single-image tag becomes an index with a source",
			current: amd,
			sources: []srcSpec{{at("app:1-arm64"), arm}},
			require: "linux/amd64,linux/arm64",
			rows:    "add linux/arm64, keep linux/amd64", ok: true, changed: true, mediaType: oci,
			order: []string{"linux/amd64", "linux/arm64"},
			check: func(t *testing.T, p *repair.Plan) {
				digestsAre(amd, arm)(t, p)
				if p.OldDigest != dg(amd) || !bytes.Equal(p.OldManifest, amd.Raw) || p.OldMediaType != types.OCIManifestSchema1 {
					t.Errorf("the old manifest is the single image: %s %s", p.OldDigest, p.OldMediaType)
				}
			},
		},
		{
			name:    "a single-image tag with nothing to add is left as it is, and the plan says what is missing",
			current: amd,
			rows:    "keep linux/amd64", ok: true, changed: false, mediaType: types.OCIManifestSchema1,
			check: func(t *testing.T, p *repair.Plan) {
				if p.NewDigest != dg(amd) || len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "nothing says what else it must hold") {
					t.Errorf("new %s notes %q: want the image kept and a note saying what is missing", p.NewDigest, p.Notes)
				}
			},
		},
		{
			name:    "a single-image tag with a source becomes an index",
			current: amd,
			sources: []srcSpec{{at("app:1-arm64"), arm}},
			rows:    "add linux/arm64, keep linux/amd64", ok: true, changed: true, mediaType: oci,
			order: []string{"linux/amd64", "linux/arm64"},
		},
		{
			name:    "an unreadable single-image tag is dropped and a source takes its place",
			current: treetest.Altered(amd),
			sources: []srcSpec{{at("app:1-amd64"), newAmd}},
			require: "linux/amd64",
			rows:    "add linux/amd64, drop unknown", ok: true, changed: true, mediaType: oci,
			check: digestsAre(newAmd),
		},
		{
			name:    "a mislabelled entry is replaced by a source; its attestation leaves and the source's comes",
			current: mislabelled,
			sources: []srcSpec{{at("app:1-arm64"), treetest.Index(oci, treetest.Entry(arm, "linux/arm64"), treetest.Attestation(arm))}},
			require: "linux/amd64,linux/arm64",
			rows:    "add attestation, drop attestation, keep linux/amd64, replace linux/arm64", ok: true, changed: true, mediaType: oci,
			order: []string{"linux/amd64", "linux/arm64", "attestation"},
			check: func(t *testing.T, p *repair.Plan) {
				digestsAre(amd, arm, treetest.Attestation(arm))(t, p)
				drop := rowsWith(p, repair.Drop)
				if len(drop) != 1 || drop[0].Digest != dg(treetest.Attestation(fake)) {
					t.Errorf("the fake image's attestation should be dropped: %+v", drop)
				}
				rep := rowsWith(p, repair.Replace)
				if len(rep) != 1 || !strings.Contains(rep[0].Reason, "is listed as linux/arm64 but its config says linux/amd64") {
					t.Errorf("the replacement should say what was wrong: %+v", rep)
				}
			},
		},
		{
			name:    "a mislabelled entry is dropped by Fix when its real platform is already provided, and its attestation with it",
			current: mislabelled,
			require: "linux/amd64,linux/arm64",
			fix:     true,
			rows:    "drop attestation, drop linux/arm64, keep linux/amd64", ok: false, changed: true, mediaType: oci,
			codes: "missing-platform",
			order: []string{"linux/amd64"},
		},
		{
			name:    "a mislabelled entry without Fix or a source is left as it is",
			current: mislabelled,
			require: "linux/amd64,linux/arm64",
			rows:    "keep attestation, keep linux/amd64, keep linux/arm64", ok: false, changed: false, mediaType: oci,
			codes: "platform-mismatch",
			check: func(t *testing.T, p *repair.Plan) {
				for _, r := range p.Rows {
					if r.Platform == "linux/arm64" && !strings.Contains(r.Reason, "fixing") {
						t.Errorf("the row should say how to mend it: %q", r.Reason)
					}
				}
			},
		},
		{
			name:    "swapped labels are relabelled from the configs by Fix",
			current: swapped,
			require: "linux/amd64,linux/arm64",
			fix:     true,
			rows:    "fix linux/amd64, fix linux/arm64", ok: true, changed: true, mediaType: oci,
			order: []string{"linux/amd64", "linux/arm64"},
			check: digestsAre(amd, arm),
		},
		{
			name:    "swapped labels without Fix are two mismatches",
			current: swapped,
			require: "linux/amd64,linux/arm64",
			rows:    "keep linux/amd64, keep linux/arm64", ok: false, changed: false, mediaType: oci,
			codes: "platform-mismatch, platform-mismatch",
		},
		{
			name:    "an entry without a platform is set from its config by Fix",
			current: unlabelled,
			require: "linux/amd64,linux/arm64",
			fix:     true,
			rows:    "fix linux/arm64, keep linux/amd64", ok: true, changed: true, mediaType: oci,
			order: []string{"linux/amd64", "linux/arm64"},
		},
		{
			name:    "an entry without a platform is kept without Fix",
			current: unlabelled,
			require: "linux/amd64,linux/arm64",
			rows:    "keep linux/amd64, keep unknown", ok: false, changed: false, mediaType: oci,
			codes: "missing-platform, missing-platform-field",
		},
		{
			name:    "non-canonical claims are kept without Fix, with warnings",
			current: noncanonical,
			require: "linux/amd64,linux/arm64,linux/arm/v7",
			rows:    "keep linux/amd64, keep linux/arm/v7, keep linux/arm64", ok: true, changed: false, mediaType: oci,
			codes: "noncanonical-platform, noncanonical-platform",
			order: []string{"linux/amd64", "linux/aarch64", "linux/arm"},
		},
		{
			name:    "non-canonical claims are rewritten by Fix",
			current: noncanonical,
			require: "linux/amd64,linux/arm64,linux/arm/v7",
			fix:     true,
			rows:    "fix linux/arm/v7, fix linux/arm64, keep linux/amd64", ok: true, changed: true, mediaType: oci,
			order: []string{"linux/amd64", "linux/arm64", "linux/arm/v7"},
		},
		{
			name:    "a source image whose config says aarch64 is added as arm64",
			current: amdOnly,
			sources: []srcSpec{{at("app:1-aarch64"), treetest.Image("app", "linux/aarch64")}},
			require: "linux/amd64,linux/arm64",
			rows:    "add linux/arm64, keep linux/amd64", ok: true, changed: true, mediaType: oci,
			codes: "noncanonical-platform", // the config's spelling, which no index can mend
			order: []string{"linux/amd64", "linux/arm64"},
		},
		{
			name:    "duplicates are kept without Fix, with a warning",
			current: duplicates,
			require: "linux/amd64,linux/arm64",
			rows:    "keep linux/amd64, keep linux/amd64, keep linux/arm64", ok: true, changed: false, mediaType: oci,
			codes: "duplicate-platform",
		},
		{
			name:    "duplicates are dropped by Fix, the first kept",
			current: duplicates,
			require: "linux/amd64,linux/arm64",
			fix:     true,
			rows:    "drop linux/amd64, keep linux/amd64, keep linux/arm64", ok: true, changed: true, mediaType: oci,
			order: []string{"linux/amd64", "linux/arm64"},
			check: func(t *testing.T, p *repair.Plan) {
				digestsAre(amd, arm)(t, p)
				if drop := rowsWith(p, repair.Drop); len(drop) != 1 || drop[0].Digest != dg(newAmd) {
					t.Errorf("the second amd64 entry should be dropped: %+v", drop)
				}
			},
		},
		{
			name:    "a non-canonical duplicate of a canonical entry is dropped by Fix",
			current: treetest.Index(oci, treetest.Entry(arm, "linux/arm64"), treetest.Entry(rebuilt, "linux/aarch64")),
			require: "linux/arm64",
			fix:     true,
			rows:    "drop linux/arm64, keep linux/arm64", ok: true, changed: true, mediaType: oci,
			order: []string{"linux/arm64"},
			check: digestsAre(arm),
		},
		{
			name:    "a missing child is dropped by Fix",
			current: missing,
			require: "linux/amd64,linux/arm64",
			fix:     true,
			rows:    "drop linux/arm64, keep linux/amd64", ok: false, changed: true, mediaType: oci,
			codes: "missing-platform",
			order: []string{"linux/amd64"},
		},
		{
			name:    "a missing child is kept without Fix",
			current: missing,
			require: "linux/amd64,linux/arm64",
			rows:    "keep linux/amd64, keep linux/arm64", ok: false, changed: false, mediaType: oci,
			codes: "missing-child",
		},
		{
			name:    "a missing child is replaced by a source",
			current: missing,
			sources: []srcSpec{{at("other:arm64"), rebuilt}},
			require: "linux/amd64,linux/arm64",
			rows:    "keep linux/amd64, replace linux/arm64", ok: true, changed: true, mediaType: oci,
			order: []string{"linux/amd64", "linux/arm64"},
			check: func(t *testing.T, p *repair.Plan) {
				digestsAre(amd, rebuilt)(t, p)
				if rep := rowsWith(p, repair.Replace); len(rep) != 1 || !strings.Contains(rep[0].Reason, "is missing from the registry") {
					t.Errorf("the replacement should say the child was missing: %+v", rep)
				}
			},
		},
		{
			name:    "an altered child is kept without Fix",
			current: altered,
			require: "linux/amd64,linux/arm64",
			rows:    "keep linux/amd64, keep linux/arm64", ok: false, changed: false, mediaType: oci,
			codes: "digest-mismatch",
		},
		{
			name:    "an altered child is dropped by Fix",
			current: altered,
			require: "linux/amd64,linux/arm64",
			fix:     true,
			rows:    "drop linux/arm64, keep linux/amd64", ok: false, changed: true, mediaType: oci,
			codes: "missing-platform",
		},
		{
			name:    "an altered child is replaced by a source",
			current: altered,
			sources: []srcSpec{{at("app:1-arm64"), rebuilt}},
			require: "linux/amd64,linux/arm64",
			rows:    "keep linux/amd64, replace linux/arm64", ok: true, changed: true, mediaType: oci,
			check: func(t *testing.T, p *repair.Plan) {
				digestsAre(amd, rebuilt)(t, p)
				if rep := rowsWith(p, repair.Replace); len(rep) != 1 || !strings.Contains(rep[0].Reason, "does not match its digest") {
					t.Errorf("the replacement should say the child was altered: %+v", rep)
				}
			},
		},
		{
			name:    "an unreadable child is kept without Fix and reported",
			current: treetest.Index(oci, treetest.Entry(amd, "linux/amd64"), unreadable(treetest.Entry(arm, "linux/arm64"))),
			require: "linux/amd64,linux/arm64",
			rows:    "keep linux/amd64, keep linux/arm64", ok: false, changed: false, mediaType: oci,
			codes: "missing-child",
		},
		{
			name:    "Komodo: a source whose tag names another arch than its image is rejected",
			target:  at("periphery:latest"),
			current: amdOnly,
			sources: []srcSpec{{at("periphery:latest-aarch64"), treetest.Image("built on amd64", "linux/amd64")}},
			require: "linux/amd64,linux/arm64",
			rows:    "keep linux/amd64, reject linux/amd64", ok: false, changed: false, mediaType: oci,
			codes: "missing-platform",
			check: func(t *testing.T, p *repair.Plan) {
				rej := rowsWith(p, repair.Reject)
				if len(rej) != 1 || !strings.Contains(rej[0].Reason, "tag-platform-mismatch") || !rej[0].Source.Equal(mustRef(t, at("periphery:latest-aarch64"))) {
					t.Errorf("the rejection should name the source and say why: %+v", rej)
				}
			},
		},
		{
			name:    "a per-arch source index with one foreign entry is rejected whole, its right entry too",
			current: amdOnly,
			sources: []srcSpec{{at("app:1-arm64"), treetest.Index(oci, treetest.Entry(arm, "linux/arm64"), treetest.Entry(fake, "linux/amd64"))}},
			require: "linux/amd64,linux/arm64",
			rows:    "keep linux/amd64, reject linux/amd64", ok: false, changed: false, mediaType: oci,
			codes: "missing-platform",
		},
		{
			name:    "a source for a platform the index has right is skipped",
			current: healthy,
			sources: []srcSpec{{at("app:1-amd64"), newAmd}},
			rows:    "keep linux/amd64, keep linux/arm64, skip linux/amd64", ok: true, changed: false, mediaType: oci,
			check: func(t *testing.T, p *repair.Plan) {
				if skip := rowsWith(p, repair.Skip); len(skip) != 1 || skip[0].Digest != dg(newAmd) || !strings.Contains(skip[0].Reason, "preferring sources") {
					t.Errorf("skip row: %+v", skip)
				}
			},
		},
		{
			name:    "PreferSources lets a source replace a correct entry in place",
			current: healthy,
			sources: []srcSpec{{at("app:1-amd64"), newAmd}},
			prefer:  true,
			rows:    "keep linux/arm64, replace linux/amd64", ok: true, changed: true, mediaType: oci,
			order: []string{"linux/amd64", "linux/arm64"},
			check: digestsAre(newAmd, arm),
		},
		{
			name:    "a source holding the very image of an entry adds no row, even with PreferSources",
			current: healthy,
			sources: []srcSpec{{at("app:1-amd64"), amd}},
			prefer:  true,
			rows:    "keep linux/amd64, keep linux/arm64", ok: true, changed: false, mediaType: oci,
		},
		{
			name:    "a second source for a platform already added is skipped",
			current: armOnly,
			sources: []srcSpec{{at("app:1-amd64"), amd}, {at("other:amd64"), newAmd}},
			require: "linux/amd64,linux/arm64",
			rows:    "add linux/amd64, keep linux/arm64, skip linux/amd64", ok: true, changed: true, mediaType: oci,
			check: func(t *testing.T, p *repair.Plan) {
				digestsAre(arm, amd)(t, p)
				skip := rowsWith(p, repair.Skip)
				if len(skip) != 1 || !skip[0].Source.Equal(mustRef(t, at("other:amd64"))) || skip[0].Reason != "already taken from "+at("app:1-amd64") {
					t.Errorf("skip row: %+v", skip)
				}
			},
		},
		{
			name:    "an unreadable image of a source index is skipped",
			current: amdOnly,
			sources: []srcSpec{{at("other/app:1"), treetest.Index(oci, treetest.Missing(treetest.Entry(arm, "linux/arm64")), treetest.Entry(armv7, "linux/arm/v7"))}},
			require: "linux/amd64,linux/arm64",
			rows:    "add linux/arm/v7, keep linux/amd64, skip unknown", ok: false, changed: true, mediaType: oci,
			codes: "missing-platform",
		},
		{
			name:    "attestations stay with the images that stay",
			current: withAtts,
			rows:    "keep attestation, keep attestation, keep linux/amd64, keep linux/arm64", ok: true, changed: false, mediaType: oci,
			order: []string{"linux/amd64", "linux/arm64", "attestation", "attestation"},
		},
		{
			name:    "a source index's attestation comes with its image; existing entries keep their order",
			current: armWithAtt,
			sources: []srcSpec{{at("app:1-amd64"), treetest.Index(oci, treetest.Entry(amd, "linux/amd64"), treetest.Attestation(amd))}},
			require: "linux/amd64,linux/arm64",
			rows:    "add attestation, add linux/amd64, keep attestation, keep linux/arm64", ok: true, changed: true, mediaType: oci,
			order: []string{"linux/arm64", "attestation", "linux/amd64", "attestation"},
			check: digestsAre(arm, treetest.Attestation(arm), amd, treetest.Attestation(amd)),
		},
		{
			// buildx writes each image's attestation after it; a rebuild that
			// changes nothing must keep the bytes, or the digest (and every
			// signature on it) moves for nothing.
			name:    "a healthy index with interleaved attestations is not rewritten",
			current: treetest.Index(oci, treetest.Entry(amd, "linux/amd64"), treetest.Attestation(amd), treetest.Entry(arm, "linux/arm64"), treetest.Attestation(arm)),
			tags:    []string{"1"},
			rows:    "keep attestation, keep attestation, keep linux/amd64, keep linux/arm64", ok: true, changed: false, mediaType: oci,
			order: []string{"linux/amd64", "attestation", "linux/arm64", "attestation"},
		},
		{
			name:    "a source is skipped for a platform a nested index provides, even with PreferSources",
			current: nested,
			sources: []srcSpec{{at("app:1-amd64"), newAmd}},
			prefer:  true,
			rows:    "keep (nested index), keep linux/arm/v7, skip linux/amd64", ok: true, changed: false, mediaType: oci,
			check: func(t *testing.T, p *repair.Plan) {
				for _, r := range p.Rows {
					if r.Action == repair.Skip && !strings.Contains(r.Reason, "nested index") {
						t.Errorf("the skip should say the nested index provides it: %q", r.Reason)
					}
				}
			},
		},
		{
			name:    "a source index's attestation does not come when its image is skipped",
			current: healthy,
			sources: []srcSpec{{at("app:1-amd64"), treetest.Index(oci, treetest.Entry(newAmd, "linux/amd64"), treetest.Attestation(newAmd))}},
			rows:    "keep linux/amd64, keep linux/arm64, skip linux/amd64", ok: true, changed: false, mediaType: oci,
		},
		{
			name:    "orphan attestations are dropped, even without Fix",
			current: orphans,
			rows:    "drop attestation, drop attestation, keep linux/amd64", ok: true, changed: true, mediaType: oci,
			order: []string{"linux/amd64"},
		},
		{
			name:    "a reference entry of another type that names no image stays when the index is rebuilt, even with Fix",
			current: withReference,
			sources: []srcSpec{{at("app:1-amd64"), amd}},
			require: "linux/amd64,linux/arm64",
			fix:     true,
			rows:    "add linux/amd64, keep attestation, keep linux/arm64", ok: true, changed: true, mediaType: oci,
			order: []string{"linux/arm64", "attestation", "linux/amd64"},
		},
		{
			name:    "a nested index child is kept as it is when the index is rebuilt",
			current: nested,
			sources: []srcSpec{{at("app:1-s390x"), s390x}},
			require: "linux/amd64,linux/arm64,linux/arm/v7,linux/s390x",
			rows:    "add linux/s390x, keep (nested index), keep linux/arm/v7", ok: true, changed: true, mediaType: oci,
			order: []string{"index", "linux/arm/v7", "linux/s390x"},
			check: func(t *testing.T, p *repair.Plan) {
				digestsAre(inner, armv7, s390x)(t, p)
				if got := parseIndex(t, p.Manifest).Manifests[0]; got.MediaType != oci || got.Size != inner.Descriptor.Size || got.Platform != nil {
					t.Errorf("the nested index's descriptor changed: %+v", got)
				}
			},
		},
		{
			name:    "additions follow the Require order, then the rest by name",
			current: amdOnly,
			sources: []srcSpec{
				{at("app:1-riscv64"), treetest.Image("app", "linux/riscv64")},
				{at("app:1-s390x"), s390x},
				{at("app:1-armv7"), armv7},
				{at("app:1-ppc64le"), treetest.Image("app", "linux/ppc64le")},
				{at("app:1-arm64"), arm},
			},
			require: "linux/amd64,linux/arm64,linux/arm/v7,linux/s390x",
			rows:    "add linux/arm/v7, add linux/arm64, add linux/ppc64le, add linux/riscv64, add linux/s390x, keep linux/amd64", ok: true, changed: true, mediaType: oci,
			order: []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x", "linux/ppc64le", "linux/riscv64"},
		},
		{
			name:    "index annotations are kept in a rebuilt index",
			current: versioned,
			sources: []srcSpec{{at("app:1-amd64"), amd}},
			rows:    "add linux/amd64, keep linux/arm64", ok: true, changed: true, mediaType: oci,
			check: func(t *testing.T, p *repair.Plan) {
				if got := parseIndex(t, p.Manifest).Annotations; fmt.Sprint(got) != "map[org.opencontainers.image.version:1.0]" {
					t.Errorf("annotations = %v", got)
				}
			},
		},
		{
			name:    "an unchanged plan reuses the exact current bytes",
			current: pretty,
			require: "linux/amd64,linux/arm64",
			rows:    "keep linux/amd64, keep linux/arm64", ok: true, changed: false, mediaType: oci,
			check: func(t *testing.T, p *repair.Plan) {
				if !bytes.Contains(pretty.Raw, []byte("\n   ")) {
					t.Fatal("the fixture should be indented, or this case proves nothing")
				}
				if !bytes.Equal(p.Manifest, pretty.Raw) || p.NewDigest != dg(pretty) || p.OldDigest != dg(pretty) {
					t.Errorf("new %s, old %s, want both %s with the same bytes", p.NewDigest, p.OldDigest, dg(pretty))
				}
			},
		},
		{
			name:        "nothing left to build is an error",
			current:     treetest.Index(oci, treetest.Missing(treetest.Entry(arm, "linux/arm64"))),
			fix:         true,
			wantErrText: "nothing is left to put in " + at("app:1"),
		},
		{
			name:        "every source rejected for a new tag leaves nothing to build",
			sources:     []srcSpec{{at("app:1-arm64"), amd}},
			wantErrText: "nothing is left",
		},
		{
			name:    "no current and no sources is ErrNoSources",
			wantErr: repair.ErrNoSources,
		},
		{
			name:    "the old manifest's signatures are listed: they do not follow a new digest",
			current: signed,
			sources: []srcSpec{{at("app:1-amd64"), amd}},
			signed:  true,
			rows:    "add linux/amd64, keep linux/arm64", ok: true, changed: true, mediaType: oci,
			check: func(t *testing.T, p *repair.Plan) {
				if len(p.Signatures) != 1 || p.Signatures[0].Ref.Tag != sigTag || !p.Unsigned() {
					t.Errorf("signatures = %v, unsigned %v: want the cosign tag %s", p.Signatures, p.Unsigned(), sigTag)
				}
				if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "will not follow the new digest") {
					t.Errorf("notes = %q, want one saying the signature stays behind", p.Notes)
				}
			},
		},
		{
			name:    "signatures are kept when nothing moves",
			current: signed,
			signed:  true,
			rows:    "keep linux/arm64", ok: true, changed: false, mediaType: oci,
			check: func(t *testing.T, p *repair.Plan) {
				if len(p.Notes) != 0 || len(p.Signatures) != 0 || p.Unsigned() {
					t.Errorf("notes = %q, signatures %v: want none, the index keeps its digest", p.Notes, p.Signatures)
				}
			},
		},
		{
			name:    "signatures of the images listed stay valid, and the plan says so",
			current: signed,
			sources: []srcSpec{{at("app:1-amd64"), amd}},
			tags:    []string{"1", "1-amd64", "sha256-" + amd.Descriptor.Digest.Hex + ".sig"},
			rows:    "add linux/amd64, keep linux/arm64", ok: true, changed: true, mediaType: oci,
			check: func(t *testing.T, p *repair.Plan) {
				if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "1 signature tag(s) of the images the new manifest lists stay valid") || p.Unsigned() {
					t.Errorf("notes = %q, want one saying the image's signature stays valid", p.Notes)
				}
			},
		},
		{
			name:    "no note without a signature tag of the old digest",
			current: signed,
			sources: []srcSpec{{at("app:1-amd64"), amd}},
			tags:    []string{"1", "1-amd64", "sha256-" + treetest.Digest("another index").Hex + ".sig"},
			rows:    "add linux/amd64, keep linux/arm64", ok: true, changed: true, mediaType: oci,
			check: func(t *testing.T, p *repair.Plan) {
				if len(p.Notes) != 0 {
					t.Errorf("notes = %q, want none", p.Notes)
				}
			},
		},
		{
			name:        "Dest: the plan goes to another tag, and OldDigest is what that tag holds",
			current:     armOnly,
			sources:     []srcSpec{{at("app:1-amd64"), amd}},
			dest:        at("app:1-fixed"),
			destCurrent: otherDest,
			rows:        "add linux/amd64, keep linux/arm64, lose linux/amd64", ok: true, changed: true, mediaType: oci,
			check: func(t *testing.T, p *repair.Plan) {
				if !p.Target.Equal(mustRef(t, at("app:1"))) || !p.Dest.Equal(mustRef(t, at("app:1-fixed"))) {
					t.Errorf("target %s dest %s", p.Target, p.Dest)
				}
				if p.OldDigest != dg(otherDest) || !bytes.Equal(p.OldManifest, otherDest.Raw) || p.OldMediaType != oci {
					t.Errorf("old digest %s, want the destination's %s", p.OldDigest, dg(otherDest))
				}
			},
		},
		{
			name:    "Dest that does not exist: an unchanged target is a change there",
			current: healthy,
			dest:    at("mirror/app:1"),
			rows:    "keep linux/amd64, keep linux/arm64", ok: true, changed: true, mediaType: oci,
			check: func(t *testing.T, p *repair.Plan) {
				if p.OldDigest != "" || p.OldManifest != nil || p.NewDigest != dg(healthy) {
					t.Errorf("old %q new %s, want none and the target's own %s", p.OldDigest, p.NewDigest, dg(healthy))
				}
			},
		},
		{
			name:        "Dest that already holds the index is unchanged",
			current:     healthy,
			dest:        at("mirror/app:1"),
			destCurrent: healthy,
			rows:        "keep linux/amd64, keep linux/arm64", ok: true, changed: false, mediaType: oci,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := at("app:1")
			if tt.target != "" {
				target = tt.target
			}
			in := repair.Input{
				Target:        mustRef(t, target),
				Current:       tt.current,
				Fix:           tt.fix,
				PreferSources: tt.prefer,
				Tags:          tt.tags,
			}
			if tt.signed {
				in.Signatures = []repair.Signature{{Kind: repair.CosignTag, Ref: mustRef(t, at("app:"+sigTag))}}
			}
			if tt.require != "" {
				in.Require = require(t, tt.require)
			}
			for _, s := range tt.sources {
				in.Sources = append(in.Sources, repair.Source{Ref: mustRef(t, s.ref), Node: s.node})
			}
			if tt.dest != "" {
				in.Dest, in.DestCurrent = mustRef(t, tt.dest), tt.destCurrent
			}
			before := []string{snapshot(tt.current), snapshot(tt.destCurrent)}
			for _, s := range tt.sources {
				before = append(before, snapshot(s.node))
			}

			p, err := repair.Build(in)

			after := []string{snapshot(tt.current), snapshot(tt.destCurrent)}
			for _, s := range tt.sources {
				after = append(after, snapshot(s.node))
			}
			if fmt.Sprint(before) != fmt.Sprint(after) {
				t.Error("Build changed the trees it was given")
			}
			if tt.wantErr != nil || tt.wantErrText != "" {
				if err == nil {
					t.Fatalf("Build succeeded with rows %s, want an error", planRows(p))
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want one wrapping %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErrText) {
					t.Errorf("err = %v, want it to say %q", err, tt.wantErrText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := planRows(p); got != tt.rows {
				t.Errorf("rows:\n got  %s\n want %s", got, tt.rows)
			}
			if p.OK() != tt.ok {
				t.Errorf("OK = %v, want %v (findings %v)", p.OK(), tt.ok, p.Findings)
			}
			if p.Changed != tt.changed {
				t.Errorf("Changed = %v, want %v (old %s new %s)", p.Changed, tt.changed, p.OldDigest, p.NewDigest)
			}
			if p.MediaType != string(tt.mediaType) {
				t.Errorf("MediaType = %s, want %s", p.MediaType, tt.mediaType)
			}
			if got := findingCodes(p); got != tt.codes {
				t.Errorf("findings: got %q, want %q (%v)", got, tt.codes, p.Findings)
			}
			if tt.order != nil {
				if got := entryPlatforms(t, p); fmt.Sprint(got) != fmt.Sprint(tt.order) {
					t.Errorf("entries:\n got  %v\n want %v", got, tt.order)
				}
			}
			checkPlan(t, p, in)
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

// checkPlan asserts what holds for every plan: the index is what the plan
// says it is, and its entries are the plan's children and first rows.
func checkPlan(t *testing.T, p *repair.Plan, in repair.Input) {
	t.Helper()
	if types.MediaType(p.MediaType).IsImage() {
		// A single image, reused as it is (treetest's digests are not
		// hashes): the plan's one child and first row.
		if len(p.Children) != 1 || p.Children[0].Digest.String() != p.NewDigest || p.Rows[0].Digest != p.NewDigest {
			t.Errorf("a single-image plan must list the image as its child and first row: %v, %v", p.Children, p.Rows)
		}
		return
	}
	if got := digestOf(p.Manifest); got != p.NewDigest {
		t.Errorf("NewDigest %s, but the manifest hashes to %s", p.NewDigest, got)
	}
	if p.Changed != (p.NewDigest != p.OldDigest) {
		t.Errorf("Changed = %v with old %s and new %s", p.Changed, p.OldDigest, p.NewDigest)
	}
	im := parseIndex(t, p.Manifest)
	if string(im.MediaType) != p.MediaType {
		t.Errorf("the index says %s, the plan %s", im.MediaType, p.MediaType)
	}
	if len(p.Children) != len(im.Manifests) || len(p.Rows) < len(im.Manifests) {
		t.Fatalf("%d entries, %d children, %d rows", len(im.Manifests), len(p.Children), len(p.Rows))
	}
	for i, d := range im.Manifests {
		if c := p.Children[i]; c.Digest != d.Digest || c.MediaType != d.MediaType {
			t.Errorf("entry %d is %s (%s), child %d is %s (%s)", i, d.Digest, d.MediaType, i, c.Digest, c.MediaType)
		}
		if r := p.Rows[i]; r.Digest != d.Digest.String() || r.Attestation != tree.IsAttestation(d) {
			t.Errorf("entry %d is %s, its row is %+v", i, d.Digest, r)
		}
		if d.Platform != nil && !tree.IsAttestation(d) && in.Fix {
			if why := platform.Noncanonical(*platform.FromV1(d.Platform)); why != "" {
				t.Errorf("with Fix, entry %d is still non-canonical: %s", i, why)
			}
		}
	}
	wantDest := in.Target
	if in.Dest.Scheme != "" {
		wantDest = in.Dest
	}
	if !p.Target.Equal(in.Target) || !p.Dest.Equal(wantDest) {
		t.Errorf("target %s dest %s, want %s and %s", p.Target, p.Dest, in.Target, wantDest)
	}
}

// memWriter is a repository in memory: tags, and the manifests pushed or
// tagged, by digest. It logs every write in order.
type memWriter struct {
	tags       map[string]string // tag reference -> digest
	manifests  map[string][]byte // digest -> bytes
	mediaTypes map[string]types.MediaType
	pushed     map[string]bool
	// from records where PushIndex was told each child can be read.
	from map[v1.Hash]ref.Ref
	log  []string
	// afterPush, when set, runs at the end of PushIndex: another writer
	// acting while the repair is under way.
	afterPush func(w *memWriter)
}

func newMemWriter() *memWriter {
	return &memWriter{tags: map[string]string{}, manifests: map[string][]byte{}, mediaTypes: map[string]types.MediaType{}, pushed: map[string]bool{}, from: map[v1.Hash]ref.Ref{}}
}

func (w *memWriter) PushManifest(_ context.Context, dest ref.Ref, raw []byte, mt types.MediaType, from func(v1.Hash) ref.Ref) error {
	d := digestOf(raw)
	if mt.IsIndex() {
		im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return err
		}
		for _, m := range im.Manifests {
			w.from[m.Digest] = from(m.Digest)
		}
	} else {
		h, _ := v1.NewHash(d)
		w.from[h] = from(h)
	}
	w.pushed[d], w.manifests[d], w.mediaTypes[d] = true, raw, mt
	w.log = append(w.log, "push "+dest.WithDigest(d).String())
	if w.afterPush != nil {
		w.afterPush(w)
	}
	return nil
}

func (w *memWriter) Resolve(_ context.Context, r ref.Ref) (string, error) {
	return w.tags[r.String()], nil
}

func (w *memWriter) MoveTag(_ context.Context, r ref.Ref, raw []byte, mt types.MediaType) error {
	d := digestOf(raw)
	w.tags[r.String()], w.manifests[d], w.mediaTypes[d] = d, raw, mt
	w.log = append(w.log, "move "+r.String()+" "+d)
	return nil
}

var _ repair.Writer = (*memWriter)(nil)

// refp is a pointer to the reference s.
func refp(t *testing.T, s string) *ref.Ref {
	t.Helper()
	r := mustRef(t, s)
	return &r
}

func TestApplyPure(t *testing.T) {
	ctx := context.Background()
	amd, arm := treetest.DockerImage("rt", "linux/amd64"), treetest.DockerImage("rt", "linux/arm64")
	current := treetest.Index(dockerML, treetest.Entry(arm, "linux/arm64"))
	old := dg(current)
	target := at("app:1")
	other := treetest.Digest("the other job's push").String()

	// plan is the AIBrix repair of current: amd64 from app:1-amd64.
	plan := func(t *testing.T) *repair.Plan {
		t.Helper()
		p, err := repair.Build(repair.Input{
			Target: mustRef(t, target), Current: current,
			Sources: []repair.Source{{Ref: mustRef(t, at("app:1-amd64")), Node: amd}},
			Require: require(t, "linux/amd64,linux/arm64"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if !p.OK() || !p.Changed {
			t.Fatalf("the fixture plan should be OK and changed: %v", p.Findings)
		}
		return p
	}
	// holding is a writer whose target holds current.
	holding := func() *memWriter {
		w := newMemWriter()
		w.tags[target], w.manifests[old] = old, current.Raw
		return w
	}

	t.Run("a plan that is not OK is refused and nothing is written", func(t *testing.T) {
		// Fix drops the missing amd64 entry: a changed plan, so that only
		// the refusal keeps Apply from writing.
		broken := treetest.Index(dockerML, treetest.Entry(arm, "linux/arm64"), treetest.Missing(treetest.Entry(amd, "linux/amd64")))
		p, err := repair.Build(repair.Input{
			Target: mustRef(t, target), Current: broken, Fix: true,
			Require: require(t, "linux/amd64,linux/arm64"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if p.OK() || !p.Changed {
			t.Fatalf("the plan lacks amd64: it must be changed and not OK: %v", p.Findings)
		}
		w := newMemWriter()
		w.tags[target] = dg(broken)
		applied, err := repair.Apply(ctx, w, p, repair.ApplyOptions{})
		if !errors.Is(err, repair.ErrUnsatisfied) || applied != nil {
			t.Fatalf("Apply = %+v, %v, want ErrUnsatisfied", applied, err)
		}
		if len(w.log) != 0 || w.tags[target] != dg(broken) {
			t.Errorf("nothing may be written: %v", w.log)
		}
	})

	t.Run("an unchanged plan writes nothing", func(t *testing.T) {
		p, err := repair.Build(repair.Input{Target: mustRef(t, target), Current: current, Require: require(t, "linux/arm64")})
		if err != nil {
			t.Fatal(err)
		}
		if !p.OK() || p.Changed {
			t.Fatalf("the fixture plan should be OK and unchanged: %v", p.Findings)
		}
		w := holding()
		applied, err := repair.Apply(ctx, w, p, repair.ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if applied.Moved || applied.Backup != nil || applied.OldDigest != old || applied.NewDigest != old {
			t.Errorf("applied = %+v, want nothing moved and both digests %s", applied, old)
		}
		if len(w.log) != 0 {
			t.Errorf("nothing may be written: %v", w.log)
		}
	})

	t.Run("a plan is pushed by digest, then the tag moves", func(t *testing.T) {
		p, w := plan(t), holding()
		applied, err := repair.Apply(ctx, w, p, repair.ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !applied.Moved || applied.OldDigest != old || applied.NewDigest != p.NewDigest || applied.Backup != nil {
			t.Errorf("applied = %+v, want moved from %s to %s", applied, old, p.NewDigest)
		}
		want := []string{"push " + at("app@"+p.NewDigest), "move " + target + " " + p.NewDigest}
		if fmt.Sprint(w.log) != fmt.Sprint(want) {
			t.Errorf("writes:\n got  %v\n want %v", w.log, want)
		}
		if !bytes.Equal(w.manifests[p.NewDigest], p.Manifest) || w.mediaTypes[p.NewDigest] != dockerML {
			t.Errorf("the tag should hold the plan's index as a %s, holds a %s", dockerML, w.mediaTypes[p.NewDigest])
		}
		if got := w.from[amd.Descriptor.Digest]; !got.Equal(mustRef(t, at("app:1-amd64"))) {
			t.Errorf("amd64 should be read from its source, not %s", got)
		}
		if got := w.from[arm.Descriptor.Digest]; !got.Equal(mustRef(t, target)) {
			t.Errorf("arm64 should be read from the target, not %s", got)
		}
	})

	t.Run("the backup tag template expands and the backup holds the old index", func(t *testing.T) {
		p, w := plan(t), holding()
		// 23:30 on the 23rd in New York is the 24th in UTC.
		now := time.Date(2026, 11, 23, 23, 30, 0, 0, time.FixedZone("EST", -5*3600))
		b, err := repair.BackupTag("{tag}-backup-{date}-{digest}", p.Dest, p.OldDigest, now)
		if err != nil {
			t.Fatal(err)
		}
		p.Backup = &b
		applied, err := repair.Apply(ctx, w, p, repair.ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		backup := at("app:1-backup-20261124-" + current.Descriptor.Digest.Hex[:12])
		if applied.Backup == nil || applied.Backup.String() != backup {
			t.Fatalf("backup = %v, want %s", applied.Backup, backup)
		}
		if w.tags[backup] != old || !bytes.Equal(w.manifests[old], current.Raw) || w.mediaTypes[old] != dockerML {
			t.Errorf("the backup should hold the old list %s, holds %s", old, w.tags[backup])
		}
		want := []string{"push " + at("app@"+p.NewDigest), "move " + backup + " " + old, "move " + target + " " + p.NewDigest}
		if fmt.Sprint(w.log) != fmt.Sprint(want) {
			t.Errorf("writes:\n got  %v\n want %v", w.log, want)
		}
	})

	t.Run("a backup tag that already holds the old index is written again", func(t *testing.T) {
		p, w := plan(t), holding()
		w.tags[at("app:1-old")] = old
		p.Backup = refp(t, at("app:1-old"))
		applied, err := repair.Apply(ctx, w, p, repair.ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !applied.Moved || w.tags[at("app:1-old")] != old || w.tags[target] != p.NewDigest {
			t.Errorf("applied %+v, tags %v", applied, w.tags)
		}
	})

	t.Run("a backup tag holding another digest is refused and the target not moved", func(t *testing.T) {
		p, w := plan(t), holding()
		w.tags[at("app:1-old")] = other
		p.Backup = refp(t, at("app:1-old"))
		applied, err := repair.Apply(ctx, w, p, repair.ApplyOptions{})
		if err == nil || !strings.Contains(err.Error(), "already holds") || applied != nil {
			t.Fatalf("Apply = %+v, %v, want a refusal to overwrite the backup tag", applied, err)
		}
		if w.tags[at("app:1-old")] != other || w.tags[target] != old {
			t.Errorf("neither tag may move: %v", w.tags)
		}
		for _, l := range w.log {
			if strings.HasPrefix(l, "move ") {
				t.Errorf("no tag may be written: %v", w.log)
			}
		}
	})

	t.Run("a target moved by someone else after the push gives ErrChanged", func(t *testing.T) {
		p, w := plan(t), holding()
		w.afterPush = func(w *memWriter) { w.tags[target] = other }
		p.Backup = refp(t, at("app:1-bak"))
		applied, err := repair.Apply(ctx, w, p, repair.ApplyOptions{})
		if !errors.Is(err, repair.ErrChanged) || applied != nil {
			t.Fatalf("Apply = %+v, %v, want ErrChanged", applied, err)
		}
		if w.tags[target] != other {
			t.Errorf("the other job's push %s must stay, the tag holds %s", other, w.tags[target])
		}
		if _, ok := w.tags[at("app:1-bak")]; ok {
			t.Error("no backup is written when the tag changed")
		}
		if !w.pushed[p.NewDigest] {
			t.Error("the new index is pushed by digest before the check")
		}
	})

	t.Run("a new tag is created without a backup", func(t *testing.T) {
		p, err := repair.Build(repair.Input{
			Target:  mustRef(t, at("app:2")),
			Sources: []repair.Source{{Ref: mustRef(t, at("app:1-amd64")), Node: amd}, {Ref: mustRef(t, at("app:1-arm64")), Node: arm}},
		})
		if err != nil {
			t.Fatal(err)
		}
		w := newMemWriter()
		applied, err := repair.Apply(ctx, w, p, repair.ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !applied.Moved || applied.OldDigest != "" || applied.Backup != nil || w.tags[at("app:2")] != p.NewDigest {
			t.Errorf("applied %+v, tags %v", applied, w.tags)
		}
		if _, ok := w.tags[at("app:2-old")]; ok {
			t.Error("no backup is made of a tag that did not exist")
		}
	})

	t.Run("with Dest, the destination moves and the target stays", func(t *testing.T) {
		dest := at("mirror/app:1")
		destOld := treetest.Index(dockerML, treetest.Entry(amd, "linux/amd64"))
		p, err := repair.Build(repair.Input{
			Target: mustRef(t, target), Current: current,
			Sources: []repair.Source{{Ref: mustRef(t, at("app:1-amd64")), Node: amd}},
			Dest:    mustRef(t, dest), DestCurrent: destOld,
		})
		if err != nil {
			t.Fatal(err)
		}
		w := holding()
		w.tags[dest] = dg(destOld)
		p.Backup = refp(t, at("mirror/app:1-bak"))
		applied, err := repair.Apply(ctx, w, p, repair.ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if applied.OldDigest != dg(destOld) || w.tags[dest] != p.NewDigest || w.tags[target] != old {
			t.Errorf("applied %+v, tags %v", applied, w.tags)
		}
		if w.tags[at("mirror/app:1-bak")] != dg(destOld) {
			t.Errorf("the backup is of the destination's old index: %v", w.tags)
		}
		if want := "push " + at("mirror/app@"+p.NewDigest); len(w.log) == 0 || w.log[0] != want {
			t.Errorf("writes %v, want first %s", w.log, want)
		}
	})
}
