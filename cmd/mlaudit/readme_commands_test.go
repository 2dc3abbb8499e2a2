package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// readmeBlocks returns the README's fenced blocks of the given language
// ("sh", "yaml", "" for plain output), in order.
func readmeBlocks(t *testing.T, lang string) []string {
	t.Helper()
	var blocks []string
	var cur []string
	open, want := false, false
	for _, line := range strings.Split(doc(t, "README.md"), "\n") {
		fence, isFence := strings.CutPrefix(line, "```")
		switch {
		case isFence && !open:
			open, want, cur = true, strings.TrimSpace(fence) == lang, nil
		case isFence:
			if want {
				blocks = append(blocks, strings.Join(cur, "\n")+"\n")
			}
			open = false
		case open:
			cur = append(cur, line)
		}
	}
	return blocks
}

// readmeCommands returns the mlaudit commands of the README's sh blocks,
// continuation lines joined.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	var cmds []string
	for _, block := range readmeBlocks(t, "sh") {
		for _, line := range strings.Split(strings.ReplaceAll(block, "\\\n", " "), "\n") {
			if line = strings.TrimSpace(line); strings.HasPrefix(line, "mlaudit ") {
				cmds = append(cmds, line)
			}
		}
	}
	return cmds
}

// publicName matches what would leave the machine: a host with a dot
// before the first slash of a word (ghcr.io/..., docker.io/...).
var publicName = regexp.MustCompile(`(^|[\s'"])[a-z0-9-]+(\.[a-z0-9-]+)+(:[0-9]+)?/`)

// TestREADMECommands runs every mlaudit command of the README the way a
// newcomer would, through bash with the built binary on PATH, against a
// loopback registry seeded with the stories: each public image the README
// names is mapped to the story that plays it (a command naming one the
// test does not map fails the test, so nothing is ever sent out). Each
// command must be valid and reach the registry (exit 0, or 1 for the
// findings the stories hold); the repair applied last must leave the
// image clean. The README's sample output must be what mlaudit prints.
func TestREADMECommands(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	// The README's org: runtime:v0.3.0 is the list an arm64 job
	// overwrote (linux/amd64 lost), with its per-arch tags beside it;
	// gateway:latest is healthy.
	env := storytest.NewEnv(t, host)
	amd, arm := env.Image("linux/amd64", stories.Docker, "readme runtime"), env.Image("linux/arm64", stories.Docker, "readme runtime")
	env.Push("org/runtime:v0.3.0-amd64", amd)
	env.Push("org/runtime:v0.3.0-arm64", arm)
	runtime := env.Push("org/runtime:v0.3.0", env.Index(stories.Docker, stories.Entry{Image: arm, Platform: "linux/arm64"})).String()
	gwAmd, gwArm := env.Image("linux/amd64", stories.OCI, "readme gateway"), env.Image("linux/arm64", stories.OCI, "readme gateway")
	env.Push("org/gateway:latest", env.Index(stories.OCI, stories.Entry{Image: gwAmd, Platform: "linux/amd64"}, stories.Entry{Image: gwArm, Platform: "linux/arm64"}))
	mapped := strings.NewReplacer(
		"ghcr.io/YOUR-ORG/YOUR-APP:TAG", runtime,
		"ghcr.io/org/app@sha256:4f1c...", host+"/org/runtime@"+resolve(t, runtime),
		"ghcr.io/org/", host+"/org/",
	)

	dir := t.TempDir()
	policies := readmeBlocks(t, "yaml")
	if len(policies) == 0 || !strings.HasPrefix(policies[0], "# policy.yaml\n") {
		t.Fatal("the README has no policy.yaml block")
	}
	policy := mapped.Replace(policies[0])
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	bin, err := filepath.Abs(binary)
	if err != nil {
		t.Fatal(err)
	}

	cmds := readmeCommands(t)
	if len(cmds) < 6 {
		t.Fatalf("found %d mlaudit commands in the README, want the quick start's, the recipes' and repair's: %q", len(cmds), cmds)
	}
	var ran int
	for _, readme := range cmds {
		if strings.HasPrefix(readme, "mlaudit serve ") {
			continue // runs until stopped; TestServe runs it
		}
		cmd := mapped.Replace(readme)
		if publicName.MatchString(strings.ReplaceAll(cmd, host+"/", "")) {
			t.Errorf("README command %q names a registry this test does not map to the loopback one", readme)
			continue
		}
		r := bash(t, dir, filepath.Dir(bin), cmd)
		ran++
		if r.code != 0 && r.code != 1 {
			t.Errorf("README command %q: exit %d, want 0 or 1 (valid, registry reached)\n%s%s", readme, r.code, r.stdout, r.stderr)
		}
		if strings.Contains(readme, "--apply") && r.code != 0 {
			t.Errorf("README repair %q: exit %d, want 0\n%s%s", readme, r.code, r.stdout, r.stderr)
		}
	}
	if r := bash(t, dir, filepath.Dir(bin), "mlaudit audit --require linux/amd64,linux/arm64 "+runtime); r.code != 0 {
		t.Errorf("after the README's repair, the image still fails:\n%s%s", r.stdout, r.stderr)
	}
	if ran == 0 {
		t.Fatal("no README command ran")
	}
}

// TestREADMESampleOutput: the README's sample table is what mlaudit prints
// for the story it shows (the AIBrix list that lost linux/amd64), with
// the registry host, digests and timings written as the README writes
// them.
func TestREADMESampleOutput(t *testing.T) {
	var sample string
	for _, b := range readmeBlocks(t, "") {
		if strings.Contains(b, "| PLATFORM") {
			sample = b
		}
	}
	if sample == "" {
		t.Fatal("the README has no sample output")
	}
	host := testregistry.InProcess(t, nil)
	seedStories(t, host)
	r := mlaudit(t, "", "audit", "--require", "linux/amd64,linux/arm64", host+"/"+stories.AIBrixRuntime)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	normal := func(s, h string) string {
		s = strings.ReplaceAll(s, h, "REGISTRY")
		s = regexp.MustCompile(`\b[0-9a-f]{12}\b`).ReplaceAllString(s, "DIGEST")
		s = regexp.MustCompile(`[0-9]+ requests in [0-9.]+m?s`).ReplaceAllString(s, "N requests in TIME")
		return strings.Join(strings.Fields(s), " ")
	}
	if got, want := normal(r.stdout, host), normal(sample, "localhost:5000"); got != want {
		t.Errorf("the README's sample output is not what mlaudit prints:\n got  %s\n want %s", got, want)
	}
}

// bash runs a README command line through bash in dir, with binDir first
// on PATH.
func bash(t *testing.T, dir, binDir, line string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", line)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"DOCKER_CONFIG="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir())
	return runBinary(t, cmd, nil)
}
