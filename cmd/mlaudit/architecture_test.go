package main

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestArchitectureImports keeps the package graph docs/architecture.md
// draws: the values (ref, platform, tree) import nothing of mlaudit's but
// each other as drawn; audit, repair, policy and report never reach a
// registry themselves; only registry (and test and demo helpers) talks
// HTTP or reads layouts.
func TestArchitectureImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "github.com/mlaudit/mlaudit/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/mlaudit/mlaudit/"
	imports := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		imports[strings.TrimPrefix(p.ImportPath, module)] = p.Imports
	}
	allowed := map[string][]string{ // mlaudit packages each may import; nil: none
		"ref":      nil,
		"platform": nil,
		"tree":     {"platform"},
		"audit":    {"deep", "internal/memo", "platform", "ref", "tree"},
		"repair":   {"audit", "platform", "ref", "tree"},
		"policy":   {"audit", "platform", "ref"},
		"report":   {"audit", "internal/safetext", "platform", "policy", "ref", "repair"},
		"deep":     {"internal/memo", "platform", "tree"},
		"cache":    {"internal/atomicfile"},
		"serve":    {"audit", "policy", "report"},
		"registry": {"cache", "internal/atomicfile", "internal/memo", "internal/safetext", "platform", "ref", "tree"},
	}
	io := []string{"net/http", "github.com/google/go-containerregistry/pkg/v1/remote", "github.com/google/go-containerregistry/pkg/v1/layout"}
	for pkg, imps := range imports {
		ok, constrained := allowed[pkg]
		for _, imp := range imps {
			if constrained && strings.HasPrefix(imp, module) && !slices.Contains(ok, strings.TrimPrefix(imp, module)) {
				t.Errorf("%s imports %s; docs/architecture.md does not allow it", pkg, imp)
			}
			if slices.Contains(io, imp) && pkg != "registry" && !strings.HasPrefix(pkg, "internal/") && pkg != "cmd/mlaudit" {
				t.Errorf("%s imports %s: only registry talks HTTP or reads layouts", pkg, imp)
			}
		}
	}
	for pkg := range allowed {
		if _, ok := imports[pkg]; !ok {
			t.Errorf("package %s is gone; update docs/architecture.md and this test", pkg)
		}
	}
}
