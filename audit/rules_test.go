package audit_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
)

// fx seeds one case into a fresh in-process registry; images are salted
// with the test's name.
type fx struct{ *storytest.Env }

func (f *fx) img(p string, format stories.Format) v1.Image {
	return f.Image(p, format, f.T.Name())
}

func digest(t testing.TB, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	return storytest.Digest(t, d)
}

func e(img mutate.Appendable, p string) stories.Entry { return stories.Entry{Image: img, Platform: p} }

const (
	oci    = stories.OCI
	docker = stories.Docker
)

func TestRules(t *testing.T) {
	tests := []struct {
		name    string
		require string
		seed    func(f *fx) ref.Ref
		want    []string // "code platform", sorted
	}{
		{
			name:    "healthy two-arch index with attestations",
			require: "linux/amd64,linux/arm64",
			seed: func(f *fx) ref.Ref {
				amd, arm := f.img("linux/amd64", oci), f.img("linux/arm64/v8", oci)
				return f.Push("app:1", f.Index(oci, e(amd, "linux/amd64"), e(arm, "linux/arm64/v8"), f.Attest(amd), f.Attest(arm)))
			},
		},
		{
			name:    "arm64/v8 and aarch64 entries satisfy linux/arm64",
			require: "linux/arm64",
			seed: func(f *fx) ref.Ref {
				return f.Push("app:1", f.Index(oci, e(f.img("linux/arm64/v8", oci), "linux/aarch64")))
			},
			want: []string{"noncanonical-platform linux/arm64"},
		},
		{
			name:    "arm/v7 does not stand in for arm64 (OnlyStrict)",
			require: "linux/arm64",
			seed: func(f *fx) ref.Ref {
				return f.Push("app:1", f.Index(oci, e(f.img("linux/arm/v7", oci), "linux/arm/v7")))
			},
			want: []string{"missing-platform linux/arm64"},
		},
		{
			name:    "386 does not stand in for amd64",
			require: "linux/amd64",
			seed: func(f *fx) ref.Ref {
				return f.Push("app:1", f.Index(oci, e(f.img("linux/386", oci), "linux/386")))
			},
			want: []string{"missing-platform linux/amd64"},
		},
		{
			name:    "arm without a variant is arm/v7, spelled non-canonically",
			require: "linux/arm/v7",
			seed: func(f *fx) ref.Ref {
				return f.Push("app:1", f.Index(oci, e(f.img("linux/arm/v7", oci), "linux/arm")))
			},
			want: []string{"noncanonical-platform linux/arm/v7"},
		},
		{
			name:    "arm/v6 entry does not satisfy arm/v7",
			require: "linux/arm/v7",
			seed: func(f *fx) ref.Ref {
				return f.Push("app:1", f.Index(oci, e(f.img("linux/arm/v6", oci), "linux/arm/v6")))
			},
			want: []string{"missing-platform linux/arm/v7"},
		},
		{
			name:    "windows os.version must match a versioned requirement",
			require: "windows(10.0.17763)/amd64",
			seed: func(f *fx) ref.Ref {
				return f.Push("win:1", f.Index(docker,
					e(f.img("windows/amd64:10.0.20348.2227", docker), "windows/amd64:10.0.20348.2227")))
			},
			want: []string{"missing-platform windows(10.0.17763)/amd64"},
		},
		{
			name:    "windows entries of different os.version are not duplicates",
			require: "windows(10.0.17763)/amd64,windows(10.0.20348)/amd64",
			seed: func(f *fx) ref.Ref {
				return f.Push("win:1", f.Index(docker,
					e(f.img("windows/amd64:10.0.17763.5458", docker), "windows/amd64:10.0.17763.5458"),
					e(f.img("windows/amd64:10.0.20348.2227", docker), "windows/amd64:10.0.20348.2227")))
			},
		},
		{
			name: "windows entry whose config names another os.version",
			seed: func(f *fx) ref.Ref {
				return f.Push("win:1", f.Index(docker,
					e(f.img("windows/amd64:10.0.17763.5458", docker), "windows/amd64:10.0.20348.2227")))
			},
			want: []string{"platform-mismatch windows(10.0.20348.2227)/amd64"},
		},
		{
			name: "an amd64 image listed as arm64",
			seed: func(f *fx) ref.Ref {
				return f.Push("app:1", f.Index(oci, e(f.img("linux/amd64", oci), "linux/amd64"), e(f.img("linux/amd64", docker), "linux/arm64")))
			},
			// An OCI index may hold Docker manifests: not mixed-media-types.
			want: []string{"platform-mismatch linux/arm64"},
		},
		{
			name: "a config that omits the arm variant is not a mismatch",
			seed: func(f *fx) ref.Ref {
				return f.Push("app:1", f.Index(oci, e(f.img("linux/arm", oci), "linux/arm/v6")))
			},
			want: []string{"noncanonical-platform linux/arm/v7"},
		},
		{
			name:    "a single image meeting its one requirement",
			require: "linux/arm64",
			seed:    func(f *fx) ref.Ref { return f.Push("app:1", f.img("linux/arm64", oci)) },
		},
		{
			name:    "a single image of another platform",
			require: "linux/amd64",
			seed:    func(f *fx) ref.Ref { return f.Push("app:1", f.img("linux/arm64", oci)) },
			want:    []string{"missing-platform linux/amd64"},
		},
		{
			name:    "a single image where two platforms are required",
			require: "linux/amd64,linux/arm64",
			seed:    func(f *fx) ref.Ref { return f.Push("app:1", f.img("linux/amd64", oci)) },
			want:    []string{"not-an-index linux/amd64"},
		},
		{
			name:    "a per-arch tag is judged by its name, not --require",
			require: "linux/amd64,linux/arm64",
			seed:    func(f *fx) ref.Ref { return f.Push("app:1.0-arm64v8", f.img("linux/arm64/v8", oci)) },
		},
		{
			name:    "a per-arch index tag with a foreign entry",
			require: "linux/amd64,linux/arm64",
			seed: func(f *fx) ref.Ref {
				return f.Push("app:1.0-arm64", f.Index(oci, e(f.img("linux/arm64", oci), "linux/arm64"), e(f.img("linux/amd64", oci), "linux/amd64")))
			},
			want: []string{"tag-platform-mismatch linux/amd64"},
		},
		{
			name: "a tag naming two architectures promises nothing",
			seed: func(f *fx) ref.Ref { return f.Push("app:amd64-arm64", f.img("linux/s390x", oci)) },
		},
		{
			name:    "nested index platforms count for the parent",
			require: "linux/amd64,linux/arm64,linux/arm/v7",
			seed: func(f *fx) ref.Ref {
				inner := f.Index(oci, e(f.img("linux/amd64", oci), "linux/amd64"), e(f.img("linux/arm64", oci), "linux/arm64"))
				return f.Push("app:1", f.Index(oci, stories.Entry{Image: inner}, e(f.img("linux/arm/v7", oci), "linux/arm/v7")))
			},
		},
		{
			name: "an attestation with no subject annotation",
			seed: func(f *fx) ref.Ref {
				amd := f.img("linux/amd64", oci)
				att := f.Attest(amd)
				att.Attests = &v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
				return f.Push("app:1", f.Index(oci, e(amd, "linux/amd64"), att))
			},
			want: []string{"orphan-attestation"},
		},
		{
			name: "an OCI index holding a Docker manifest is fine (Docker Official Images with Windows entries)",
			seed: func(f *fx) ref.Ref {
				return f.Push("app:1", f.Index(oci, e(f.img("linux/amd64", docker), "linux/amd64")))
			},
		},
		{
			name:    "a child deleted after the index was pushed",
			require: "linux/amd64,linux/arm64",
			seed: func(f *fx) ref.Ref {
				arm := f.img("linux/arm64", oci)
				at := f.Push("app:1", f.Index(oci, e(f.img("linux/amd64", oci), "linux/amd64"), e(arm, "linux/arm64")))
				f.Delete("app", arm)
				return at
			},
			want: []string{"missing-child linux/arm64"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fx{storytest.NewEnv(t, testregistry.InProcess(t, nil))}
			got := auditCodes(t, tt.seed(f), tt.require, nil)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("findings:\n got  %v\n want %v", got, tt.want)
			}
		})
	}
}

