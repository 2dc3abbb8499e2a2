package deep_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/cache"
	"github.com/mlaudit/mlaudit/deep"
	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/tree"
)

// poisonCase is an image whose config says arm64 but whose layer holds
// x86-64 executables, and the arm64 executables a hostile registry serves
// under that layer's digest.
type poisonCase struct {
	tag          string
	entrypoint   string
	honest, evil []byte
}

func poisonCases(t *testing.T) []poisonCase {
	// Read whole: the entrypoint and one more binary, all of the layer
	// (the digest is checked).
	whole := func(arch string) []byte {
		return layer(t, "gzip", exe("bin/sh", stories.ELF(arch)), exe("usr/local/bin/app", stories.ELF(arch)))
	}
	// Read in part: no entrypoint to settle it (a shell form), and more
	// executables than the deep check reads, before some data it never
	// reaches.
	part := func(arch string) []byte {
		var files []stories.File
		for i := 0; i < deep.DefaultLimits.Files+10; i++ {
			files = append(files, exe(fmt.Sprintf("usr/bin/tool%02d", i), stories.ELF(arch)))
		}
		files = append(files, stories.File{Path: "usr/share/data.bin", Data: noise(1 << 20), Mode: 0o644})
		return layer(t, "gzip", files...)
	}
	return []poisonCase{
		{tag: "whole", entrypoint: "/usr/local/bin/app", honest: whole("amd64"), evil: whole("arm64")},
		{tag: "partial", entrypoint: "/bin/sh", honest: part("amd64"), evil: part("arm64")},
	}
}

