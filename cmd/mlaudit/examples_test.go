package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// examples is the examples/ folder, from this package's directory.
const examples = "../../examples/"

// TestSyncImagesExample runs examples/sync-images.sh between two real
// registries: a broken list stops the whole sync before anything is
// copied; a mistyped tag is named; whole lists are copied with every
// platform to where --compare looks for them; and what is copied is the
// digest the audit passed, even when the tag moves right after the audit.
func TestSyncImagesExample(t *testing.T) {
	src := testregistry.InProcess(t, nil)
	seedStories(t, src)
	dst := testregistry.Distribution(t)
	skopeo(t, "--version")
	const skopeoFlags = "--src-tls-verify=false --dest-tls-verify=false"
	run := func(mlauditBin string, images ...string) (string, int) {
		cmd := exec.Command("bash", append([]string{examples + "sync-images.sh", src, dst + "/mirror"}, images...)...)
		cmd.Env = append(os.Environ(), "MLAUDIT="+mlauditBin, "DOCKER_CONFIG="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir(),
			"SKOPEO_FLAGS="+skopeoFlags)
		return combined(t, cmd)
	}
	// mirror is where the script copies src/image, and where --compare
	// looks: the repository path under the destination prefix.
	mirror := func(image string) string { return dst + "/mirror/" + image }

	out, code := run(binary, "neko/firefox:latest", "aibrix/runtime:v0.3.0-rc.2")
	if code != 1 || !strings.Contains(out, "refusing to sync") || !strings.Contains(out, "missing-platform") {
		t.Fatalf("a broken list must stop the sync (exit %d):\n%s", code, out)
	}
	if r := mlaudit(t, "", "audit", mirror("neko/firefox:latest")); r.code != 3 {
		t.Fatalf("nothing may be copied when the gate refuses (audit of the mirror exit %d)", r.code)
	}

	out, code = run(binary, "neko/firefox:latest", "neko/firefox:lastest")
	if code != 3 || !strings.Contains(out, "could not read "+src+"/neko/firefox:lastest") || strings.Contains(out, "not whole") {
		t.Fatalf("a mistyped tag must be named, exit 3 (exit %d):\n%s", code, out)
	}

	out, code = run(binary, "neko/firefox:latest", "aibrix/metadata-service:v0.3.0-rc.2")
	if code != 0 {
		t.Fatalf("whole lists must sync (exit %d):\n%s", code, out)
	}
	r := mlaudit(t, "", "audit", "--require", "linux/amd64,linux/arm64,linux/arm/v7", mirror("neko/firefox:latest"))
	if r.code != 0 {
		t.Fatalf("the mirror should hold the whole list:\n%s", r.stdout)
	}
	r = mlaudit(t, "", "audit", "--compare", dst+"/mirror", src+"/neko/firefox:latest", src+"/aibrix/metadata-service:v0.3.0-rc.2")
	if r.code != 0 || strings.Contains(r.stdout, "mirror-drift") {
		t.Fatalf("--compare must find the copies where the script wrote them (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A tag that moves between the audit and the copy: an mlaudit that
	// pushes another list to the tag as soon as its audit returns.
	const moving = "neko/nvidia-firefox:latest"
	audited := resolve(t, src+"/"+moving)
	wrapper := filepath.Join(t.TempDir(), "mlaudit")
	script := "#!/bin/sh\n\"" + binary + "\" \"$@\"\nstatus=$?\n" +
		"if [ \"$1\" = audit ]; then skopeo copy --all " + skopeoFlags + " docker://" + src + "/aibrix/metadata-service:v0.3.0-rc.2 docker://" + src + "/" + moving + " >/dev/null || exit 99; fi\n" +
		"exit $status\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out, code = run(wrapper, moving)
	if code != 0 {
		t.Fatalf("the sync should copy the audited list (exit %d):\n%s", code, out)
	}
	if moved := resolve(t, src+"/"+moving); moved == audited {
		t.Fatal("the test's tag did not move")
	}
	// skopeo 1.9 re-encodes an OCI index whose entries carry artifactType,
	// so the copy's own digest may differ; the images it lists may not.
	want := childDigests(t, rawManifest(t, src+"/neko/nvidia-firefox@"+audited))
	if got := childDigests(t, rawManifest(t, mirror(moving))); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the mirror lists %v; the list the audit passed (%s) lists %v: the tag moved to another list after the audit, and that list was copied\n%s", got, audited, want, out)
	}
}

// TestGitHubActionsExample checks the workflow's shape (the image name in
// lower case, a pinned mlaudit, the build's digest audited) and runs its
// steps as a runner would, with the markdown summary file.
func TestGitHubActionsExample(t *testing.T) {
	raw, err := os.ReadFile(examples + "github-actions/release-audit.yml")
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		ID   string            `yaml:"id"`
		Name string            `yaml:"name"`
		Uses string            `yaml:"uses"`
		Run  string            `yaml:"run"`
		With map[string]string `yaml:"with"`
		Env  map[string]string `yaml:"env"`
	}
	var wf struct {
		Env  map[string]string `yaml:"env"`
		Jobs map[string]struct {
			Steps []step `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	steps := wf.Jobs["release"].Steps
	find := func(what string, match func(step) bool) (int, step) {
		for i, s := range steps {
			if match(s) {
				return i, s
			}
		}
		t.Fatalf("the workflow has no step that %s", what)
		return -1, step{}
	}
	name, nameStep := find("sets IMAGE", func(s step) bool { return strings.Contains(s.Run, "GITHUB_ENV") })
	build, buildStep := find("pushes with buildx", func(s step) bool { return strings.HasPrefix(s.Uses, "docker/build-push-action") })
	_, install := find("installs mlaudit", func(s step) bool { return strings.Contains(s.Run, "go install") })
	audit, auditStep := find("audits", func(s step) bool { return s.ID == "audit" })
	if buildStep.With["push"] != "true" || buildStep.With["platforms"] != wf.Env["REQUIRE"] {
		t.Errorf("the build should push the required platforms: %v", buildStep.With)
	}
	if name > build || build > audit {
		t.Errorf("the image name must be set before the build, and the audit come after it (steps %d, %d, %d)", name, build, audit)
	}
	if auditStep.Env["DIGEST"] != "${{ steps."+buildStep.ID+".outputs.digest }}" {
		t.Errorf("the audit should read the digest the build step (id %q) produced: env %v", buildStep.ID, auditStep.Env)
	}
	if !strings.Contains(install.Run, "@$MLAUDIT_VERSION") || !regexp.MustCompile(`^v\d+\.\d+\.\d+$`).MatchString(wf.Env["MLAUDIT_VERSION"]) {
		t.Errorf("go install should pin a release: %q with MLAUDIT_VERSION=%q", install.Run, wf.Env["MLAUDIT_VERSION"])
	}

	// The image name from an owner with capitals.
	githubEnv := filepath.Join(t.TempDir(), "env")
	cmd := exec.Command("bash", "-e", "-c", nameStep.Run)
	cmd.Env = append(os.Environ(), "GITHUB_REPOSITORY=Mixed-Case/App", "GITHUB_ENV="+githubEnv)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", nameStep.Name, err, out)
	}
	if got, _ := os.ReadFile(githubEnv); string(got) != "IMAGE=ghcr.io/mixed-case/app\n" {
		t.Errorf("the image name should be lower case: %q", got)
	}

	host := testregistry.InProcess(t, nil)
	seedStories(t, host)
	bin := filepath.Dir(binary)
	for _, tc := range []struct {
		image, digest string // digest "" is the one the tag holds
		code          int
		want          string // in the summary; "" for no summary
	}{
		{host + "/neko/nvidia-firefox", "", 0, "| ✅ | ✅ |"},
		{host + "/aibrix/runtime", "", 1, "❌ missing"},
		{host + "/aibrix/runtime", "not-a-digest", 2, ""},
	} {
		digest := tc.digest
		if digest == "" {
			tag := map[string]string{"nvidia-firefox": "latest", "runtime": "v0.3.0-rc.2"}[filepath.Base(tc.image)]
			digest = resolve(t, tc.image+":"+tag)
		}
		summary := filepath.Join(t.TempDir(), "summary.md")
		cmd := exec.Command("bash", "-e", "-c", auditStep.Run)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "IMAGE="+tc.image, "DIGEST="+digest, "REQUIRE="+wf.Env["REQUIRE"],
			"GITHUB_STEP_SUMMARY="+summary, "DOCKER_CONFIG="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir())
		out, code := combined(t, cmd)
		got, _ := os.ReadFile(summary)
		if tc.want == "" {
			if code != tc.code || len(got) != 0 || strings.Contains(string(out), "audit.md") {
				t.Errorf("%s@%s: exit %d (want %d, mlaudit's own), summary %q, log:\n%s", tc.image, digest, code, tc.code, got, out)
			}
			continue
		}
		if code != tc.code || !strings.Contains(string(got), tc.want) || !strings.Contains(string(got), "| image |") || !strings.Contains(string(got), digest) {
			t.Errorf("%s@%s: exit %d (want %d), summary:\n%s", tc.image, digest, code, tc.code, got)
		}
	}
}

// TestKubernetesExample runs the CronJob's container arguments with the
// ConfigMap's policy (pointed at a test registry) and a real Pushgateway in
// place of the cluster's, and reads the pushed series back.
func TestKubernetesExample(t *testing.T) {
	raw, err := os.ReadFile(examples + "kubernetes/mlaudit-cronjob.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "hostPath:") {
		t.Error("the CronJob must not use hostPath (refused by the baseline Pod Security Standard)")
	}
	type container struct {
		Args []string `yaml:"args"`
	}
	var policy string
	var args []string
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var doc struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
			Spec struct {
				Schedule    string `yaml:"schedule"`
				JobTemplate struct {
					Spec struct {
						Template struct {
							Spec struct {
								Containers []container `yaml:"containers"`
							} `yaml:"spec"`
						} `yaml:"template"`
					} `yaml:"spec"`
				} `yaml:"jobTemplate"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		switch doc.Kind {
		case "ConfigMap":
			policy = doc.Data["policy.yaml"]
		case "CronJob":
			if doc.Spec.Schedule == "" {
				t.Error("the CronJob has no schedule")
			}
			args = doc.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
		}
	}
	if policy == "" || len(args) == 0 {
		t.Fatalf("the example should hold a ConfigMap with policy.yaml and a CronJob with args")
	}

	host := testregistry.InProcess(t, nil)
	seedStories(t, host)
	gateway := startPushgateway(t)
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(strings.ReplaceAll(policy, "registry.example.com", host)), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, a := range args {
		a = strings.Replace(a, "/etc/mlaudit/policy.yaml", policyFile, 1)
		a = strings.Replace(a, "http://pushgateway.monitoring.svc:9091", "http://"+gateway, 1)
		args[i] = strings.Replace(a, "--cache-dir=/cache", "--cache-dir="+filepath.Join(dir, "cache"), 1)
	}
	if r := mlaudit(t, "", args...); r.code != 0 {
		t.Fatalf("the CronJob's command: exit %d (--fail-on=never keeps the job green)\n%s", r.code, r.stderr)
	}
	_, body := get("http://" + gateway + "/metrics")
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("the Pushgateway's metrics do not parse: %v", err)
	}
	errorsFound := 0.0
	for _, m := range families["mlaudit_findings"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "severity" && l.GetValue() == "error" {
				errorsFound += m.GetGauge().GetValue()
			}
		}
	}
	if errorsFound != 1 || len(families["mlaudit_last_success_timestamp_seconds"].GetMetric()) == 0 {
		t.Errorf("the Pushgateway should hold the runtime list's missing-platform error (%v) and each repository's last success", errorsFound)
	}
}