// auditCodes audits ref with a fresh client and returns its findings as
// sorted "code platform" strings. Audit errors fail the test.
func auditCodes(t *testing.T, at ref.Ref, require string, r *audit.Result) []string {
	t.Helper()
	if r == nil {
		r = runAudit(t, at, require)
	}
	for _, e := range r.Errors {
		t.Fatalf("not audited: %s: %s", e.Ref, e.Message)
	}
	var got []string
	for _, f := range r.Findings {
		s := string(f.Code)
		if f.Platform != "" {
			s += " " + f.Platform
		}
		got = append(got, s)
	}
	sort.Strings(got)
	return got
}

func runAudit(t *testing.T, at ref.Ref, require string) *audit.Result {
	t.Helper()
	req, err := platform.ParseList(require)
	if err != nil {
		t.Fatal(err)
	}
	return audit.Run(context.Background(), newClient(t), []audit.Target{{Ref: at, Require: req}}, audit.Options{})
}

// lyingRegistry serves the in-process registry but replaces the body of
// any GET whose path ends with one of the keys by the key's value, keeping
// the registry's headers (so the Docker-Content-Digest stays).
func lyingRegistry(t *testing.T, replace map[string][]byte) string {
	return testregistry.InProcess(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for suffix, body := range replace {
				if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, suffix) {
					rec := &headerOnly{header: http.Header{}}
					h.ServeHTTP(rec, r)
					for k, v := range rec.header {
						w.Header()[k] = v
					}
					w.Header().Del("Content-Length")
					w.WriteHeader(rec.status)
					_, _ = w.Write(body)
					return
				}
			}
			h.ServeHTTP(w, r)
		})
	})
}