// TestPoisonedLayersStayWhereTheyWereRead audits honest images (arm64
// configs, x86-64 executables: binary-arch-mismatch) beside a hostile
// repository that serves arm64 executables under the honest layers'
// digests, on another registry and in another repository of the same
// registry. Whatever the order, in one run, or across runs sharing a cache
// directory, the honest images keep their finding: what was read from the
// hostile repository is never used for them.
func TestPoisonedLayersStayWhereTheyWereRead(t *testing.T) {
	cases := poisonCases(t)
	faults := &testregistry.Faults{}
	for _, c := range cases {
		want, serve := digest(c.honest), digest(c.evil)
		// Only GETs of the hostile repository's blobs lie: pushes (HEAD,
		// PUT) and the honest repository on the same registry do not.
		faults.Add(testregistry.Path(http.MethodGet, "/v2/evil/blobs/"+want.String()), 0,
			func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				r.URL.Path = strings.Replace(r.URL.Path, want.String(), serve.String(), 1)
				next.ServeHTTP(w, r)
			})
	}
	honestHost := testregistry.InProcess(t, nil)
	hostileHost := testregistry.InProcess(t, faults.Wrap)
	honestEnv, hostileEnv := storytest.NewEnv(t, honestHost), storytest.NewEnv(t, hostileHost)

	var honest, hostile []ref.Ref
	for _, c := range cases {
		img := poisonImage(t, c.entrypoint, c.honest)
		honest = append(honest, honestEnv.Push("app:"+c.tag, img), hostileEnv.Push("good/app:"+c.tag, img))
		hostile = append(hostile, hostileEnv.Push("evil:"+c.tag, img))
		// The arm64 bytes the hostile repository serves instead.
		hostileEnv.Push("evil:carrier-"+c.tag, poisonImage(t, c.entrypoint, c.evil))
	}

	check := func(t *testing.T, r *audit.Result) {
		t.Helper()
		mismatched := map[string]bool{}
		for _, f := range r.Findings {
			if f.Code == audit.BinaryArchMismatch {
				mismatched[f.Ref.String()] = true
			}
		}
		failed := map[string]error{}
		for _, e := range r.Errors {
			failed[e.Ref.String()] = e.Err
		}
		for _, h := range honest {
			if !mismatched[h.String()] || failed[h.String()] != nil {
				t.Errorf("%s: binary-arch-mismatch %v (want true), error %v", h, mismatched[h.String()], failed[h.String()])
			}
		}
		for _, h := range hostile {
			err := failed[h.String()]
			var dm *tree.DigestMismatchError
			switch {
			case h.Tag == "whole":
				// Read to its end, the lie shows; or the layer's checked
				// summary, already known, judges it as the honest image.
				if !errors.As(err, &dm) && (err != nil || !mismatched[h.String()]) {
					t.Errorf("%s: binary-arch-mismatch %v, error %v; want a layer digest mismatch or the honest verdict", h, mismatched[h.String()], err)
				}
			case mismatched[h.String()] || err != nil:
				// Read in part, it is judged on its own bytes: arm64.
				t.Errorf("%s: binary-arch-mismatch %v, error %v; want neither", h, mismatched[h.String()], err)
			}
		}
	}
	targets := func(refs ...[]ref.Ref) []audit.Target {
		var out []audit.Target
		for _, rs := range refs {
			for _, r := range rs {
				out = append(out, audit.Target{Ref: r, Deep: true})
			}
		}
		return out
	}

	const rounds = 10
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("shared cache %v", shared), func(t *testing.T) {
			dir := t.TempDir()
			for round := 0; round < rounds; round++ {
				// Each round is a run of its own: a new client and
				// inspector, with the cache directory of the last run
				// or none (--no-cache).
				var store *cache.Dir
				var opts []registry.Option
				if shared {
					d, err := cache.Open(dir)
					if err != nil {
						t.Fatal(err)
					}
					store, opts = d, append(opts, registry.WithCache(d))
				}
				client := testregistry.Client(t, opts...)
				in := &deep.Inspector{Limits: deep.DefaultLimits}
				if store != nil {
					in.Store = store
				}
				first, second := hostile, honest
				if round%2 == 1 {
					first, second = honest, hostile
				}
				ctx := context.Background()
				if round%4 < 2 {
					// One after the other: the first targets' layers are
					// read before the others ask for them.
					a := audit.Run(ctx, client, targets(first), audit.Options{Jobs: 4, Deep: in})
					b := audit.Run(ctx, client, targets(second), audit.Options{Jobs: 4, Deep: in})
					a.Findings, a.Errors = append(a.Findings, b.Findings...), append(a.Errors, b.Errors...)
					check(t, a)
				} else {
					// All at once, as one run.
					check(t, audit.Run(ctx, client, targets(first, second), audit.Options{Jobs: 8, Deep: in}))
				}
				if t.Failed() {
					t.Fatalf("round %d (%s first) failed", round, map[bool]string{true: "hostile", false: "honest"}[slices.Equal(first, hostile)])
				}
			}
		})
	}
}

// poisonImage is a linux/arm64 image of one layer.
func poisonImage(t *testing.T, entrypoint string, b []byte) v1.Image {
	t.Helper()
	img, err := stories.ImageWithLayers("linux/arm64", entrypoint, static.NewLayer(b, types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestLayerErrorsReachTheReport: registry.Client opens a layer on its
// first read (so a reader closed unread costs no request); a registry's
// refusal still reaches the report, typed and named as before.
func TestLayerErrorsReachTheReport(t *testing.T) {
	b := layer(t, "gzip", exe("usr/local/bin/app", stories.ELF("amd64")))
	faults := (&testregistry.Faults{}).Add(testregistry.Path(http.MethodGet, "/blobs/"+digest(b).String()), 0, testregistry.Status(http.StatusNotFound))
	env := storytest.NewEnv(t, testregistry.InProcess(t, faults.Wrap))
	r := env.Push("app:1", poisonImage(t, "/usr/local/bin/app", b))
	res := audit.Run(context.Background(), testregistry.Client(t), []audit.Target{{Ref: r, Deep: true}}, audit.Options{Deep: &deep.Inspector{Limits: deep.DefaultLimits}})
	if len(res.Errors) != 1 || !errors.Is(res.Errors[0].Err, tree.ErrMissing) || !strings.Contains(res.Errors[0].Message, "opening layer "+r.Repo().String()) {
		t.Fatalf("errors %+v, want one: the layer is missing", res.Errors)
	}
	t.Log(res.Errors[0].Message)
}
