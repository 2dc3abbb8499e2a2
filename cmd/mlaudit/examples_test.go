package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
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
// copied; whole lists are copied with every platform.
func TestSyncImagesExample(t *testing.T) {
	src := testregistry.InProcess(t, nil)
	seedStories(t, src)
	dst := testregistry.Distribution(t)
	skopeo(t, "--version")
	run := func(images ...string) (string, int) {
		cmd := exec.Command("bash", append([]string{examples + "sync-images.sh", src, dst}, images...)...)
		cmd.Env = append(os.Environ(), "MLAUDIT="+binary, "DOCKER_CONFIG="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir(),
			"SKOPEO_FLAGS=--src-tls-verify=false --dest-tls-verify=false")
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}

	out, code := run("neko/firefox:latest", "aibrix/runtime:v0.3.0-rc.2")
	if code != 1 || !strings.Contains(out, "refusing to sync") || !strings.Contains(out, "missing-platform") {
		t.Fatalf("a broken list must stop the sync (exit %d):\n%s", code, out)
	}
	if r := mlaudit(t, "", "audit", dst+"/neko/firefox:latest"); r.code != 3 {
		t.Fatalf("nothing may be copied when the gate refuses (audit of the mirror exit %d)", r.code)
	}

	out, code = run("neko/firefox:latest", "aibrix/metadata-service:v0.3.0-rc.2")
	if code != 0 {
		t.Fatalf("whole lists must sync (exit %d):\n%s", code, out)
	}
	r := mlaudit(t, "", "audit", "--require", "linux/amd64,linux/arm64,linux/arm/v7", dst+"/neko/firefox:latest")
	if r.code != 0 {
		t.Fatalf("the mirror should hold the whole list:\n%s", r.stdout)
	}
}

// TestGitHubActionsExample checks the workflow's shape and runs its audit
// step as a runner would, with the markdown summary file.
func TestGitHubActionsExample(t *testing.T) {
	raw, err := os.ReadFile(examples + "github-actions/release-audit.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Env  map[string]string `yaml:"env"`
		Jobs map[string]struct {
			Steps []struct {
				ID   string            `yaml:"id"`
				Uses string            `yaml:"uses"`
				Run  string            `yaml:"run"`
				With map[string]string `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	steps := wf.Jobs["release"].Steps
	build, audit := -1, -1
	for i, s := range steps {
		if strings.HasPrefix(s.Uses, "docker/build-push-action") {
			build = i
			if s.With["push"] != "true" || s.With["platforms"] != wf.Env["REQUIRE"] {
				t.Errorf("the build should push the required platforms: %v", s.With)
			}
		}
		if s.ID == "audit" {
			audit = i
		}
	}
	if build < 0 || audit < build {
		t.Fatalf("the audit step must come after buildx pushes (build %d, audit %d)", build, audit)
	}

	host := testregistry.InProcess(t, nil)
	seedStories(t, host)
	bin := filepath.Dir(binary)
	for _, tc := range []struct {
		image string
		code  int
		want  string
	}{
		{host + "/neko/nvidia-firefox:latest", 0, "| ✅ | ✅ |"},
		{host + "/aibrix/runtime:v0.3.0-rc.2", 1, "❌ missing"},
	} {
		summary := filepath.Join(t.TempDir(), "summary.md")
		cmd := exec.Command("bash", "-e", "-c", steps[audit].Run)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "IMAGE="+tc.image, "REQUIRE="+wf.Env["REQUIRE"],
			"GITHUB_STEP_SUMMARY="+summary, "DOCKER_CONFIG="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir())
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		got, _ := os.ReadFile(summary)
		if code != tc.code || !strings.Contains(string(got), tc.want) || !strings.Contains(string(got), "| image |") {
			t.Errorf("%s: exit %d (want %d), summary:\n%s", tc.image, code, tc.code, got)
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
