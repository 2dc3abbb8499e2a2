package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/internal/stories"
)

// shapeDir is a committed shape's OCI layout (testdata/shapes, written
// by go run ./testdata/gen testdata; TestCommittedLayoutMatchesGenerator
// keeps the copy honest).
func shapeDir(t *testing.T, name string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "shapes", name))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// summary writes what an audit found as a maintainer reads it: each
// image's tag and its platform rows ("platform=status"), and each finding
// as "code platform", both sorted.
func summary(rep jsonReport) (images, findings []string) {
	for _, img := range rep.Images {
		var rows []string
		for _, p := range img.Platforms {
			rows = append(rows, p.Platform+"="+p.Status)
		}
		slices.Sort(rows)
		images = append(images, img.Ref.Tag+": "+strings.Join(rows, " "))
	}
	for _, f := range rep.Findings {
		findings = append(findings, strings.TrimSpace(string(f.Code)+" "+f.Platform))
	}
	slices.Sort(images)
	slices.Sort(findings)
	return images, findings
}

// TestCommittedShapes audits each committed shape of a real export or
// repository (internal/stories/shapes.go) with the built binary and says,
// in the table, what a maintainer expects of it.
func TestCommittedShapes(t *testing.T) {
	var notExported []string
	for _, p := range stories.ExportPlatforms[1:] {
		notExported = append(notExported, "missing-child "+containerdForm(p))
	}
	slices.Sort(notExported)
	sigTag := "" // the artifacts shape's cosign tag, found below

	tests := []struct {
		name, shape string
		args        []string
		exit        int
		images      []string // "tag: platform=status ..."; nil: not checked
		findings    []string // "code platform"
		// message, when set, is in every finding's message.
		message string
	}{
		{
			// ctr export --platform linux/amd64 of an eleven-platform
			// image: the index lists ten children the export left out.
			// Each is an error (the layout cannot be pushed or run on
			// those platforms), reported as not exported, with the hint;
			// the exported platform is fine.
			name: "a containerd export of one platform in eleven", shape: stories.ShapeContainerdExport,
			args: []string{"--require", "linux/amd64"}, exit: 1,
			findings: notExported, message: "was not exported to the layout or archive",
		},
		{
			// A healthy repository with an SBOM attached (referrers
			// fallback tag), a cosign signature and a standalone
			// artifact: clean. Walks skip the referrers and signature
			// tags; the artifact gets integrity checks only.
			name: "a repository with artifacts and referrers", shape: stories.ShapeArtifacts,
			args: []string{"--require", "linux/amd64,linux/arm64"}, exit: 0,
			images: []string{"artifact: unknown=artifact", "v1: linux/amd64=ok linux/arm64=ok"},
		},
		{
			// The same with the referrers and signature tags walked and
			// every layer looked at: still clean; JSON and signature
			// layers are skipped, not read as tars.
			name: "the same, signature and referrers tags included, deep", shape: stories.ShapeArtifacts,
			args: []string{"--include-signature-tags", "--deep"}, exit: 0,
		},
		{
			// podman/buildah zstd and gzip variants of each platform: not
			// duplicates; the deep check reads zstd layers too.
			name: "zstd variants", shape: stories.ShapeZstd,
			args: []string{"--require", "linux/amd64,linux/arm64", "--deep"}, exit: 0,
			images: []string{"1.0: linux/amd64=ok linux/amd64=ok linux/arm64=ok linux/arm64=ok"},
		},
		{
			// A Docker Official Image: an OCI index holding Docker schema
			// 2 Windows manifests (no mixed-media-types warning), BuildKit
			// attestations (not platforms) and foreign Windows base
			// layers (skipped by the deep check, never fetched).
			name: "an Official Images index with attestations and Windows entries", shape: stories.ShapeOfficial,
			args: []string{"--require", "linux/amd64,linux/arm64,windows/amd64", "--deep"}, exit: 0,
			images: []string{"latest: linux/amd64=ok linux/arm64=ok unknown/unknown=attestation unknown/unknown=attestation windows(10.0.17763.6893)/amd64=ok windows(10.0.20348.3207)/amd64=ok"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"audit", "--format", "json"}, tc.args...), "oci:"+shapeDir(t, tc.shape))
			r := mlaudit(t, "", args...)
			rep := decode(t, r.stdout)
			images, findings := summary(rep)
			if r.code != tc.exit || !slices.Equal(findings, tc.findings) || len(rep.Errors) != 0 {
				t.Errorf("exit %d, findings %q, errors %+v\nwant exit %d, findings %q, no errors\n%s", r.code, findings, rep.Errors, tc.exit, tc.findings, r.stderr)
			}
			if tc.images != nil && !slices.Equal(images, tc.images) {
				t.Errorf("images:\n got  %q\n want %q", images, tc.images)
			}
			for _, f := range rep.Findings {
				if tc.message != "" && !strings.Contains(f.Message, tc.message) {
					t.Errorf("%s %s: message %q lacks %q", f.Code, f.Platform, f.Message, tc.message)
				}
			}
			for _, img := range rep.Images {
				if strings.HasSuffix(img.Ref.Tag, ".sig") {
					sigTag = img.Ref.Tag
				}
			}
		})
	}
	if sigTag == "" {
		t.Errorf("the artifacts shape's cosign signature tag was never audited with --include-signature-tags")
	}

	// repair keeps compression variants: the plan for the zstd shape
	// changes nothing, with --fix.
	t.Run("repair --fix keeps zstd variants", func(t *testing.T) {
		r := mlaudit(t, "", "repair", "--fix", "--format", "json", "--require", "linux/amd64,linux/arm64", "oci:"+shapeDir(t, stories.ShapeZstd)+":1.0")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		var doc struct {
			Repairs []struct {
				Target, Result string
				Plan           struct {
					Changed bool
					Rows    []struct{ Platform, Action string }
				}
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Repairs) != 1 {
			t.Fatalf("the JSON plan: %v\n%s", err, r.stdout)
		}
		var actions []string
		for _, row := range doc.Repairs[0].Plan.Rows {
			actions = append(actions, row.Action+" "+row.Platform)
		}
		if res := doc.Repairs[0]; res.Plan.Changed || res.Result != "unchanged" {
			t.Errorf("%s: result %s, changed %v; want unchanged", res.Target, res.Result, res.Plan.Changed)
		}
		slices.Sort(actions)
		want := []string{"keep linux/amd64", "keep linux/amd64", "keep linux/arm64", "keep linux/arm64"}
		if !slices.Equal(actions, want) {
			t.Errorf("plan rows %q, want %q", actions, want)
		}
	})
}

// containerdForm writes a platform of the shapes as findings name it, in
// containerd's format: arm64/v8 as arm64, windows/amd64:VERSION as
// windows(VERSION)/amd64.
func containerdForm(p string) string {
	p = strings.Replace(p, "arm64/v8", "arm64", 1)
	if osArch, version, ok := strings.Cut(p, ":"); ok {
		os, arch, _ := strings.Cut(osArch, "/")
		return os + "(" + version + ")/" + arch
	}
	return p
}
