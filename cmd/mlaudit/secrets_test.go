package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/report"
)

const (
	user     = "mlaudit-user"
	password = "s3cr3t-Pa55-7xQ"
	token    = "tok-QwErTy-9a8b7c"
)

// TestSecretsNeverAppear audits (with -v, in every format, to stdout and to
// files) and repairs (plan and --apply) registries that need credentials,
// given in the Docker config and through a credential helper, and checks
// the password, its base64 form and the bearer token appear nowhere.
func TestSecretsNeverAppear(t *testing.T) {
	for _, tc := range []struct {
		name   string
		wrap   func(http.Handler) http.Handler
		helper bool
	}{
		{"basic auth, Docker config", testregistry.BasicAuth(user, password), false},
		{"bearer tokens, Docker config", testregistry.TokenAuth(user, password, token), false},
		{"bearer tokens, credential helper", testregistry.TokenAuth(user, password, token), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := testregistry.InProcess(t, tc.wrap)
			dockerConfig := t.TempDir()
			env := writeCredentials(t, dockerConfig, host, tc.helper)
			seedWithCredentials(t, host)

			var outputs []string
			run := func(args ...string) result {
				r := mlauditEnv(t, env, args...)
				outputs = append(outputs, r.stdout, r.stderr)
				return r
			}
			target := host + "/aibrix/runtime:v0.3.0-rc.2"
			for _, format := range report.Formats() {
				file := filepath.Join(t.TempDir(), "report."+format)
				run("audit", "-v", "--format", format, "--output", file, "--require", "linux/amd64,linux/arm64", "--per-arch", "{tag}-{arch}", target)
				b, _ := os.ReadFile(file)
				outputs = append(outputs, string(b))
				run("audit", "-v", "--format", format, target)
			}
			run("repair", "-v", "--per-arch", "{tag}-{arch}", "--require", "linux/amd64,linux/arm64", target)
			r := run("repair", "-v", "--format", "json", "--per-arch", "{tag}-{arch}", "--require", "linux/amd64,linux/arm64", "--backup-tag", "{tag}-backup", "--apply", target)
			if r.code != 0 {
				t.Fatalf("the repair with credentials failed: exit %d\n%s", r.code, r.stderr)
			}
			// And a registry that refuses the credentials.
			r = mlauditEnv(t, writeCredentialsFor(t, t.TempDir(), host, "wrong-password"), "audit", "-v", target)
			outputs = append(outputs, r.stdout, r.stderr)
			if r.code != 3 || !strings.Contains(r.stdout+r.stderr, "docker login") {
				t.Errorf("wrong credentials: exit %d, want 3 with a hint to log in\n%s", r.code, r.stdout)
			}

			all := strings.Join(outputs, "\n")
			if !strings.Contains(all, "GET http://"+host) {
				t.Fatal("the -v logs are missing: the test would prove nothing")
			}
			for _, secret := range []string{password, base64.StdEncoding.EncodeToString([]byte(user + ":" + password)), token, "wrong-password"} {
				if strings.Contains(all, secret) {
					t.Errorf("the secret %q appears in mlaudit's output", secret)
				}
			}
		})
	}
}

// writeCredentials writes a Docker config for host: the credentials in
// "auths", or a credHelpers entry naming a helper script put on PATH. It
// returns the environment mlaudit runs with.
func writeCredentials(t *testing.T, dir, host string, helper bool) []string {
	t.Helper()
	if !helper {
		return writeCredentialsFor(t, dir, host, password)
	}
	bin := t.TempDir()
	script := "#!/bin/sh\n# docker-credential-mlaudit-test: answers \"get\" for one registry\n" +
		"read server\necho '{\"ServerURL\":\"'\"$server\"'\",\"Username\":\"" + user + "\",\"Secret\":\"" + password + "\"}'\n"
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-mlaudit-test"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{"credHelpers": map[string]string{host: "mlaudit-test"}}
	writeJSON(t, filepath.Join(dir, "config.json"), cfg)
	return []string{"DOCKER_CONFIG=" + dir, "PATH=" + bin + ":" + os.Getenv("PATH")}
}

func writeCredentialsFor(t *testing.T, dir, host, pass string) []string {
	t.Helper()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	writeJSON(t, filepath.Join(dir, "config.json"), map[string]any{"auths": map[string]any{host: map[string]string{"auth": auth}}})
	return []string{"DOCKER_CONFIG=" + dir}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// seedWithCredentials pushes the AIBrix story as an authenticated client.
func seedWithCredentials(t *testing.T, host string) {
	t.Helper()
	c, err := registry.New(registry.WithKeychain(staticKeychain{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stories.All() {
		if s.Name == "aibrix" {
			if _, err := s.Seed(context.Background(), c, stories.Dest{Registry: host, LayoutDir: t.TempDir()}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

type staticKeychain struct{}

func (staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(authn.AuthConfig{Username: user, Password: password}), nil
}

// mlauditEnv runs the binary with extra environment (which wins over the
// defaults mlaudit() sets).
func mlauditEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir()), env...)
	return runBinary(t, cmd, nil)
}