// headerOnly records a response's status and headers, dropping the body.
type headerOnly struct {
	header http.Header
	status int
}

func (h *headerOnly) Header() http.Header         { return h.header }
func (h *headerOnly) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerOnly) WriteHeader(s int)           { h.status = s }

func TestDigestMismatch(t *testing.T) {
	amd, _ := stories.Image("linux/amd64", oci, "mismatch")
	arm, _ := stories.Image("linux/arm64", oci, "mismatch")
	idx, _ := stories.Index(oci, e(amd, "linux/amd64"), e(arm, "linux/arm64"))
	other, _ := stories.Image("linux/arm64", oci, "something else")
	otherRaw, _ := other.RawManifest()
	armCfg, _ := arm.ConfigName()

	tests := []struct {
		name    string
		replace func() map[string][]byte
		want    []string
	}{
		{
			name:    "a child manifest that does not hash to its digest",
			replace: func() map[string][]byte { return map[string][]byte{"/manifests/" + digest(t, arm).String(): otherRaw} },
			want:    []string{"digest-mismatch linux/arm64"},
		},
		{
			name: "a config blob that does not hash to its digest",
			replace: func() map[string][]byte {
				return map[string][]byte{"/blobs/" + armCfg.String(): []byte(`{"architecture":"amd64","os":"linux"}`)}
			},
			want: []string{"digest-mismatch linux/arm64"},
		},
		{
			name:    "a tag whose bytes do not match the declared Docker-Content-Digest",
			replace: func() map[string][]byte { return map[string][]byte{"/manifests/1": otherRaw} },
			want:    []string{"digest-mismatch"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := lyingRegistry(t, tt.replace())
			at := storytest.Parse(t, host+"/app:1")
			if err := newClient(t).Push(context.Background(), at, idx); err != nil {
				t.Fatal(err)
			}
			got := auditCodes(t, at, "", nil)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("findings:\n got  %v\n want %v", got, tt.want)
			}
		})
	}
}

func TestMissingConfigIsMissingChild(t *testing.T) {
	amd, _ := stories.Image("linux/amd64", oci, "config gone")
	cfg, _ := amd.ConfigName()
	host := testregistry.InProcess(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+cfg.String()) {
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	idx, _ := stories.Index(oci, e(amd, "linux/amd64"))
	at := storytest.Parse(t, host+"/app:1")
	if err := newClient(t).Push(context.Background(), at, idx); err != nil {
		t.Fatal(err)
	}
	r := runAudit(t, at, "linux/amd64")
	got := auditCodes(t, at, "", r)
	if fmt.Sprint(got) != "[missing-child linux/amd64]" {
		t.Fatalf("findings = %v, want [missing-child linux/amd64]", got)
	}
	if !strings.Contains(r.Findings[0].Message, "config") {
		t.Errorf("the message should say the config is missing: %q", r.Findings[0].Message)
	}
	if st := r.Images[0].Platforms[0].Status; st != audit.StatusMissingChild {
		t.Errorf("row status = %q, want %q", st, audit.StatusMissingChild)
	}
}
