package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// fleet pushes three components as the AIBrix failure left them, each
// with per-arch tags: runtime's list lost linux/amd64, gateway became a
// single arm64 image, and metadata lost linux/amd64 with no amd64 build to
// take it from (it cannot be repaired).
func fleet(t *testing.T, host string) *storytest.Env {
	t.Helper()
	e := storytest.NewEnv(t, host)
	for _, c := range []string{"runtime", "gateway", "metadata"} {
		amd, arm := e.Image("linux/amd64", stories.Docker, c), e.Image("linux/arm64", stories.Docker, c)
		if c != "metadata" {
			e.Push("team/"+c+":v1-amd64", amd)
		}
		e.Push("team/"+c+":v1-arm64", arm)
		if c == "gateway" {
			e.Push("team/"+c+":v1", arm)
		} else {
			e.Push("team/"+c+":v1", e.Index(stories.Docker, stories.Entry{Image: arm, Platform: "linux/arm64"}))
		}
	}
	return e
}

// TestRepairAFleetInOneCommand: three repositories walked in one command.
// The per-arch tags are sources, not targets; the two repairable tags are
// applied, the third is left untouched, exit 1, and one summary says which
// is which. The next audit of the repositories skips the backup tags.
func TestRepairAFleetInOneCommand(t *testing.T) {
	host := testregistry.Distribution(t)
	fleet(t, host)
	repos := []string{host + "/team/runtime", host + "/team/gateway", host + "/team/metadata"}
	before := map[string]string{}
	for _, r := range repos {
		before[r] = resolve(t, r+":v1")
	}
	args := append([]string{"repair", "--per-arch", "{tag}-{arch}", "--require", "linux/amd64,linux/arm64", "--backup-tag", "{tag}-backup-{date}"}, repos...)

	dry := mlaudit(t, "", append(append([]string(nil), args...), "--format", "json")...)
	got := repairResults(t, dry, host)
	if want := "team/runtime:v1 planned, team/gateway:v1 planned, team/metadata:v1 unsatisfied"; got != want || dry.code != exitFindings {
		t.Fatalf("dry run: exit %d, repairs %v; want exit 1 and %s (per-arch tags are sources, not targets)", dry.code, got, want)
	}
	for _, r := range repos {
		if resolve(t, r+":v1") != before[r] {
			t.Fatalf("a dry run moved %s", r)
		}
	}

	r := mlaudit(t, "", append(args, "--apply")...)
	if r.code != exitFindings {
		t.Fatalf("exit %d, want 1 (one target could not be satisfied)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, c := range []string{"runtime", "gateway"} {
		target := host + "/team/" + c + ":v1"
		for _, arch := range []string{"amd64", "arm64"} {
			if got := pulledPlatform(t, target, "linux", arch, ""); got != "linux/"+arch {
				t.Errorf("%s: skopeo resolves linux/%s to %s", target, arch, got)
			}
		}
		if !strings.Contains(r.stdout, "repaired       rebuild index  "+strings.TrimPrefix(before[host+"/team/"+c], "sha256:")[:12]) {
			t.Errorf("the summary should show %s repaired from its old digest:\n%s", c, r.stdout)
		}
	}
	if got := resolve(t, host+"/team/metadata:v1"); got != before[host+"/team/metadata"] {
		t.Errorf("the unrepairable tag must be untouched, it holds %s", got)
	}
	if !strings.Contains(r.stdout, "unsatisfied") || !strings.Contains(r.stdout, "Backups (later audits skip them") {
		t.Errorf("the summary should name the unsatisfied target and the backups:\n%s", r.stdout)
	}

	// The next scheduled audit: the backup tags are skipped by default, so
	// the repaired repositories audit clean; asked for, a backup is audited.
	audit := []string{"audit", "--require", "linux/amd64,linux/arm64", "--exclude-tags", "-(amd64|arm64)$", host + "/team/runtime", host + "/team/gateway"}
	if a := mlaudit(t, "", audit...); a.code != 0 {
		t.Errorf("the audit after the repair should be clean (exit %d):\n%s", a.code, a.stdout)
	}
	if a := mlaudit(t, "", append(audit, "--include-backup-tags")...); a.code != exitFindings || !strings.Contains(a.stdout, "v1-backup-") {
		t.Errorf("with --include-backup-tags the old lists are audited again (exit %d):\n%s", a.code, a.stdout)
	}
}

// TestRepairPerArchTagToItsArchitecture: latest-aarch64 holds an amd64
// image; from the good multi-arch tag it is made to hold the arm64 image,
// as a single image, not a one-entry index.
func TestRepairPerArchTagToItsArchitecture(t *testing.T) {
	host := testregistry.Distribution(t)
	seedStories(t, host)
	target := host + "/komodo/periphery:latest-aarch64"
	r := mlaudit(t, "", "repair", "--from", host+"/komodo/periphery:latest", "--backup-tag", "{tag}-backup", "--apply", target)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	raw := rawManifest(t, target)
	if strings.Contains(raw, `"manifests"`) {
		t.Errorf("a per-arch tag should hold a single image, holds %s", raw)
	}
	var cfg struct{ Architecture string }
	if err := json.Unmarshal(skopeo(t, "inspect", "--tls-verify=false", "--config", "docker://"+target), &cfg); err != nil || cfg.Architecture != "arm64" {
		t.Errorf("the image's config says %q (%v), want arm64", cfg.Architecture, err)
	}
	if !strings.Contains(r.stdout, "set image") || !strings.Contains(r.stdout, "To put it back:") {
		t.Errorf("the output should say the tag was set to an image and how to undo it:\n%s", r.stdout)
	}
}

// TestRepairChecksTemplatesAndDestinationsFirst: a backup template or
// destination that cannot work is exit 2, before anything is written, and
// --to an existing tag shows what that tag loses.
func TestRepairChecksTemplatesAndDestinationsFirst(t *testing.T) {
	host := testregistry.Distribution(t)
	e := fleet(t, host)
	runtime := host + "/team/runtime:v1"
	old := resolve(t, runtime)
	base := []string{"repair", "--per-arch", "{tag}-{arch}", "--require", "linux/amd64,linux/arm64", "--apply"}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no backup marker", []string{"--backup-tag", "{tag}-old", runtime}, `must hold the word "backup"`},
		{"the tag itself", []string{"--backup-tag", "{tag}", runtime}, `must hold the word "backup"`},
		{"an unknown placeholder", []string{"--backup-tag", "{tag}-backup-{time}", runtime}, "only {tag}, {date}, {digest} may be used"},
		{"too long a tag", []string{"--backup-tag", "{tag}-backup-" + strings.Repeat("x", 130), runtime}, "backup"},
		{"a bad character", []string{"--backup-tag", "{tag}-backup/{date}", runtime}, "backup"},
		{"a backup on another target", []string{"--backup-tag", "{tag}-backup", runtime, runtime + "-backup"}, "a tag this repair moves"},
		{"--to for many targets", []string{"--to", host + "/team/other:v1", host + "/team/runtime", host + "/team/gateway"}, "exactly one TARGET"},
		{"a digest target", []string{runtime + "@" + old}, "a repair moves a tag"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := mlaudit(t, "", append(append([]string(nil), base...), tt.args...)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, want 2 saying %q:\n%s%s", r.code, tt.want, r.stdout, r.stderr)
			}
			if got := resolve(t, runtime); got != old {
				t.Errorf("the target moved to %s", got)
			}
		})
	}

	t.Run("--to an existing tag shows what it loses", func(t *testing.T) {
		e.Push("team/other:v1", e.Index(stories.Docker, stories.Entry{Image: e.Image("linux/s390x", stories.Docker, "other"), Platform: "linux/s390x"}))
		r := mlaudit(t, "", "repair", "--per-arch", "{tag}-{arch}", "--require", "linux/amd64,linux/arm64", "--to", host+"/team/other:v1", runtime)
		if r.code != 0 || !strings.Contains(r.stdout, "lose    linux/s390x: the destination holds it now") {
			t.Errorf("exit %d; the plan should show the s390x entry the destination loses:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}

// TestRepairTakesThePolicy: targets, per-repository requirements and
// per-arch templates come from a policy file, as for audit.
func TestRepairTakesThePolicy(t *testing.T) {
	host := testregistry.Distribution(t)
	fleet(t, host)
	pol := t.TempDir() + "/policy.yaml"
	writePolicy(t, pol, `version: 1
targets: [`+host+`/team/runtime, `+host+`/team/metadata:v1]
require: [linux/amd64, linux/arm64]
rules:
  - repository: `+host+`/team/metadata
    require: [linux/arm64]
per-arch: ["{tag}-{arch}"]
`)
	r := mlaudit(t, "", "repair", "--policy", pol, "--format", "json")
	// runtime needs amd64 from its per-arch tag; metadata's rule asks only
	// for arm64, which it holds.
	if got, want := repairResults(t, r, host), "team/runtime:v1 planned, team/metadata:v1 unchanged"; got != want || r.code != 0 {
		t.Errorf("exit %d, repairs %v, want exit 0 and %s\n%s", r.code, got, want, r.stderr)
	}
}

func writePolicy(t *testing.T, name, body string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// repairResults reads a JSON repair report: "REPO:TAG RESULT" for each
// target, without the host, comma-separated.
func repairResults(t *testing.T, r result, host string) string {
	t.Helper()
	var doc struct {
		Repairs []struct{ Target, Result string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("exit %d: %v\n%s", r.code, err, r.stderr)
	}
	var got []string
	for _, x := range doc.Repairs {
		got = append(got, strings.TrimPrefix(x.Target, host+"/")+" "+x.Result)
	}
	return strings.Join(got, ", ")
}
