package repair_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/repair"
)

// sbomType is the artifact type of the SBOMs attached in these tests. It
// is the artifact's config media type: go-containerregistry's registry
// reports a referrer's artifactType from there, and its writer fills the
// fallback tag's descriptor from there when the manifest has no
// artifactType field.
const sbomType = "application/spdx+json"

// TestReferrersOfTheOldIndex: an SBOM attached to the index as an OCI 1.1
// referrer does not follow a repair to the new digest, so the plan lists
// it and Apply refuses without AllowUnsigned; a referrer of a child is not
// listed, as children keep their digests. The referrer is found through
// the referrers API where the registry has it, else through the fallback
// tag sha256-<hex>.
func TestReferrersOfTheOldIndex(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T, wrap func(http.Handler) http.Handler) string
		// api is whether the registry answers the referrers API.
		api bool
	}{
		{"in-process with the referrers API", func(t *testing.T, wrap func(http.Handler) http.Handler) string {
			return testregistry.InProcessWithReferrers(t, wrap)
		}, true},
		{"in-process without the referrers API", func(t *testing.T, wrap func(http.Handler) http.Handler) string {
			return testregistry.InProcess(t, wrap)
		}, false},
		{"distribution", distributionBehind, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := &exchanges{}
			testReferrers(t, &env{storytest.NewEnv(t, tt.start(t, x.wrap))}, x, tt.api)
		})
	}
}

func testReferrers(t *testing.T, e *env, x *exchanges, api bool) {
	ctx := context.Background()
	amd, arm, arm7 := e.Image("linux/amd64", stories.OCI, "sbom"), e.Image("linux/arm64", stories.OCI, "sbom"), e.Image("linux/arm/v7", stories.OCI, "sbom")
	e.Push("app:v1-amd64", amd)
	idx := e.Index(stories.OCI, entry(arm, "linux/arm64"), entry(arm7, "linux/arm/v7"))
	target := e.Push("app:v1", idx)
	old := e.resolve(target)
	if want := storytest.Digest(t, idx).String(); old != want {
		t.Fatalf("app:v1 holds %s, want the pushed index %s", old, want)
	}

	sbom := attach(e, target, idx, "the index")
	childSBOM := attach(e, target, arm, "the arm64 image")
	fallback := mustTag(t, target, ref.ReferrersTag(old))
	childFallback := mustTag(t, target, ref.ReferrersTag(storytest.Digest(t, arm).String()))
	if api {
		for _, tag := range []ref.Ref{fallback, childFallback} {
			if d := e.resolve(tag); d != "" {
				t.Errorf("the registry has the referrers API, yet the fallback tag %s was written (holds %s): the API path is not what is tested", tag, d)
			}
		}
	} else {
		for _, tag := range []ref.Ref{fallback, childFallback} {
			if e.resolve(tag) == "" {
				t.Errorf("the registry has no referrers API, so pushing a referrer should have written the fallback tag %s", tag)
			}
		}
	}
	tagsBefore := e.tags(target)

	x.take()
	p := e.prepare(repair.Request{Target: target, PerArch: []string{"{tag}-{arch}"}, Require: require(t, "linux/amd64,linux/arm64,linux/arm/v7")})
	asked := x.take()
	if got, want := rows(p), "add linux/amd64, keep linux/arm/v7, keep linux/arm64"; got != want {
		t.Fatalf("rows = %s, want %s", got, want)
	}
	if !p.OK() || !p.Changed || p.OldDigest != old {
		t.Fatalf("plan: ok=%v changed=%v old=%s (want %s) findings=%v", p.OK(), p.Changed, p.OldDigest, old, p.Findings)
	}
	checkReferrersPath(t, asked, target.Repository, old, api)

	want := repair.Signature{Kind: repair.Referrer, Ref: target.WithDigest(sbom.String()), ArtifactType: sbomType}
	if len(p.Signatures) != 1 || !sameSignature(p.Signatures[0], want) {
		t.Errorf("p.Signatures = %+v, want exactly the index's SBOM %+v (the arm64 image's SBOM %s must not be listed: children keep their digests)\nreferrers requests during Prepare:\n%s",
			p.Signatures, want, childSBOM, strings.Join(about(asked, "/referrers/", "/manifests/sha256-"), "\n"))
	}
	for _, s := range p.Signatures {
		if s.Ref.Digest == childSBOM.String() {
			t.Errorf("the SBOM of a child is listed (%+v): the child keeps its digest, so it still refers to it", s)
		}
	}
	if !p.Unsigned() {
		t.Fatal("p.Unsigned() = false: the plan changes the digest of an index that has a referrer")
	}

	_, err := repair.Apply(ctx, e.Client, p, repair.ApplyOptions{})
	wrote := x.take()
	if !errors.Is(err, repair.ErrUnsigned) {
		t.Fatalf("Apply without AllowUnsigned: err = %v, want ErrUnsigned", err)
	}
	if got := e.resolve(target); got != old {
		t.Errorf("a refused Apply moved %s to %s; it must still hold %s", target, got, old)
	}
	if got := e.tags(target); !slices.Equal(got, tagsBefore) {
		t.Errorf("a refused Apply changed the tags: %v, before %v", got, tagsBefore)
	}
	if writes := writesIn(wrote); len(writes) > 0 {
		t.Errorf("a refused Apply must write nothing, it sent:\n%s", strings.Join(writes, "\n"))
	}

	applied, err := repair.Apply(ctx, e.Client, p, repair.ApplyOptions{AllowUnsigned: true})
	if err != nil {
		t.Fatalf("Apply with AllowUnsigned: %v", err)
	}
	if got := e.resolve(target); !applied.Moved || got != p.NewDigest {
		t.Fatalf("with AllowUnsigned the tag should hold the new index %s, holds %s (moved %v)", p.NewDigest, got, applied.Moved)
	}
	left, err := e.Client.Referrers(ctx, target.WithDigest(p.NewDigest))
	if err != nil || len(left) != 0 {
		t.Errorf("the SBOM does not follow the new digest: referrers of %s = %v, %v", p.NewDigest, left, err)
	}
	e.auditClean(target, "linux/amd64,linux/arm64,linux/arm/v7")
}

