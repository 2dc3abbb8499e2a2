package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/report"
)

func TestUsageErrorsExit2AndNameTheInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"malformed reference", []string{"audit", "localhost:5000/Bad/Name:1"}, `"localhost:5000/Bad/Name:1"`},
		{"bare architecture", []string{"audit", "--require", "arm64", "localhost:5000/app:1"}, `"arm64"`},
		{"unknown platform form", []string{"audit", "--require", "linux/amd64/v2/x", "localhost:5000/app:1"}, `"linux/amd64/v2/x"`},
		{"unknown format", []string{"audit", "--format", "yaml", "localhost:5000/app:1"}, `"yaml"`},
		{"unknown fail-on", []string{"audit", "--fail-on", "sometimes", "localhost:5000/app:1"}, `"sometimes"`},
		{"bad timeout", []string{"audit", "--timeout", "0s", "localhost:5000/app:1"}, "--timeout"},
		{"unknown flag", []string{"audit", "--frobnicate", "localhost:5000/app:1"}, "frobnicate"},
		{"no targets", []string{"audit"}, "no targets"},
		{"missing targets file", []string{"audit", "--targets-file", "/nonexistent/list"}, "/nonexistent/list"},
		{"layout that is not one", []string{"audit", "oci:/nonexistent"}, `"oci:/nonexistent"`},
		{"unknown command", []string{"frobnicate"}, "frobnicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mlaudit(t, "", tt.args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\nstderr: %s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr should name %s:\n%s", tt.want, r.stderr)
			}
		})
	}
}

// seedStories seeds every story into host (and a layout dir) and returns
// its targets grouped by the flags they need.
func seedStories(t *testing.T, host string) (stories.Dest, map[string][]stories.Target) {
	t.Helper()
	dest := stories.Dest{Registry: host, LayoutDir: t.TempDir()}
	c, err := registry.New()
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string][]stories.Target{}
	for _, s := range stories.All() {
		seeded, err := s.Seed(context.Background(), c, dest)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range seeded {
			key := fmt.Sprint(st.Require, st.PerArch, st.Mirrors, st.Deep, st.RequireSignatures)
			groups[key] = append(groups[key], st)
		}
	}
	return dest, groups
}

