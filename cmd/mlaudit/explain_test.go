package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// explainPolicy has a Docker Hub rule written the way users write it, a
// tag-narrowed rule, and a default.
const explainPolicy = `version: 1
require: [linux/amd64]
rules:
  - repository: docker.io/library/*
    tags: '^3'
    require: [linux/amd64, linux/arm64, linux/s390x]
  - repository: docker.io/library/*
    require: [linux/amd64, linux/arm64]
mirrors: [registry.internal/mirror]
ignore: [noncanonical-platform]
`

type explained struct {
	Policy     string   `json:"policy"`
	Overrides  []string `json:"overrides"`
	References []struct {
		Ref, Canonical string
		Rule           *struct {
			Index, Line         int
			Repository, Pattern string
		}
		Require []string
		Mirrors []string
		Ignore  []string
	} `json:"references"`
}

func explain(t *testing.T, args ...string) explained {
	t.Helper()
	r := mlaudit(t, "", append([]string{"policy", "explain", "--format", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var e explained
	if err := json.Unmarshal([]byte(r.stdout), &e); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	return e
}

// TestPolicyExplainDockerHubForms: the rule written docker.io/library/*
// applies to alpine:3 however it is written, and explain says so without a
// registry.
func TestPolicyExplainDockerHubForms(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(file, []byte(explainPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	forms := []string{"alpine:3", "library/alpine:3", "docker.io/library/alpine:3", "index.docker.io/library/alpine:3"}
	e := explain(t, append([]string{"--policy", file}, forms...)...)
	if len(e.References) != len(forms) {
		t.Fatalf("%d references explained, want %d", len(e.References), len(forms))
	}
	for i, q := range e.References {
		if q.Ref != forms[i] || q.Canonical != "index.docker.io/library/alpine:3" {
			t.Errorf("%s: written %q, canonical %q", forms[i], q.Ref, q.Canonical)
		}
		if q.Rule == nil || q.Rule.Index != 0 || q.Rule.Line != 4 || q.Rule.Repository != "docker.io/library/*" || q.Rule.Pattern != "index.docker.io/library/*" {
			t.Errorf("%s: rule %+v, want the first rule (line 4)", forms[i], q.Rule)
		}
		if strings.Join(q.Require, ",") != "linux/amd64,linux/arm64,linux/s390x" {
			t.Errorf("%s: require %v", forms[i], q.Require)
		}
		if strings.Join(q.Mirrors, ",") != "registry.internal/mirror/library/alpine:3" || strings.Join(q.Ignore, ",") != "noncanonical-platform" {
			t.Errorf("%s: mirrors %v, ignore %v", forms[i], q.Mirrors, q.Ignore)
		}
	}

	edge := explain(t, "--policy", file, "alpine:edge", "quay.io/org/app:1")
	if q := edge.References[0]; q.Rule == nil || q.Rule.Index != 1 || strings.Join(q.Require, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("alpine:edge: rule %+v, require %v; want the second rule", q.Rule, q.Require)
	}
	if q := edge.References[1]; q.Rule != nil || strings.Join(q.Require, ",") != "linux/amd64" {
		t.Errorf("quay.io/org/app:1: rule %+v, require %v; want the default", q.Rule, q.Require)
	}

	flagged := explain(t, "--policy", file, "--require", "linux/riscv64", "alpine:3")
	if q := flagged.References[0]; q.Rule != nil || strings.Join(q.Require, ",") != "linux/riscv64" || strings.Join(flagged.Overrides, ",") != "--require" {
		t.Errorf("--require overrides the rules: %+v, overrides %v", q, flagged.Overrides)
	}

	r := mlaudit(t, "", "policy", "explain", "--policy", file, "alpine:3")
	for _, want := range []string{"alpine:3", "reference: index.docker.io/library/alpine:3", "line 4, rule 1: repository docker.io/library/*", "require:   linux/amd64, linux/arm64, linux/s390x"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the table should say %q:\n%s", want, r.stdout)
		}
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if len(line) > 80 {
			t.Errorf("line of %d columns: %q", len(line), line)
		}
	}
}

// TestPolicyExplainIsOffline: explaining a reference on a registry makes
// no request to it.
func TestPolicyExplainIsOffline(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	explain(t, "--require", "linux/amd64", host+"/app:1", host+"/app", host+"/")
	if n := requests.Load(); n != 0 {
		t.Errorf("explain made %d requests", n)
	}
}

func TestPolicyExplainUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"policy", "explain"}, "requires at least 1 arg"},
		{[]string{"policy", "explain", "ghcr.io/Org/app:1"}, `"ghcr.io/Org/app:1"`},
		{[]string{"policy", "explain", "--format", "sarif", "alpine:3"}, "table or json"},
		{[]string{"policy", "explain", "--policy", "/nonexistent/policy.yaml", "alpine:3"}, "/nonexistent/policy.yaml"},
	} {
		r := mlaudit(t, "", tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %s", tt.args, r.code, r.stderr, tt.want)
		}
	}
}