// attach pushes, by digest into target's repository, an SBOM artifact whose
// subject is m, and returns its digest.
func attach(e *env, target ref.Ref, m partial.Describable, what string) v1.Hash {
	e.T.Helper()
	subject, err := partial.Descriptor(m)
	if err != nil {
		e.T.Fatal(err)
	}
	doc := fmt.Sprintf(`{"spdxVersion":"SPDX-2.3","name":"SBOM of %s %s"}`, what, subject.Digest)
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, sbomType)
	img, err = mutate.AppendLayers(img, static.NewLayer([]byte(doc), sbomType))
	if err != nil {
		e.T.Fatal(err)
	}
	art := mutate.Subject(img, v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}).(v1.Image)
	d := storytest.Digest(e.T, art)
	if err := e.Client.Push(context.Background(), target.WithDigest(d.String()), art); err != nil {
		e.T.Fatalf("attaching an SBOM to %s: %v", what, err)
	}
	return d
}

// checkReferrersPath checks how Prepare found the referrers of digest in
// repo, from the requests the registry answered: through the API (a 200
// with an OCI index, and no read of the fallback tag), or, where the
// registry has no API, through the fallback tag.
func checkReferrersPath(t *testing.T, asked []string, repo, digest string, api bool) {
	t.Helper()
	apiPath := "/v2/" + repo + "/referrers/" + digest
	tagPath := "/v2/" + repo + "/manifests/" + ref.ReferrersTag(digest)
	seen := strings.Join(about(asked, apiPath, tagPath), "\n")
	answered := func(prefix string) bool {
		return slices.ContainsFunc(asked, func(s string) bool { return strings.HasPrefix(s, prefix) })
	}
	if api {
		if !answered("GET " + apiPath + " 200 " + string(types.OCIImageIndex)) {
			t.Errorf("Prepare did not get its referrers from the API (want GET %s answered 200 with an OCI index); it sent:\n%s", apiPath, seen)
		}
		if answered("GET "+tagPath) || answered("HEAD "+tagPath) {
			t.Errorf("Prepare read the fallback tag although the registry has the referrers API; it sent:\n%s", seen)
		}
		return
	}
	if answered("GET " + apiPath + " 200 " + string(types.OCIImageIndex)) {
		t.Errorf("the registry was expected to have no referrers API, yet it answered it; it sent:\n%s", seen)
	}
	if !answered("GET " + tagPath + " 200") {
		t.Errorf("Prepare did not read the fallback tag (want GET %s answered 200); it sent:\n%s", tagPath, seen)
	}
}

func sameSignature(a, b repair.Signature) bool {
	return a.Kind == b.Kind && a.Ref.Equal(b.Ref) && a.ArtifactType == b.ArtifactType
}

func mustTag(t *testing.T, r ref.Ref, tag string) ref.Ref {
	t.Helper()
	out, err := r.WithTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) tags(r ref.Ref) []string {
	e.T.Helper()
	tags, err := e.Client.Tags(context.Background(), r)
	if err != nil {
		e.T.Fatal(err)
	}
	slices.Sort(tags)
	return tags
}

// distributionBehind starts Debian's docker-registry behind a loopback
// reverse proxy that wrap wraps, so its exchanges can be recorded too.
// The proxy keeps the Host header, so the upload locations the registry
// hands out point back at the proxy.
func distributionBehind(t *testing.T, wrap func(http.Handler) http.Handler) string {
	host := testregistry.Distribution(t)
	srv := httptest.NewServer(wrap(httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: host})))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// exchanges records what a registry was asked and answered, one
// "METHOD path status content-type" line per request.
type exchanges struct {
	mu   sync.Mutex
	seen []string
}

func (x *exchanges) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		line := fmt.Sprintf("%s %s %d %s", r.Method, r.URL.Path, sw.status(), sw.Header().Get("Content-Type"))
		x.mu.Lock()
		defer x.mu.Unlock()
		x.seen = append(x.seen, line)
	})
}

// take returns what was recorded since the last take.
func (x *exchanges) take() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := x.seen
	x.seen = nil
	return out
}

// about keeps the lines that mention one of parts.
func about(lines []string, parts ...string) []string {
	var out []string
	for _, l := range lines {
		for _, p := range parts {
			if strings.Contains(l, p) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

// writesIn keeps the requests that change what a registry holds.
func writesIn(lines []string) []string {
	var out []string
	for _, l := range lines {
		switch strings.SplitN(l, " ", 2)[0] {
		case http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete:
			out = append(out, l)
		}
	}
	return out
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
