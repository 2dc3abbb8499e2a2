package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/repair"
	"github.com/mlaudit/mlaudit/report"
)

// mustRef parses a reference the test wrote.
func mustRef(s string) ref.Ref {
	r, err := ref.Parse(s)
	if err != nil {
		panic(err)
	}
	return r
}

// sample is a result with every kind of row: a healthy entry, a mismatch,
// a missing platform, an attestation, a finding and an error.
func sample() *audit.Result {
	at := mustRef("registry.example.com/a/rather/long/repository/name:v1.2.3-release-candidate")
	return &audit.Result{
		Images: []audit.Image{{
			Ref: at, Digest: "sha256:" + strings.Repeat("ab", 32), MediaType: "application/vnd.oci.image.index.v1+json",
			Platforms: []audit.PlatformEntry{
				{Platform: "linux/amd64", ConfigPlatform: "linux/amd64", Digest: "sha256:" + strings.Repeat("01", 32), Status: audit.StatusOK},
				{Platform: "windows(10.0.20348.2227)/amd64", ConfigPlatform: "windows(10.0.17763.5458)/amd64", Digest: "sha256:" + strings.Repeat("02", 32), Status: audit.StatusMismatch},
				{Platform: "unknown", Digest: "sha256:" + strings.Repeat("03", 32), Attestation: true, Status: audit.StatusAttestation},
				{Platform: "linux/arm/v7", Status: audit.StatusMissing},
			},
		}},
		Findings: []audit.Finding{{
			Ref: at, Code: audit.MissingPlatform, Severity: audit.Error, Platform: "linux/arm/v7",
			Message: "linux/arm/v7 is required but the index has no entry for it (it has linux/amd64, windows(10.0.20348.2227)/amd64)",
			Hint:    audit.MissingPlatform.Info().Hint,
		}},
		Errors: []audit.TargetError{{Ref: mustRef("registry.example.com/gone:1"), Message: "fetching manifest registry.example.com/gone:1: GET https://registry.example.com/v2/gone/manifests/1: 404 Not Found (MANIFEST_UNKNOWN: manifest unknown)"}},
		Stats:  audit.Stats{Requests: map[string]int64{"GET manifest": 3}, RequestsTotal: 3, DurationMs: 42},
	}
}