// auditStories runs the binary once per group of targets that need the
// same flags, with the targets in a targets file, and checks the exit code
// and the JSON findings.
func auditStories(t *testing.T, host string) {
	dest, groups := seedStories(t, host)
	var all audit.Result
	for _, targets := range groups {
		args := []string{"audit", "--format", "json", "--require", platform.FormatList(targets[0].Require)}
		for _, p := range targets[0].PerArch {
			args = append(args, "--per-arch", p)
		}
		for _, m := range targets[0].Mirrors {
			args = append(args, "--compare", m.String())
		}
		if targets[0].Deep {
			args = append(args, "--deep")
		}
		if s := targets[0].RequireSignatures; s != 0 {
			args = append(args, "--require-signatures", s.String())
		}
		var list strings.Builder
		list.WriteString("# story targets\n")
		wantCode := 0
		for _, tg := range targets {
			list.WriteString(tg.Ref.String() + "  # " + storytest.Key(tg.Ref, dest) + "\n")
			for _, w := range storytest.Want[storytest.Key(tg.Ref, dest)] {
				if code := audit.Code(strings.Fields(w)[0]); code.Info().Severity == audit.Error {
					wantCode = 1
				}
			}
		}
		if len(targets[0].Mirrors) > 0 {
			wantCode = 1 // the mirror drifted
		}
		file := filepath.Join(t.TempDir(), "targets.txt")
		if err := os.WriteFile(file, []byte(list.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		r := mlaudit(t, "", append(args, "--targets-file", file)...)
		if r.code != wantCode {
			t.Errorf("%v: exit %d, want %d\nstderr: %s", args, r.code, wantCode, r.stderr)
		}
		rep := decode(t, r.stdout)
		if rep.Stats.Requests["GET manifest"] == 0 || rep.Stats.DurationMs < 0 {
			t.Errorf("stats should count requests: %+v", rep.Stats)
		}
		all.Images = append(all.Images, rep.Images...)
		all.Findings = append(all.Findings, rep.Findings...)
		all.Errors = append(all.Errors, rep.Errors...)
	}
	storytest.Check(t, &all, dest)
}

func TestStoriesOnInProcessRegistry(t *testing.T) {
	auditStories(t, testregistry.InProcess(t, nil))
}

func TestStoriesOnDistributionRegistry(t *testing.T) {
	auditStories(t, testregistry.Distribution(t))
}

func TestOneFailingTargetDoesNotHideOthers(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	seedStories(t, host)
	good := host + "/neko/firefox:latest"
	r := mlaudit(t, "", "audit", "--format", "json", "--require", "linux/amd64", host+"/no/such:repo", good, host+"/also/missing")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\nstderr: %s", r.code, r.stderr)
	}
	rep := decode(t, r.stdout)
	if len(rep.Images) != 1 || rep.Images[0].Ref.String() != good {
		t.Errorf("the healthy target should still be audited: %+v", rep.Images)
	}
	if len(rep.Errors) != 2 {
		t.Fatalf("want an error for each missing target, got %+v", rep.Errors)
	}
	if !strings.Contains(rep.Errors[0].Message, "not found") && !strings.Contains(rep.Errors[0].Message, "404") {
		t.Errorf("the error should say the target is not found: %s", rep.Errors[0].Message)
	}
}

func TestGarbageRegistryExit3WithoutPanic(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>login page</html>"))
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, target := range []string{host + "/app:1", host + "/app"} {
		r := mlaudit(t, "", "audit", target)
		if r.code != 3 {
			t.Errorf("%s: exit %d, want 3\nstdout: %s\nstderr: %s", target, r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "NOT AUDITED") {
			t.Errorf("%s: the table should list what was not audited:\n%s", target, r.stdout)
		}
	}
}

func TestFailOnAndOutputFile(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	seedStories(t, host)
	broken := host + "/aibrix/runtime:v0.3.0-rc.2"

	if r := mlaudit(t, "", "audit", "--fail-on", "never", "--require", "linux/amd64,linux/arm64", broken); r.code != 0 {
		t.Errorf("--fail-on never: exit %d, want 0", r.code)
	}
	if r := mlaudit(t, "", "audit", "--require", "linux/amd64,linux/arm64", broken); r.code != 1 {
		t.Errorf("default --fail-on error with an error finding: exit %d, want 1", r.code)
	}
	// An index whose only problem is a non-canonical spelling (arm with
	// no variant, in the index and in the config): two warnings.
	c, err := registry.New()
	if err != nil {
		t.Fatal(err)
	}
	img, err := stories.Image("linux/arm", stories.OCI, "warning only")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := stories.Index(stories.OCI, stories.Entry{Image: img, Platform: "linux/arm"})
	if err != nil {
		t.Fatal(err)
	}
	warned := host + "/warn/only:1"
	if err := c.Push(context.Background(), storytest.Parse(t, warned), idx); err != nil {
		t.Fatal(err)
	}
	if r := mlaudit(t, "", "audit", warned); r.code != 0 {
		t.Errorf("warnings under --fail-on error: exit %d, want 0\n%s", r.code, r.stdout)
	}
	out := filepath.Join(t.TempDir(), "report.json")
	r := mlaudit(t, "", "audit", "--fail-on", "warning", "--format", "json", "--output", out, warned)
	if r.code != 1 {
		t.Errorf("warnings under --fail-on warning: exit %d, want 1", r.code)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rep := decode(t, string(b))
	if len(rep.Findings) == 0 || rep.Findings[0].Code != audit.NoncanonicalPlatform {
		t.Errorf("the report file should hold the warning: %+v", rep.Findings)
	}
	if !strings.Contains(r.stdout, "2 warnings") || !strings.Contains(r.stdout, out) {
		t.Errorf("stdout should carry the summary and the file name: %q", r.stdout)
	}
}

func TestTargetsFromStandardInput(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	seedStories(t, host)
	list := "# release images\n" + host + "/neko/firefox:latest\n\n" + host + "/komodo/periphery:latest # with attestations\n"
	r := mlaudit(t, list, "audit", "--format", "json", "--targets-file", "-", "--require", "linux/amd64,linux/arm64")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	if rep := decode(t, r.stdout); len(rep.Images) != 2 {
		t.Errorf("want both targets audited, got %d", len(rep.Images))
	}
}

func TestRepositoryTargetAuditsEveryTag(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	seedStories(t, host)
	r := mlaudit(t, "", "audit", "--format", "json", host+"/aibrix/runtime")
	rep := decode(t, r.stdout)
	var tags []string
	for _, img := range rep.Images {
		tags = append(tags, img.Ref.Tag)
	}
	if strings.Join(tags, " ") != "v0.3.0-rc.2 v0.3.0-rc.2-amd64 v0.3.0-rc.2-arm64" {
		t.Errorf("tags audited = %v", tags)
	}
	if r.code != 0 {
		t.Errorf("without --require the runtime tags are consistent: exit %d\n%s", r.code, r.stdout)
	}
}

func TestVerboseLogsRequestsToStderr(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	seedStories(t, host)
	r := mlaudit(t, "", "audit", "-v", host+"/neko/firefox:latest")
	if !strings.Contains(r.stderr, "GET http://"+host+"/v2/neko/firefox/manifests/latest [manifest] 200 OK") {
		t.Errorf("-v should log requests to stderr:\n%s", r.stderr)
	}
	if strings.Contains(r.stdout, "GET http") {
		t.Errorf("request logs must not mix into the report")
	}
}

func TestDemo(t *testing.T) {
	r := mlaudit(t, "", "demo")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	for i, s := range stories.All() {
		if !strings.Contains(r.stdout, fmt.Sprintf("%d. %s\n", i+1, s.Source)) {
			t.Errorf("the demo should tell the %s story", s.Name)
		}
	}
	i := strings.Index(r.stdout, "7. Repair")
	if i < 0 {
		t.Fatalf("the demo shows no repair:\n%s", r.stdout)
	}
	repaired := r.stdout[i:]
	if !strings.Contains(repaired, "add     linux/amd64") || !strings.Contains(repaired, "1 image audited: 0 errors, 0 warnings") {
		t.Errorf("the demo should repair the AIBrix list and audit it clean:\n%s", repaired)
	}
	r = mlaudit(t, "", "demo", "--format", "json")
	rep := decode(t, r.stdout)
	got := map[audit.Code]bool{}
	for _, f := range rep.Findings {
		got[f.Code] = true
	}
	for _, info := range audit.Codes() {
		if info.Code == audit.DigestMismatch {
			continue // needs a lying registry; covered in audit tests
		}
		if !got[info.Code] {
			t.Errorf("the demo shows no %s finding", info.Code)
		}
	}
}

func TestHelpTeaches(t *testing.T) {
	r := mlaudit(t, "", "audit", "--help")
	for _, want := range []string{"oci:DIR", "--require", "Exit codes", "--targets-file", "Docker config"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("audit --help should mention %q", want)
		}
	}
}

// TestHelpFitsEightyColumns: every command's --help, flags included,
// reads on an 80-column terminal and in a CI log without wrapping.
func TestHelpFitsEightyColumns(t *testing.T) {
	for _, cmd := range [][]string{{}, {"audit"}, {"repair"}, {"merge"}, {"serve"}, {"policy"}, {"policy", "check"},
		{"policy", "explain"}, {"codes"}, {"demo"}, {"completion"}, {"version"}} {
		r := mlaudit(t, "", append(cmd, "--help")...)
		if r.code != 0 {
			t.Fatalf("mlaudit %v --help: exit %d\n%s", cmd, r.code, r.stderr)
		}
		for _, line := range strings.Split(r.stdout, "\n") {
			if n := len([]rune(line)); n > 80 {
				t.Errorf("mlaudit %v --help: a line of %d columns:\n%s", cmd, n, line)
			}
		}
	}
}

// TestCorruptStorageOnDistributionRegistry damages the stored bytes of a
// child manifest and of a config on Debian's registry, as a failing disk
// or a bad storage sync would: the registry serves them as they are, and
// the audit must report digest-mismatch, not trust them.
func TestCorruptStorageOnDistributionRegistry(t *testing.T) {
	host, storage := testregistry.DistributionWithStorage(t)
	c, err := registry.New()
	if err != nil {
		t.Fatal(err)
	}
	build := func(p, salt string) v1.Image {
		img, err := stories.Image(p, stories.OCI, salt)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	amd, arm, other := build("linux/amd64", "corrupt"), build("linux/arm64", "corrupt"), build("linux/arm64", "other")
	idx, err := stories.Index(stories.OCI, stories.Entry{Image: amd, Platform: "linux/amd64"}, stories.Entry{Image: arm, Platform: "linux/arm64"})
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/corrupt/app:1"
	if err := c.Push(context.Background(), storytest.Parse(t, ref), idx); err != nil {
		t.Fatal(err)
	}
	// The arm64 manifest's stored bytes become another (valid) manifest;
	// the amd64 config's become another config.
	armDigest, _ := arm.Digest()
	otherRaw, _ := other.RawManifest()
	amdConfig, _ := amd.ConfigName()
	otherConfig, _ := other.RawConfigFile()
	for hex, b := range map[string][]byte{armDigest.Hex: otherRaw, amdConfig.Hex: otherConfig} {
		if err := os.WriteFile(testregistry.BlobPath(storage, hex), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := mlaudit(t, "", "audit", "--format", "json", ref)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	rep := decode(t, r.stdout)
	got := storytest.Got(rep.Findings, stories.Dest{Registry: host})
	if want := "[digest-mismatch linux/amd64 digest-mismatch linux/arm64]"; fmt.Sprint(got["corrupt/app:1"]) != want {
		t.Errorf("findings = %v, want %s", got["corrupt/app:1"], want)
	}
}

func TestUnknownRepositoryOnDistributionRegistry(t *testing.T) {
	host := testregistry.Distribution(t)
	r := mlaudit(t, "", "audit", "--format", "json", host+"/no/such:tag", host+"/no/such")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\nstderr: %s", r.code, r.stderr)
	}
	rep := decode(t, r.stdout)
	if len(rep.Errors) != 2 {
		t.Fatalf("want an error per target, got %+v", rep.Errors)
	}
	for _, e := range rep.Errors {
		if !strings.Contains(e.Message, "404") {
			t.Errorf("%s: the error should carry the registry's answer: %s", e.Ref, e.Message)
		}
	}
}

func TestCodesListsEveryCode(t *testing.T) {
	r := mlaudit(t, "", "codes", "--format", "json")
	var got []audit.CodeInfo
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 {
		t.Fatalf("exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if len(got) != len(audit.Codes()) {
		t.Fatalf("%d codes, want %d", len(got), len(audit.Codes()))
	}
	text := mlaudit(t, "", "codes").stdout
	for _, c := range audit.Codes() {
		if !strings.Contains(text, string(c.Code)+" ("+c.Severity.String()+")") {
			t.Errorf("codes does not list %s", c.Code)
		}
		if c.Summary == "" || c.Why == "" || c.Hint == "" {
			t.Errorf("%s lacks what, why or fix", c.Code)
		}
	}
	if r := mlaudit(t, "", "codes", "--format", "yaml"); r.code != 2 {
		t.Errorf("codes --format yaml: exit %d, want 2", r.code)
	}
}

// TestDemoInEveryFormat renders the stories' audit in every format and
// checks each with the parser or schema its consumers use.
func TestDemoInEveryFormat(t *testing.T) {
	for _, format := range report.Formats() {
		t.Run(format, func(t *testing.T) {
			r := mlaudit(t, "", "demo", "--format", format)
			if r.code != 0 || r.stdout == "" {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			out := []byte(r.stdout)
			switch report.Format(format) {
			case report.JSON:
				if rep := decode(t, r.stdout); len(rep.Findings) != wantFindings() {
					t.Errorf("%d findings, want the stories' %d", len(rep.Findings), wantFindings())
				}
			case report.JUnit:
				var doc struct {
					Failures int `xml:"failures,attr"`
				}
				if err := xml.Unmarshal(out, &doc); err != nil || doc.Failures == 0 {
					t.Errorf("junit: %v, %d failures", err, doc.Failures)
				}
			case report.SARIFFmt:
				doc, err := sarif.FromBytes(out)
				if err != nil {
					t.Fatal(err)
				}
				if err := doc.Validate(); err != nil || len(doc.Runs[0].Results) != wantFindings() {
					t.Errorf("sarif: %v, %d results", err, len(doc.Runs[0].Results))
				}
			case report.Prometheus:
				p := expfmt.NewTextParser(model.LegacyValidation)
				if _, err := p.TextToMetricFamilies(bytes.NewReader(out)); err != nil {
					t.Error(err)
				}
			case report.HTML:
				if !strings.Contains(r.stdout, `<table class="matrix">`) || !strings.Contains(r.stdout, "tag-platform-mismatch") {
					t.Error("html lacks the matrix or the findings")
				}
			case report.Markdown:
				if !strings.Contains(r.stdout, "| image | linux/amd64 | linux/arm64 | linux/arm/v7 |") {
					t.Errorf("markdown lacks the matrix:\n%s", r.stdout)
				}
			case report.Table:
				if !strings.Contains(r.stdout, "7. Repair") {
					t.Error("the table demo should end with the repair")
				}
			}
		})
	}
}

func TestWalkFlags(t *testing.T) {
	t.Run("in-process", func(t *testing.T) { testWalkFlags(t, testregistry.InProcess(t, nil)) })
	t.Run("distribution", func(t *testing.T) { testWalkFlags(t, testregistry.Distribution(t)) })
}

func testWalkFlags(t *testing.T, host string) {
	seedStories(t, host)
	r := mlaudit(t, "", "audit", "--format", "json", "--catalog", host, "--tags", `^v0\.3\.0`, "--exclude-tags", "amd64|arm64")
	rep := decode(t, r.stdout)
	var refs []string
	for _, img := range rep.Images {
		refs = append(refs, strings.TrimPrefix(img.Ref.String(), host+"/"))
	}
	if got := strings.Join(refs, " "); got != "aibrix/gateway-plugins:v0.3.0-rc.2 aibrix/metadata-service:v0.3.0-rc.2 aibrix/runtime:v0.3.0-rc.2 mirror/aibrix/metadata-service:v0.3.0-rc.2" {
		t.Errorf("catalog walk with filters audited %s", got)
	}
	if r := mlaudit(t, "", "audit", "--tags", "v[", host+"/aibrix/runtime"); r.code != 2 || !strings.Contains(r.stderr, "--tags") {
		t.Errorf("a bad regular expression: exit %d, %s", r.code, r.stderr)
	}
}

// wantFindings counts the findings the stories must produce.
func wantFindings() int {
	n := 0
	for _, w := range storytest.Want {
		n += len(w)
	}
	return n
}

// TestPolicy runs an audit from a policy on Debian's registry: targets,
// per-repository rules, tag filters, per-arch templates, mirrors, ignored
// codes and severity overrides; then checks that flags override it.
func TestPolicy(t *testing.T) {
	host := testregistry.Distribution(t)
	seedStories(t, host)
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	write := func(body string) {
		if err := os.WriteFile(policyFile, []byte(strings.ReplaceAll(body, "HOST", host)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`version: 1
targets:
  - HOST/aibrix/metadata-service
  - HOST/neko/nvidia-firefox:latest
  - HOST/acme/tool:3.1
require: [linux/amd64, linux/arm64]
rules:
  - repository: HOST/neko/*
    require: [linux/amd64, linux/arm64, linux/arm/v7]
exclude-tags: '-(amd64|arm64)$'
per-arch: ["{tag}-{arch}"]
mirrors: [HOST/mirror]
ignore: [noncanonical-platform, orphan-attestation]
severity:
  duplicate-platform: error
`)
	if r := mlaudit(t, "", "policy", "check", policyFile); r.code != 0 || !strings.Contains(r.stdout, "valid policy") {
		t.Fatalf("policy check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := mlaudit(t, "", "audit", "--format", "json", "--policy", policyFile)
	rep := decode(t, r.stdout)
	got := map[string]bool{}
	for _, f := range rep.Findings {
		got[strings.TrimPrefix(f.Ref.String(), host+"/")+" "+string(f.Code)+" "+f.Severity.String()] = true
	}
	for _, want := range []string{
		"neko/nvidia-firefox:latest missing-platform error",                // the neko rule's arm/v7
		"aibrix/metadata-service:v0.3.0-rc.2-arm64 stale-arch-tag warning", // per-arch
		"mirror/aibrix/metadata-service:v0.3.0-rc.2 mirror-drift error",    // mirrors
		"acme/tool:3.1 duplicate-platform error",                           // severity override
	} {
		if !got[want] {
			t.Errorf("missing finding %q in %v", want, got)
		}
	}
	for k := range got {
		if strings.Contains(k, "noncanonical-platform") || strings.Contains(k, "orphan-attestation") {
			t.Errorf("ignored code reported: %s", k)
		}
	}
	for _, img := range rep.Images {
		if strings.HasSuffix(img.Ref.String(), "-amd64") && strings.Contains(img.Ref.String(), "metadata-service:v0.3.0-rc.2-amd64") && len(img.Required) > 0 {
			t.Errorf("exclude-tags should keep per-arch tags out of the walk; %s was audited as a target", img.Ref)
		}
	}
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}

	// A target and --require on the command line override the policy's
	// targets and requirements; its mirrors still apply.
	r = mlaudit(t, "", "audit", "--format", "json", "--policy", policyFile, "--require", "linux/arm64", host+"/neko/nvidia-firefox:latest")
	rep = decode(t, r.stdout)
	if len(rep.Images) != 1 || fmt.Sprint(rep.Images[0].Required) != "[linux/arm64]" {
		t.Errorf("--require should replace the policy's rules: %+v", rep.Images)
	}
	for _, f := range rep.Findings {
		if f.Code != audit.MirrorDrift {
			t.Errorf("only the policy's mirror check should remain: %v", f)
		}
	}

	write("version: 1\ntargets: [HOST/a/b:1]\nrequire: [linux/amd64, arm64]\n")
	for _, args := range [][]string{{"policy", "check", policyFile}, {"audit", "--policy", policyFile}} {
		r := mlaudit(t, "", args...)
		if r.code != 2 || !strings.Contains(r.stderr, policyFile+":3") || !strings.Contains(r.stderr, `"arm64"`) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %s:3 and the platform", args, r.code, r.stderr, policyFile)
		}
	}
}

func TestExamplePolicyIsValid(t *testing.T) {
	if r := mlaudit(t, "", "policy", "check", examples+"policy.yaml"); r.code != 0 {
		t.Fatalf("examples/policy.yaml: exit %d\n%s", r.code, r.stderr)
	}
}

// TestWarmCacheOnDistributionRegistry audits the stories twice with one
// cache directory: the second run makes no manifest GET (no Docker Hub
// pull) and finds the same.
func TestWarmCacheOnDistributionRegistry(t *testing.T) {
	host := testregistry.Distribution(t)
	seedStories(t, host)
	cacheDir := t.TempDir()
	args := []string{"audit", "--format", "json", "--cache-dir", cacheDir, "--require", "linux/amd64,linux/arm64", "--per-arch", "{tag}-{arch}", host + "/aibrix/runtime", host + "/komodo/periphery"}
	cold := decode(t, mlaudit(t, "", args...).stdout)
	warm := decode(t, mlaudit(t, "", args...).stdout)
	if cold.Stats.Pulls == 0 || warm.Stats.Pulls != 0 || warm.Stats.Requests["GET blob"] != 0 {
		t.Errorf("pulls: cold %d, warm %d (warm requests %v); want none warm", cold.Stats.Pulls, warm.Stats.Pulls, warm.Stats.Requests)
	}
	if warm.Stats.CacheHits == 0 {
		t.Error("the warm run should report cache hits")
	}
	if fmt.Sprint(cold.Findings) != fmt.Sprint(warm.Findings) || len(cold.Images) != len(warm.Images) {
		t.Errorf("the warm run found something else:\ncold %v\nwarm %v", cold.Findings, warm.Findings)
	}
	// Without the cache everything is fetched again. (Not always exactly
	// as often as cold: a tag's digest is unknown until its GET returns,
	// so a per-arch tag and an index child that are the same image may
	// both be fetched, depending on which request runs first.)
	if nocache := decode(t, mlaudit(t, "", append(args, "--no-cache")...).stdout); nocache.Stats.Pulls < cold.Stats.Pulls-1 || nocache.Stats.Pulls == 0 {
		t.Errorf("--no-cache should fetch everything again: %d pulls, cold had %d", nocache.Stats.Pulls, cold.Stats.Pulls)
	}
}

// TestRetryAfterIsHonoured: the registry answers the first manifest GET
// with 429 and Retry-After: 1; mlaudit waits, retries and completes.
func TestRetryAfterIsHonoured(t *testing.T) {
	var mu sync.Mutex
	limited := false
	host := testregistry.InProcess(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			first := !limited && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/latest")
			if first {
				limited = true
			}
			mu.Unlock()
			if first {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	seedStories(t, host)
	start := time.Now()
	r := mlaudit(t, "", "audit", "--format", "json", "--require", "linux/amd64,linux/arm64,linux/arm/v7", host+"/neko/firefox:latest")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("finished in %s: the 1s Retry-After was not honoured", waited)
	}
	if rep := decode(t, r.stdout); rep.Stats.Requests["GET manifest"] != 5 {
		t.Errorf("GET manifest = %d, want 5 (the index twice, three images)", rep.Stats.Requests["GET manifest"])
	}
}
