package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// actionStep is one step of action.yml's composite run.
type actionStep struct {
	Name string            `yaml:"name"`
	ID   string            `yaml:"id"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	Env  map[string]string `yaml:"env"`
}

// TestAction runs the repository's GitHub Action (action.yml) as a runner
// would, its own steps through bash (the actions it uses, setup-go and the
// SARIF upload, are GitHub's): the install step builds mlaudit from the
// action's checkout at the ref it is used at, and the audit step audits a
// broken and a healthy image on a loopback registry, writes the step
// summary and SARIF, reports mlaudit's exit code, and never runs what a
// target says.
func TestAction(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Runs struct {
			Using string       `yaml:"using"`
			Steps []actionStep `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(raw, &action); err != nil {
		t.Fatal(err)
	}
	step := func(name string) actionStep {
		for _, s := range action.Runs.Steps {
			if s.Name == name {
				return s
			}
		}
		t.Fatalf("action.yml has no step %q", name)
		return actionStep{}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	runnerTemp, githubPath := t.TempDir(), filepath.Join(t.TempDir(), "path")

	// Install, as uses: mlaudit/mlaudit@v9.9.9 with no version input.
	out, code := runStep(t, step("Install mlaudit"), map[string]string{
		"inputs.version": "", "github.action_ref": "v9.9.9",
	}, "GITHUB_ACTION_PATH="+root, "RUNNER_TEMP="+runnerTemp, "GITHUB_PATH="+githubPath)
	if code != 0 || !strings.Contains(out, "v9.9.9") {
		t.Fatalf("install: exit %d, want 0 and mlaudit version v9.9.9\n%s", code, out)
	}
	binDir, _ := os.ReadFile(githubPath)
	installed := strings.TrimSpace(string(binDir))
	if _, err := os.Stat(filepath.Join(installed, "mlaudit")); err != nil {
		t.Fatalf("the install step put %q on GITHUB_PATH, without mlaudit in it: %v", installed, err)
	}

	host := testregistry.InProcess(t, nil)
	seedStories(t, host)
	pwned := filepath.Join(t.TempDir(), "pwned")
	for _, tc := range []struct {
		name, targets string
		exit          string
		summary       string
	}{
		{"a list that lost linux/amd64", host + "/" + stories.AIBrixRuntime, "1", "missing"},
		{"a healthy image, and a target that tries to run a command", host + "/neko/nvidia-firefox:latest\n$(touch " + pwned + ")", "2", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			summary, output := filepath.Join(t.TempDir(), "summary.md"), filepath.Join(t.TempDir(), "output")
			out, code := runStep(t, step("Audit"), map[string]string{
				"inputs.targets": tc.targets, "inputs.require": "linux/amd64,linux/arm64", "inputs.format": "table",
				"inputs.deep": "false", "inputs.args": "--fail-on error", "inputs.sarif": "true",
			}, "PATH="+installed+string(os.PathListSeparator)+os.Getenv("PATH"), "RUNNER_TEMP="+t.TempDir(),
				"GITHUB_OUTPUT="+output, "GITHUB_STEP_SUMMARY="+summary, "DOCKER_CONFIG="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir())
			if code != 0 {
				t.Fatalf("the audit step itself failed (exit %d); it should report mlaudit's code as an output\n%s", code, out)
			}
			outputs := readOutputs(t, output)
			if outputs["exit-code"] != tc.exit {
				t.Errorf("exit-code output %q, want %q\n%s", outputs["exit-code"], tc.exit, out)
			}
			if _, err := os.Stat(pwned); err == nil {
				t.Fatal("a target's $(...) ran as a command")
			}
			if tc.summary == "" {
				return
			}
			got, _ := os.ReadFile(summary)
			if !strings.Contains(string(got), tc.summary) || !strings.Contains(string(got), "| image |") {
				t.Errorf("step summary lacks the markdown report (%q):\n%s", tc.summary, got)
			}
			sarif, err := os.ReadFile(outputs["sarif-file"])
			var doc struct {
				Version string `json:"version"`
				Runs    []struct {
					Results []json.RawMessage `json:"results"`
				} `json:"runs"`
			}
			if err != nil || json.Unmarshal(sarif, &doc) != nil || doc.Version != "2.1.0" || len(doc.Runs) != 1 || len(doc.Runs[0].Results) == 0 {
				t.Errorf("sarif-file %q: %v, want SARIF 2.1.0 with the finding\n%.300s", outputs["sarif-file"], err, sarif)
			}
		})
	}
}

// runStep runs a composite step's script through bash as a runner does:
// its env block with ${{ ... }} expressions replaced from exprs, plus env.
func runStep(t *testing.T, s actionStep, exprs map[string]string, env ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("bash", "-c", s.Run)
	cmd.Env = append(os.Environ(), env...)
	for k, v := range s.Env {
		expr := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(v, "${{"), "}}"))
		val, ok := exprs[expr]
		if !ok {
			t.Fatalf("step %q: env %s=%s names an expression the test does not give", s.Name, k, v)
		}
		cmd.Env = append(cmd.Env, k+"="+val)
	}
	return combined(t, cmd)
}

// readOutputs reads a GITHUB_OUTPUT file's name=value lines.
func readOutputs(t *testing.T, file string) map[string]string {
	t.Helper()
	b, _ := os.ReadFile(file)
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
}
