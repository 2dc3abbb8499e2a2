package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
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
	if len(p.Targets) != 2 || len(p.Rules) != 2 || len(p.PerArch) != 2 || p.Mirrors[0].String() != "registry.internal/mirror" {
		t.Errorf("parsed %+v", p)
	}
	if p.Targets[1].Tag != "v0.3.0" || p.Rules[0].Line != 7 || p.Rules[1].Line != 9 {
		t.Errorf("targets are parsed and rules know their lines: %+v", p)
	}
	if !p.Ignore[audit.NoncanonicalPlatform] || p.Severity[audit.MixedMediaTypes] != audit.Error {
		t.Errorf("ignore %v, severity %v", p.Ignore, p.Severity)
	}
	if !p.Tags.MatchString("v1.0") || !p.ExcludeTags.MatchString("v1.0-rc.1") {
		t.Error("tag patterns")
	}
	for s, want := range map[string]string{
		"ghcr.io/org/edge-router:v1":                           "linux/amd64,linux/arm64,linux/arm/v7",
		"ghcr.io/org/runtime:nightly":                          "linux/amd64",
		"ghcr.io/org/runtime:v1":                               "linux/amd64,linux/arm64",
		"ghcr.io/org/a/b:nightly":                              "linux/amd64,linux/arm64", // '*' does not cross '/'
		"ghcr.io/org/edge-x@sha256:" + strings.Repeat("0", 64): "linux/amd64,linux/arm64,linux/arm/v7",
	} {
		if got := formats(t, p.RequireFor(mustRef(t, s))); got != want {
			t.Errorf("RequireFor(%s) = %s, want %s", s, got, want)
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
		{"bad template", "version: 1\nper-arch: ['{tag}-latest']\n", `policy.yaml:2: invalid per-arch template "{tag}-latest": it needs {arch}`},
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

func mustRef(t *testing.T, s string) ref.Ref {
	t.Helper()
	r, err := ref.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestDockerHubRuleAppliesHoweverWritten: a rule written for
// docker.io/library/* applies to alpine:3 however the reference is
// written, and however the rule is (the bug where the default silently
// applied instead).
func TestDockerHubRuleAppliesHoweverWritten(t *testing.T) {
	for _, pattern := range []string{"docker.io/library/*", "index.docker.io/library/*", "library/*", "alpine"} {
		p, err := Parse([]byte("version: 1\nrequire: [linux/amd64]\nrules:\n  - repository: "+pattern+"\n    require: [linux/amd64, linux/arm64, linux/s390x]\n"), "policy.yaml")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"alpine:3", "library/alpine:3", "docker.io/library/alpine:3", "index.docker.io/library/alpine:3", "docker://alpine:3"} {
			q := p.For(mustRef(t, s))
			if q.Rule == nil || q.Rule.Index != 0 || formats(t, q.Require) != "linux/amd64,linux/arm64,linux/s390x" {
				t.Errorf("rule %q, reference %q: rule %v, require %s; want the rule's three platforms", pattern, s, q.Rule, formats(t, q.Require))
			}
		}
		if q := p.For(mustRef(t, "ghcr.io/library/alpine:3")); q.Rule != nil {
			t.Errorf("rule %q applies to ghcr.io/library/alpine:3, which is not on Docker Hub", pattern)
		}
	}
}

func TestRepositoryPatternErrors(t *testing.T) {
	for yaml, want := range map[string]string{
		"version: 1\nrules:\n  - repository: ghcr.io/Org/*\n    require: [linux/amd64]\n":       "policy.yaml:3: repository: invalid reference: repository pattern \"ghcr.io/Org/*\": repository names are lower case",
		"version: 1\nrules:\n  - repository: 'ghcr.io/org/['\n    require: [linux/amd64]\n":     "policy.yaml:3: repository",
		"version: 1\nrules:\n  - repository: ghcr.io/org/app:1.0\n    require: [linux/amd64]\n": "not tags",
		"version: 1\ntargets: [ghcr.io/Org/app]\n":                                              "policy.yaml:2: targets",
		"version: 1\nmirrors: [registry.internal/mirror:1]\n":                                   "policy.yaml:2: mirrors",
		"version: 1\ntargets: [[ghcr.io/org/app]]\n":                                            `policy.yaml:2: key "targets" must be a list of references`,
	} {
		_, err := Parse([]byte(yaml), "policy.yaml")
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v\nwant it to say %s", yaml, err, want)
		}
	}
}

func TestFor(t *testing.T) {
	p, err := Parse([]byte(full), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	q := p.For(mustRef(t, "ghcr.io/org/edge-router:v1"))
	if q.Rule == nil || q.Rule.Index != 0 || q.Rule.Line != 7 || len(q.PerArch) != 2 || fmt.Sprint(q.Ignore) != "[noncanonical-platform]" || q.Severity[audit.MixedMediaTypes] != audit.Error {
		t.Errorf("For = %+v", q)
	}
	if len(q.Mirrors) != 1 || q.Mirrors[0].String() != "registry.internal/mirror/org/edge-router:v1" {
		t.Errorf("mirror copies = %v", q.Mirrors)
	}
	if q := p.For(mustRef(t, "quay.io/other/app:1")); q.Rule != nil || formats(t, q.Require) != "linux/amd64,linux/arm64" {
		t.Errorf("the default should apply: %+v", q)
	}
}
