// Package storytest states what mlaudit must find in each story of package
// stories, so that tests against every registry check the same
// expectations.
package storytest

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"testing"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/ref"
)

// Want maps a reference, without its registry host or layout directory, to
// the findings it must have, each written "code platform" (or "code" when
// the finding has no platform), sorted.
var Want = map[string][]string{
	"komodo/periphery:latest":             nil,
	"komodo/periphery:latest-aarch64":     {"tag-platform-mismatch linux/amd64"},
	"aibrix/runtime:v0.3.0-rc.2":          {"missing-platform linux/amd64"},
	"aibrix/gateway-plugins:v0.3.0-rc.2":  {"not-an-index linux/arm64"},
	"aibrix/metadata-service:v0.3.0-rc.2": nil,
	"neko/neko:arm-firefox":               nil,
	"neko/firefox:latest":                 nil,
	"neko/nvidia-firefox:latest":          {"missing-platform linux/arm/v7"},
	"buildx-out:app-1.0":                  {"platform-mismatch linux/arm64"},
	"acme/tool:3.1": {
		"duplicate-platform linux/amd64",
		"missing-platform-field",
		"mixed-media-types",
		"noncanonical-platform linux/arm64",
		"noncanonical-platform linux/arm64",
		"orphan-attestation",
	},
	"acme/broken:1.0": {"missing-child linux/arm64"},
	"acme/agent:2.0":  {"binary-arch-mismatch linux/arm64"},
	"acme/agent:1.9":  nil,
	// Found through per-arch templates and mirrors, not named as targets.
	"aibrix/runtime:v0.3.0-rc.2-amd64":           nil,
	"aibrix/runtime:v0.3.0-rc.2-arm64":           nil,
	"aibrix/metadata-service:v0.3.0-rc.2-amd64":  nil,
	"aibrix/metadata-service:v0.3.0-rc.2-arm64":  {"stale-arch-tag linux/arm64"},
	"mirror/aibrix/metadata-service:v0.3.0-rc.2": {"mirror-drift linux/arm64"},
	// The releases story walks its repository.
	"acme/runtime:1.4.0": nil,
	"acme/runtime:1.5.0": {"platform-dropped linux/arm64"},
	"acme/signed:2.0":    {"unsigned linux/arm64"},
}

// The releases story's orphan signature tag is named by a digest.
func init() {
	orphan, err := stories.OrphanSignature()
	if err != nil {
		panic(err)
	}
	Want[orphan] = []string{"orphan-referrer"}
	Mirrored[orphan] = true
}

// Mirrored lists the Want keys that are not audited as images: mirror
// copies (compared) and tags found by walking a repository (an orphan
// signature tag).
var Mirrored = map[string]bool{"mirror/aibrix/metadata-service:v0.3.0-rc.2": true}

// Seed seeds every story to dest and returns the audit targets.
func Seed(t testing.TB, w stories.Writer, dest stories.Dest) []audit.Target {
	t.Helper()
	var targets []audit.Target
	for _, s := range stories.All() {
		seeded, err := s.Seed(context.Background(), w, dest)
		if err != nil {
			t.Fatalf("seeding %s: %v", s.Name, err)
		}
		for _, st := range seeded {
			targets = append(targets, st.Audit())
		}
	}
	return targets
}

// Key is a reference without the registry host or the layout directory
// the stories were seeded to: "aibrix/runtime:v0.3.0-rc.2",
// "buildx-out:app-1.0".
func Key(r ref.Ref, dest stories.Dest) string {
	at := ":" + r.Tag
	if r.Tag == "" {
		at = "@" + r.Digest
	}
	if r.Scheme == ref.Layout {
		rel, err := filepath.Rel(dest.LayoutDir, r.Path)
		if err != nil {
			return r.String()
		}
		return rel + at
	}
	return r.Repository + at
}

// Got groups a result's findings by Key, in Want's form.
func Got(findings []audit.Finding, dest stories.Dest) map[string][]string {
	got := map[string][]string{}
	for _, f := range findings {
		s := string(f.Code)
		if f.Platform != "" {
			s += " " + f.Platform
		}
		k := Key(f.Ref, dest)
		got[k] = append(got[k], s)
	}
	for k := range got {
		sort.Strings(got[k])
	}
	return got
}

// Check compares findings with Want for every story reference, and
// reports audit errors and images that were never audited.
func Check(t testing.TB, r *audit.Result, dest stories.Dest) {
	t.Helper()
	for _, e := range r.Errors {
		t.Errorf("not audited: %s: %s", e.Ref, e.Message)
	}
	audited := map[string]bool{}
	for _, img := range r.Images {
		audited[Key(img.Ref, dest)] = true
	}
	got := Got(r.Findings, dest)
	for ref, want := range Want {
		if !audited[ref] && !Mirrored[ref] {
			t.Errorf("%s was not audited", ref)
			continue
		}
		if fmt.Sprint(got[ref]) != fmt.Sprint(want) {
			t.Errorf("%s findings:\n got  %v\n want %v", ref, got[ref], want)
		}
	}
	for ref := range got {
		if _, ok := Want[ref]; !ok {
			t.Errorf("finding for unexpected reference %s: %v", ref, got[ref])
		}
	}
}
