package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/report"
)

// helperSecret is what the failing credential helper prints.
const helperSecret = "s3cr3t-HeLpEr-4f9Zq"

// everyOutput runs target's audit in every format, to standard output and
// to a file, and a repair plan of it, and returns all they printed and
// wrote; each run must exit 3 (not audited).
func everyOutput(t *testing.T, env []string, target string) string {
	t.Helper()
	var outputs []string
	run := func(args ...string) result {
		r := mlauditEnv(t, env, args...)
		outputs = append(outputs, r.stdout, r.stderr)
		if strings.Contains(r.stderr, "panic:") {
			t.Fatalf("mlaudit panicked:\n%s", r.stderr)
		}
		return r
	}
	for _, format := range report.Formats() {
		file := filepath.Join(t.TempDir(), "report."+format)
		if r := run("audit", "-v", "--retries", "0", "--format", format, "--output", file, target); r.code != 3 {
			t.Errorf("audit --format %s --output: exit %d, want 3\n%s%s", format, r.code, r.stdout, r.stderr)
		}
		b, _ := os.ReadFile(file)
		outputs = append(outputs, string(b))
		run("audit", "-v", "--retries", "0", "--format", format, target)
	}
	run("repair", "-v", "--retries", "0", "--require", "linux/amd64,linux/arm64", target)
	run("repair", "-v", "--retries", "0", "--format", "json", "--require", "linux/amd64,linux/arm64", target)
	return strings.Join(outputs, "\n")
}

// TestSecretFromFailingCredentialHelper: a credential helper that fails
// after printing {"Secret":...} is named, with its exit status, and what
// it printed appears in no format's output nor on standard error.
func TestSecretFromFailingCredentialHelper(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(http.Handler) http.Handler
	}{
		{"basic auth", testregistry.BasicAuth(user, password)},
		{"bearer tokens", testregistry.TokenAuth(user, password, token)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := testregistry.InProcess(t, tc.wrap)
			bin, dockerConfig := t.TempDir(), t.TempDir()
			script := "#!/bin/sh\n# docker-credential-mlaudit-failing: prints the secret, then fails\nread server\n" +
				`echo '{"ServerURL":"'"$server"'","Username":"` + user + `","Secret":"` + helperSecret + `"}'` + "\nexit 1\n"
			if err := os.WriteFile(filepath.Join(bin, "docker-credential-mlaudit-failing"), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			writeJSON(t, filepath.Join(dockerConfig, "config.json"), map[string]any{"credHelpers": map[string]string{host: "mlaudit-failing"}})
			env := []string{"DOCKER_CONFIG=" + dockerConfig, "PATH=" + bin + ":" + os.Getenv("PATH")}

			all := everyOutput(t, env, host+"/app:1")
			if strings.Contains(all, helperSecret) || strings.Contains(all, `"Secret"`) {
				t.Errorf("the helper's output appears in mlaudit's output:\n%s", all)
			}
			for _, want := range []string{"docker-credential-mlaudit-failing", "exit status 1"} {
				if !strings.Contains(all, want) {
					t.Errorf("the output should name %q:\n%s", want, all)
				}
			}
		})
	}
}

// echoCredentials wraps a registry so that requests for manifests made
// with credentials fail with status, the error body quoting the
// Authorization header, the bearer token alone, the decoded password and
// a JWT-shaped token, in its message and on further lines.
func echoCredentials(status int) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			auth := r.Header.Get("Authorization")
			if !strings.Contains(r.URL.Path, "/manifests/") || auth == "" {
				next.ServeHTTP(w, r)
				return
			}
			_, pass, _ := r.BasicAuth()
			msg := fmt.Sprintf("request with %s (token %s, password %q) refused; session eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", auth, strings.TrimPrefix(auth, "Bearer "), pass)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{
				{"code": "UNAUTHORIZED", "message": msg + "\n" + auth, "detail": map[string]string{"Authorization": auth}},
			}})
		})
	}
}

// echoAtTokenServer makes the token server (/token) fail with status,
// its raw body quoting the Authorization header it was sent and the
// password in it.
func echoAtTokenServer(status int) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/token" {
				next.ServeHTTP(w, r)
				return
			}
			_, pass, _ := r.BasicAuth()
			w.WriteHeader(status)
			fmt.Fprintf(w, "refused %s (password %s)\n%s", r.Header.Get("Authorization"), pass, pass)
		})
	}
}

// TestSecretEchoedByRegistry: a registry that echoes the credentials it
// was sent in a 401 or 500 error body gets them into no report and no
// log; the error still says what happened.
func TestSecretEchoedByRegistry(t *testing.T) {
	basic := func(u, p, _ string) func(http.Handler) http.Handler { return testregistry.BasicAuth(u, p) }
	for _, tc := range []struct {
		name   string
		status int
		auth   func(user, password, token string) func(http.Handler) http.Handler
		// token makes the token server, not the registry, echo.
		token bool
	}{
		{"bearer token in a 401", http.StatusUnauthorized, testregistry.TokenAuth, false},
		{"bearer token in a 500", http.StatusInternalServerError, testregistry.TokenAuth, false},
		{"basic credentials in a 500", http.StatusInternalServerError, basic, false},
		{"basic credentials in the token server's 500", http.StatusInternalServerError, testregistry.TokenAuth, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth := tc.auth(user, password, token)
			echo := echoCredentials(tc.status)
			if tc.token {
				echo = echoAtTokenServer(tc.status)
			}
			host := testregistry.InProcess(t, func(h http.Handler) http.Handler { return echo(auth(h)) })
			env := writeCredentialsFor(t, t.TempDir(), host, password)

			all := everyOutput(t, env, host+"/app:1")
			if !strings.Contains(all, "GET http://"+host) || !strings.Contains(all, fmt.Sprint(tc.status)) {
				t.Fatalf("the failing request is not reported: the test would prove nothing\n%s", all)
			}
			for _, secret := range []string{token, password, base64.StdEncoding.EncodeToString([]byte(user + ":" + password)), "eyJhbGci", "c2ln"} {
				if strings.Contains(all, secret) {
					t.Errorf("%q appears in mlaudit's output", secret)
				}
			}
			if !strings.Contains(all, "refused") {
				t.Errorf("the registry's message (its first line, cleaned) should still be shown:\n%s", all)
			}
		})
	}
}
