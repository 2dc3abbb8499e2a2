package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// skopeo runs Debian's skopeo, an independent client; under CI=true its
// absence fails the test.
func skopeo(t *testing.T, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("skopeo"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("skopeo is not installed (make test installs it)")
		}
		t.Skip("skopeo is not installed (make test installs it)")
	}
	out, err := exec.Command("skopeo", args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// pulledPlatform is what a client gets from ref when it asks for a
// platform: the OS and architecture of the image it resolves to (skopeo
// 1.9 does not print the variant; it does use it to choose).
func pulledPlatform(t *testing.T, ref, os, arch, variant string) string {
	t.Helper()
	args := []string{"--override-os", os, "--override-arch", arch}
	if variant != "" {
		args = append(args, "--override-variant", variant)
	}
	args = append(args, "inspect", "--tls-verify=false", "docker://"+ref)
	var got struct{ Os, Architecture string }
	if err := json.Unmarshal(skopeo(t, args...), &got); err != nil {
		t.Fatal(err)
	}
	return got.Os + "/" + got.Architecture
}

func rawManifest(t *testing.T, ref string) string {
	t.Helper()
	return string(skopeo(t, "inspect", "--tls-verify=false", "--raw", "docker://"+ref))
}

// TestRepairStoriesOnDistributionRegistry repairs each story on Debian's
// registry with the built binary and checks the result with skopeo: every
// required platform resolves to an image of that architecture.
func TestRepairStoriesOnDistributionRegistry(t *testing.T) {
	host := testregistry.Distribution(t)
	seedStories(t, host)

	t.Run("aibrix from per-arch tags", func(t *testing.T) {
		target := host + "/aibrix/runtime:v0.3.0-rc.2"
		old := rawManifest(t, target)
		r := mlaudit(t, "", "repair", "--per-arch", "{tag}-{arch}", "--require", "linux/amd64,linux/arm64", "--backup-tag", "{tag}-backup", "--apply", target)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		for _, arch := range []string{"amd64", "arm64"} {
			if got := pulledPlatform(t, target, "linux", arch, ""); got != "linux/"+arch {
				t.Errorf("skopeo resolves linux/%s to %s", arch, got)
			}
		}
		if got := rawManifest(t, host+"/aibrix/runtime:v0.3.0-rc.2-backup"); got != old {
			t.Error("the backup tag must hold the old index byte for byte")
		}
		if !strings.Contains(r.stdout, "To put it back:\n  crane tag") || !strings.Contains(r.stdout, "0 errors, 0 warnings") {
			t.Errorf("the output should say how to undo and show a clean audit:\n%s", r.stdout)
		}
	})

	t.Run("neko gains arm/v7 from the legacy arm name", func(t *testing.T) {
		target := host + "/neko/nvidia-firefox:latest"
		r := mlaudit(t, "", "repair", "--from", host+"/neko/neko:arm-firefox", "--require", "linux/amd64,linux/arm64,linux/arm/v7", "--apply", target)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if got := pulledPlatform(t, target, "linux", "arm", "v7"); got != "linux/arm" {
			t.Errorf("skopeo resolves linux/arm/v7 to %s", got)
		}
	})

	t.Run("komodo rejects latest-aarch64 and keeps attestations", func(t *testing.T) {
		dest := host + "/komodo/periphery:2.0"
		r := mlaudit(t, "", "repair", "--from", host+"/komodo/periphery:latest-aarch64", "--require", "linux/amd64,linux/arm64", "--to", dest, "--apply", host+"/komodo/periphery:latest")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "reject") || !strings.Contains(r.stdout, "tag-platform-mismatch") {
			t.Errorf("the plan should show the rejected source and why:\n%s", r.stdout)
		}
		if got := pulledPlatform(t, dest, "linux", "arm64", ""); got != "linux/arm64" {
			t.Errorf("skopeo resolves linux/arm64 to %s (latest-aarch64 is amd64 and must not be used)", got)
		}
		if n := strings.Count(rawManifest(t, dest), "attestation-manifest"); n != 2 {
			t.Errorf("both attestations should survive, found %d", n)
		}
	})

	t.Run("a refused repair changes nothing", func(t *testing.T) {
		target := host + "/acme/broken:1.0"
		before := rawManifest(t, target)
		r := mlaudit(t, "", "repair", "--fix", "--require", "linux/amd64,linux/arm64", "--apply", target)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "UNSATISFIED "+target) || !strings.Contains(r.stdout, "nothing was written") {
			t.Errorf("the summary should say the target was refused and nothing was written:\n%s", r.stdout)
		}
		if rawManifest(t, target) != before {
			t.Error("the target must be byte-for-byte unchanged")
		}
	})
}

func TestRepairUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"repair"}, "no targets: name at least one"},
		{[]string{"repair", "--per-arch", "{tag}-latest", "localhost:5000/app:1"}, "{arch}"},
		{[]string{"repair", "--require", "amd64", "localhost:5000/app:1"}, `"amd64"`},
		{[]string{"repair", "localhost:5000/app@sha256:" + strings.Repeat("a", 64)}, "a repair moves a tag"},
		{[]string{"repair", "--from", "localhost:5000/Bad:1", "localhost:5000/app:1"}, `"localhost:5000/Bad:1"`},
		{[]string{"repair", "--backup-tag", "{tag}-old", "localhost:5000/app:1"}, `must hold the word "backup"`},
		{[]string{"repair", "--to", "localhost:5000/app", "localhost:5000/app:1"}, "name the tag to write"},
		{[]string{"repair", "--format", "sarif", "localhost:5000/app:1"}, "table or json"},
	}
	for _, tt := range tests {
		r := mlaudit(t, "", tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %s", tt.args, r.code, r.stderr, tt.want)
		}
	}
}

func TestRepairDryRunWritesNothing(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	seedStories(t, host)
	target := host + "/aibrix/runtime:v0.3.0-rc.2"
	before := mlaudit(t, "", "audit", "--format", "json", target)
	r := mlaudit(t, "", "repair", "--per-arch", "{tag}-{arch}", "--require", "linux/amd64,linux/arm64", target)
	if r.code != 0 || !strings.Contains(r.stdout, "Dry run: nothing was written") {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	after := mlaudit(t, "", "audit", "--format", "json", target)
	if decode(t, before.stdout).Images[0].Digest != decode(t, after.stdout).Images[0].Digest {
		t.Error("a dry run must not move the tag")
	}
	j := mlaudit(t, "", "repair", "--format", "json", "--per-arch", "{tag}-{arch}", target)
	var doc struct {
		SchemaVersion int `json:"schemaVersion"`
		Repairs       []struct {
			Target, Result string
			Plan           struct {
				OldDigest, NewDigest string
				Rows                 []struct{ Action, Platform string }
			} `json:"plan"`
			Applied *struct{} `json:"applied"`
		} `json:"repairs"`
	}
	if err := json.Unmarshal([]byte(j.stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, j.stdout)
	}
	if doc.SchemaVersion != 1 || len(doc.Repairs) != 1 {
		t.Fatalf("JSON = %+v, want one repair", doc)
	}
	if r := doc.Repairs[0]; r.Target != target || r.Result != "planned" || r.Plan.OldDigest == "" || r.Plan.NewDigest == r.Plan.OldDigest || len(r.Plan.Rows) != 2 || r.Applied != nil {
		t.Errorf("JSON repair = %+v", r)
	}
}
