package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/platform"
)

const full = `version: 1
targets:
  - ghcr.io/org/runtime
  - ghcr.io/org/gateway:v0.3.0
require: [linux/amd64, linux/arm64]
rules:
  - repository: ghcr.io/org/edge-*
    require: [linux/amd64, linux/arm64, linux/arm/v7]
  - repository: ghcr.io/org/*
    tags: '^nightly'
    require: linux/amd64
tags: '^v\d'
exclude-tags: 'rc'
per-arch: ["{tag}-{arch}", "{arch}-{tag}"]
mirrors: [registry.internal/mirror]
ignore: [noncanonical-platform]
severity:
  mixed-media-types: error
`

func formats(t *testing.T, list []platform.Platform) string {
	t.Helper()
	var out []string
	for _, p := range list {
		out = append(out, platform.Format(&p))
	}
	return strings.Join(out, ",")
}

func TestParseFull(t *testing.T) {
	p, err := Parse([]byte(full), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Targets) != 2 || len(p.Rules) != 2 || len(p.PerArch) != 2 || p.Mirrors[0] != "registry.internal/mirror" {
		t.Errorf("parsed %+v", p)
	}
	if !p.Ignore[audit.NoncanonicalPlatform] || p.Severity[audit.MixedMediaTypes] != audit.Error {
		t.Errorf("ignore %v, severity %v", p.Ignore, p.Severity)
	}
	if !p.Tags.MatchString("v1.0") || !p.ExcludeTags.MatchString("v1.0-rc.1") {
		t.Error("tag patterns")
	}
	for ref, want := range map[string]string{
		"ghcr.io/org/edge-router:v1":  "linux/amd64,linux/arm64,linux/arm/v7",
		"ghcr.io/org/runtime:nightly": "linux/amd64",
		"ghcr.io/org/runtime:v1":      "linux/amd64,linux/arm64",
		"ghcr.io/org/a/b:nightly":     "linux/amd64,linux/arm64", // '*' does not cross '/'
		"ghcr.io/org/edge-x@sha256:0": "linux/amd64,linux/arm64,linux/arm/v7",
	} {
		if got := formats(t, p.RequireFor(ref)); got != want {
			t.Errorf("RequireFor(%s) = %s, want %s", ref, got, want)
		}
	}
}

func TestParseErrorsNameFileLineAndKey(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "version: 1\ntargets: [a/b]\nrequires: [linux/amd64]\n", `policy.yaml:3: unknown key "requires"`},
		{"unknown key in a rule", "version: 1\nrules:\n  - repository: a/*\n    platforms: [linux/amd64]\n", `policy.yaml:4: unknown key "platforms"`},
		{"bad platform", "version: 1\nrequire:\n  - linux/amd64\n  - arm64\n", `policy.yaml:4: require: invalid platform "arm64"`},
		{"bad regex", "version: 1\ntags: 'v['\n", `policy.yaml:2: "v[" is not a regular expression`},
		{"unknown code", "version: 1\nignore: [missing-arch]\n", `policy.yaml:2: "missing-arch" is not a finding code`},
		{"unknown code as a key", "version: 1\nseverity:\n  missing-arch: error\n", `"missing-arch" is not a finding code`},
		{"bad severity", "version: 1\nseverity:\n  mixed-media-types: fatal\n", `policy.yaml:3: severity "fatal"`},
		{"bad template", "version: 1\nper-arch: ['{tag}-latest']\n", `policy.yaml:2: per-arch: "{tag}-latest": the template needs {arch}`},
		{"rule without repository", "version: 1\nrules:\n  - require: [linux/amd64]\n", "repository"},
		{"no version", "targets: [a/b]\n", "no version"},
		{"a future version", "version: 2\n", `policy.yaml:1: version 2`},
		{"empty", "", "empty"},
		{"not YAML", "version: [1\n", "policy.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "policy.yaml")
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant it to say %s", err, tt.want)
			}
		})
	}
}

func TestApply(t *testing.T) {
	p, err := Parse([]byte(full), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := &audit.Result{Findings: []audit.Finding{
		{Code: audit.NoncanonicalPlatform, Severity: audit.Warning},
		{Code: audit.MixedMediaTypes, Severity: audit.Warning},
		{Code: audit.MissingPlatform, Severity: audit.Error},
	}}
	p.Apply(r)
	if len(r.Findings) != 2 || r.Findings[0].Code != audit.MixedMediaTypes || r.Findings[0].Severity != audit.Error {
		t.Errorf("after Apply: %+v", r.Findings)
	}
}
