package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// TestDeepPoisonedLayers runs the binary against two registries: an honest
// one whose images say linux/arm64 but hold x86-64 executables
// (binary-arch-mismatch), and a hostile one whose repository serves arm64
// executables under the honest layers' digests. One layer is read whole
// (the digest can be checked), the other in part (more executables than
// the deep check reads). Whatever the order, in one run or across runs
// sharing a cache directory, the honest images keep their finding.
func TestDeepPoisonedLayers(t *testing.T) {
	type pair struct {
		tag, entrypoint string
		honest, evil    v1.Layer
	}
	mk := func(files ...stories.File) v1.Layer {
		l, err := stories.Layer(files...)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	whole := func(arch string) v1.Layer {
		return mk(stories.File{Path: "bin/sh", Data: stories.ELF(arch), Mode: 0o755}, stories.File{Path: "usr/local/bin/app", Data: stories.ELF(arch), Mode: 0o755})
	}
	part := func(arch string) v1.Layer {
		var files []stories.File
		for i := 0; i < 60; i++ { // more than --deep-files' default of 50
			files = append(files, stories.File{Path: fmt.Sprintf("usr/bin/tool%02d", i), Data: stories.ELF(arch), Mode: 0o755})
		}
		return mk(files...)
	}
	pairs := []pair{
		{tag: "whole", entrypoint: "/usr/local/bin/app", honest: whole("amd64"), evil: whole("arm64")},
		{tag: "partial", entrypoint: "/bin/sh", honest: part("amd64"), evil: part("arm64")},
	}
	faults := &testregistry.Faults{}
	for _, p := range pairs {
		want, serve := storytest.Digest(t, p.honest).String(), storytest.Digest(t, p.evil).String()
		faults.Add(testregistry.Path(http.MethodGet, "/v2/evil/blobs/"+want), 0, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			r.URL.Path = strings.Replace(r.URL.Path, want, serve, 1)
			next.ServeHTTP(w, r)
		})
	}
	honestEnv := storytest.NewEnv(t, testregistry.InProcess(t, nil))
	hostileEnv := storytest.NewEnv(t, testregistry.InProcess(t, faults.Wrap))
	image := func(entrypoint string, l v1.Layer) v1.Image {
		img, err := stories.ImageWithLayers("linux/arm64", entrypoint, l)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	var honest, hostile []string
	for _, p := range pairs {
		img := image(p.entrypoint, p.honest)
		honest = append(honest, honestEnv.Push("app:"+p.tag, img).String(), hostileEnv.Push("good/app:"+p.tag, img).String())
		hostile = append(hostile, hostileEnv.Push("evil:"+p.tag, img).String())
		hostileEnv.Push("evil:carrier-"+p.tag, image(p.entrypoint, p.evil))
	}

	run := func(t *testing.T, cache []string, refs ...[]string) map[string]bool {
		t.Helper()
		args := append([]string{"audit", "--deep", "--format", "json"}, cache...)
		for _, rs := range refs {
			args = append(args, rs...)
		}
		r := mlaudit(t, "", args...)
		mismatched := map[string]bool{}
		for _, f := range decode(t, r.stdout).Findings {
			if f.Code == audit.BinaryArchMismatch {
				mismatched[f.Ref.String()] = true
			}
		}
		return mismatched
	}
	for _, mode := range []string{"--no-cache", "--cache-dir"} {
		t.Run(mode, func(t *testing.T) {
			cache := []string{mode}
			if mode == "--cache-dir" {
				cache = append(cache, t.TempDir())
			}
			for round := 0; round < 3; round++ {
				runs := map[string]map[string]bool{}
				// The hostile images first, in a run of their own (their
				// summaries cached, if anything is), then the honest ones.
				run(t, cache, hostile)
				runs["after a hostile run"] = run(t, cache, honest)
				// Both in one run, in both orders.
				runs["hostile first"] = run(t, cache, hostile, honest)
				runs["honest first"] = run(t, cache, honest, hostile)
				for name, mismatched := range runs {
					for _, h := range honest {
						if !mismatched[h] {
							t.Errorf("round %d, %s: %s lost its binary-arch-mismatch", round, name, h)
						}
					}
				}
				if t.Failed() {
					return
				}
			}
		})
	}
}