func TestTableFitsEightyColumns(t *testing.T) {
	var b bytes.Buffer
	if err := report.Render(&b, report.Table, sample()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, line := range strings.Split(out, "\n") {
		isRef := !strings.Contains(strings.TrimSpace(line), " ")
		if len(line) > 80 && !isRef {
			t.Errorf("line of %d columns: %q", len(line), line)
		}
		for _, r := range line {
			if r > 127 {
				t.Errorf("non-ASCII %q in %q: CI logs may mangle it", r, line)
				break
			}
		}
	}
	for _, want := range []string{"MISSING", "MISMATCH", "(attestation)", "ERROR   missing-platform  linux/arm/v7", "fix: Build", "NOT AUDITED", "registry.example.com/gone:1", "1 image audited: 1 error, 0 warnings, 1 not audited; 3 requests in 42ms."} {
		if !strings.Contains(out, want) {
			t.Errorf("table should contain %q:\n%s", want, out)
		}
	}
}

func TestJSONSchema(t *testing.T) {
	var b bytes.Buffer
	if err := report.Render(&b, report.JSON, sample()); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["schemaVersion"] != float64(1) {
		t.Errorf("schemaVersion = %v", doc["schemaVersion"])
	}
	img := doc["images"].([]any)[0].(map[string]any)
	for _, k := range []string{"ref", "digest", "mediaType", "platforms"} {
		if _, ok := img[k]; !ok {
			t.Errorf("images[0] lacks %q", k)
		}
	}
	pl := img["platforms"].([]any)[1].(map[string]any)
	for k, want := range map[string]any{"platform": "windows(10.0.20348.2227)/amd64", "configPlatform": "windows(10.0.17763.5458)/amd64", "attestation": false, "status": "mismatch"} {
		if pl[k] != want {
			t.Errorf("platforms[1].%s = %v, want %v", k, pl[k], want)
		}
	}
	f := doc["findings"].([]any)[0].(map[string]any)
	for k, want := range map[string]any{"code": "missing-platform", "severity": "error", "platform": "linux/arm/v7"} {
		if f[k] != want {
			t.Errorf("findings[0].%s = %v, want %v", k, f[k], want)
		}
	}
	for _, k := range []string{"ref", "message", "hint"} {
		if f[k] == "" || f[k] == nil {
			t.Errorf("findings[0] lacks %q", k)
		}
	}
	stats := doc["stats"].(map[string]any)
	if stats["requests"].(map[string]any)["GET manifest"] != float64(3) || stats["durationMs"] != float64(42) {
		t.Errorf("stats = %v", stats)
	}
	if e := doc["errors"].([]any)[0].(map[string]any); e["ref"] != "registry.example.com/gone:1" {
		t.Errorf("errors[0] = %v", e)
	}
}

func TestParseFormat(t *testing.T) {
	if f, err := report.ParseFormat(" JSON "); err != nil || f != report.JSON {
		t.Errorf("ParseFormat(JSON) = %v, %v", f, err)
	}
	_, err := report.ParseFormat("yaml")
	if err == nil || !strings.Contains(err.Error(), "html, json, junit, markdown, prometheus, sarif, table") {
		t.Errorf("an unknown format should list the known ones: %v", err)
	}
}

func TestPlanTableFitsEightyColumns(t *testing.T) {
	p := &repair.Plan{
		Target: mustRef("ghcr.io/org/runtime:v0.3.0-rc.2"), Dest: mustRef("ghcr.io/org/runtime:v0.3.0-rc.2"),
		OldDigest: "sha256:" + strings.Repeat("ab", 32), OldMediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
		NewDigest: "sha256:" + strings.Repeat("cd", 32), MediaType: "application/vnd.oci.image.index.v1+json", Changed: true,
		Rows: []repair.Row{
			{Platform: "linux/arm64", Digest: "sha256:" + strings.Repeat("01", 32), Source: mustRef("ghcr.io/org/runtime:v0.3.0-rc.2"), Action: repair.Keep, Reason: "correct"},
			{Platform: "linux/amd64", Digest: "sha256:" + strings.Repeat("02", 32), Source: mustRef("ghcr.io/org/runtime:v0.3.0-rc.2-amd64"), Action: repair.Add, Reason: "missing from the index"},
			{Platform: "windows(10.0.20348.2227)/amd64", Digest: "sha256:" + strings.Repeat("03", 32), Source: mustRef("ghcr.io/org/runtime-windows:ltsc2022"), Action: repair.Add, Reason: "missing from the index"},
			{Platform: "unknown", Digest: "sha256:" + strings.Repeat("04", 32), Source: mustRef("ghcr.io/org/runtime:v0.3.0-rc.2"), Action: repair.Drop, Reason: "attests sha256:0505050505, which leaves the index", Attestation: true},
			{Platform: "linux/amd64", Digest: "sha256:" + strings.Repeat("06", 32), Source: mustRef("ghcr.io/org/runtime:latest-aarch64"), Action: repair.Reject, Reason: `tag-platform-mismatch: tag "latest-aarch64" names arm64 ("aarch64") but the image is linux/amd64`},
		},
		Notes:      []string{"tag sha256-abab.sig is attached to the old digest and will not follow a new index: sign or attest ghcr.io/org/runtime:v0.3.0-rc.2 again after applying"},
		Backup:     refPtr(mustRef("ghcr.io/org/runtime:v0.3.0-rc.2-backup-20261201")),
		Signatures: []repair.Signature{{Kind: repair.CosignTag, Ref: mustRef("ghcr.io/org/runtime:sha256-" + strings.Repeat("ab", 32) + ".sig")}, {Kind: repair.Referrer, Ref: mustRef("ghcr.io/org/runtime@sha256:" + strings.Repeat("07", 32)), ArtifactType: "application/spdx+json"}},
	}
	p.Rows = append(p.Rows, repair.Row{Platform: "linux/s390x", Digest: "sha256:" + strings.Repeat("08", 32), Source: p.Dest, Action: repair.Lose, Reason: "the destination holds it now; the new manifest does not"})
	var b bytes.Buffer
	if err := report.RenderPlan(&b, p); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, line := range strings.Split(out, "\n") {
		if len(line) > 80 {
			t.Errorf("line of %d columns: %q", len(line), line)
		}
	}
	for _, want := range []string{":v0.3.0-rc.2-amd64", "(this tag)", "(attestation)", "reject", "Note: tag sha256-abab.sig", "after: OCI index sha256:cdcdcdcdcdcd",
		"backup of the old manifest: ghcr.io/org/runtime:v0.3.0-rc.2-backup-20261201", "will not follow the new one", "referrer (application/spdx+json)", "lose    linux/s390x"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan should show %q:\n%s", want, out)
		}
	}
}

// TestFindingsWithoutImagesAreShown: a mirror copy is compared, not
// audited, so its mirror-drift finding has no image row; every format must
// still show it.
func TestFindingsWithoutImagesAreShown(t *testing.T) {
	r := sample()
	r.Findings = append(r.Findings, audit.Finding{Ref: mustRef("mirror.example.com/org/app:1"), Code: audit.MirrorDrift, Severity: audit.Error,
		Platform: "linux/arm64", Message: "the mirror lacks linux/arm64", Hint: audit.MirrorDrift.Info().Hint})
	for _, f := range report.Formats() {
		var b bytes.Buffer
		if err := report.Render(&b, report.Format(f), r); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "mirror-drift") || !strings.Contains(b.String(), "mirror.example.com/org/app") && f != "html" {
			t.Errorf("%s does not show the mirror's finding", f)
		}
	}
}

func refPtr(r ref.Ref) *ref.Ref { return &r }
