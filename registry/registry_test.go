package registry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/tree"
)

var newClient = testregistry.Client

func image(t testing.TB, p string) v1.Image {
	t.Helper()
	img, err := stories.Image(p, stories.OCI, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// mustRef parses a reference or fails the test.
func mustRef(t testing.TB, s string) ref.Ref { return storytest.Parse(t, s) }

func TestCheckTarget(t *testing.T) {
	layout := t.TempDir() + "/out"
	c := newClient(t)
	if err := c.Push(context.Background(), mustRef(t, "oci:"+layout+":v1"), image(t, "linux/amd64")); err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{"oci:" + layout, "oci:" + layout + ":v1", "oci:" + layout + ":no-such-entry", "localhost:5000/app:1", "ghcr.io/org/app"} {
		if err := c.CheckTarget(mustRef(t, ok)); err != nil {
			t.Errorf("CheckTarget(%s): %v", ok, err)
		}
	}
	empty := t.TempDir()
	for _, bad := range []string{"oci:/does/not/exist", "oci:" + empty} {
		err := c.CheckTarget(mustRef(t, bad))
		if !errors.Is(err, registry.ErrInvalidTarget) || !strings.Contains(err.Error(), strings.TrimPrefix(bad, "oci:")) {
			t.Errorf("CheckTarget(%s) = %v, want ErrInvalidTarget naming the directory", bad, err)
		}
	}
}

// fakeRegistry answers the ping and hands every other request to h.
func fakeRegistry(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestExpandFollowsLinkPagination(t *testing.T) {
	pages := map[string]struct {
		tags []string
		next string
	}{
		"":  {[]string{"a", "b"}, "/v2/app/tags/list?last=b&n=2"},
		"b": {[]string{"c", "d"}, "/v2/app/tags/list?last=d&n=2"},
		"d": {[]string{"e"}, ""},
	}
	host := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
		p, ok := pages[r.URL.Query().Get("last")]
		if !ok || r.URL.Path != "/v2/app/tags/list" {
			http.NotFound(w, r)
			return
		}
		if p.next != "" {
			w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, p.next))
		}
		fmt.Fprintf(w, `{"name":"app","tags":["%s"]}`, strings.Join(p.tags, `","`))
	})
	c := newClient(t)
	refs, err := c.Expand(context.Background(), mustRef(t, host+"/app"))
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, r := range refs {
		tags = append(tags, r.Tag)
	}
	if got := strings.Join(tags, ","); got != "a,b,c,d,e" {
		t.Errorf("tags = %s, want a,b,c,d,e", got)
	}
	if n := c.Stats().Requests["GET tags"]; n != 3 {
		t.Errorf("GET tags = %d, want 3 (one per page)", n)
	}
}

func TestFetchMakesOneRequestPerManifestAndConfig(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	amd, arm := image(t, "linux/amd64"), image(t, "linux/arm64")
	att, err := stories.Attestation(mustDigest(t, amd))
	if err != nil {
		t.Fatal(err)
	}
	d := mustDigest(t, amd)
	idx, err := stories.Index(stories.OCI,
		stories.Entry{Image: amd, Platform: "linux/amd64"},
		stories.Entry{Image: arm, Platform: "linux/arm64"},
		stories.Entry{Image: att, Attests: &d})
	if err != nil {
		t.Fatal(err)
	}
	if err := newClient(t).Push(context.Background(), mustRef(t, host+"/app:1"), idx); err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	root, err := c.Fetch(context.Background(), mustRef(t, host+"/app:1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(root.Images()) != 2 || root.Images()[1].Config.Architecture != "arm64" {
		t.Fatalf("the tree should hold two images with configs, got %d", len(root.Images()))
	}
	got := c.Stats().Requests
	// The index and two image manifests; two configs; the attestation is
	// not fetched.
	if got["GET manifest"] != 3 || got["GET blob"] != 2 || got["HEAD manifest"] != 0 {
		t.Errorf("requests = %v, want 3 GET manifest and 2 GET blob", got)
	}
}

func TestUnknownRepositoryIsMissing(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	_, err := newClient(t).Fetch(context.Background(), mustRef(t, host+"/nothing:here"))
	if !errors.Is(err, tree.ErrMissing) {
		t.Fatalf("err = %v, want tree.ErrMissing", err)
	}
	if !strings.Contains(err.Error(), host+"/nothing:here") {
		t.Errorf("the error should name the reference: %v", err)
	}
}

func TestStalledRegistryTimesOut(t *testing.T) {
	tests := []struct {
		name string
		// before runs before the handler blocks: nothing (no answer at
		// all), or the start of a body (a trickle that stops).
		before func(http.ResponseWriter)
		// stallPing makes even the ping (GET /v2/) go unanswered.
		stallPing bool
	}{
		{"no answer to the ping", func(http.ResponseWriter) {}, true},
		{"no answer", func(http.ResponseWriter) {}, false},
		{"a body that stops", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"schemaVersion":2,`))
			w.(http.Flusher).Flush()
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			stall := func(w http.ResponseWriter, r *http.Request) {
				tt.before(w)
				<-release // blocks until the test ends
			}
			host := fakeRegistry(t, stall)
			if tt.stallPing {
				srv := httptest.NewServer(http.HandlerFunc(stall))
				t.Cleanup(srv.Close)
				host = strings.TrimPrefix(srv.URL, "http://")
			}
			t.Cleanup(func() { close(release) })
			_, err := newClient(t, registry.WithTimeout(100*time.Millisecond)).Fetch(context.Background(), mustRef(t, host+"/app:1"))
			var te *registry.TimeoutError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v, want a *registry.TimeoutError", err)
			}
			if !strings.Contains(err.Error(), "allow more time") {
				t.Errorf("the error should say what to do: %v", err)
			}
			if n := strings.Count(err.Error(), "did not answer"); n != 1 {
				t.Errorf("the timeout should be said once, not %d times: %v", n, err)
			}
		})
	}
}

func TestGarbageAndOversizedAnswers(t *testing.T) {
	tests := []struct {
		name, contentType string
		body              []byte
		want              string
	}{
		{"html", "text/html", []byte("<html><body>Welcome to nginx!</body></html>"), "not valid JSON"},
		{"json that is no manifest", "application/json", []byte(`{"hello":"world"}`), "neither an index nor an image"},
		{"schema 1", "application/vnd.docker.distribution.manifest.v1+prettyjws", []byte(`{"schemaVersion":1}`), "schema 1"},
		{"over 4 MiB", "application/vnd.oci.image.index.v1+json", bytes.Repeat([]byte(" "), 5<<20), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				_, _ = w.Write(tt.body)
			})
			root, err := newClient(t).Fetch(context.Background(), mustRef(t, host+"/app:1"))
			if err == nil {
				err = root.Err
			}
			if !errors.Is(err, registry.ErrBadResponse) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrBadResponse saying %q", err, tt.want)
			}
		})
	}
}

func TestUnauthorizedSaysWhereCredentialsComeFrom(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	_, err := newClient(t).Fetch(context.Background(), mustRef(t, host+"/private/app:1"))
	if !errors.Is(err, registry.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	for _, want := range []string{host, "docker login", "credential helpers"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error should mention %q: %v", want, err)
		}
	}
}

// recorder is a transport that records URLs and never touches the network.
type recorder struct {
	mu   sync.Mutex
	urls []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL.String())
	r.mu.Unlock()
	return nil, errors.New("recorder: no network in tests")
}

func (r *recorder) sawScheme(scheme string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range r.urls {
		if strings.HasPrefix(u, scheme+"://") {
			return true
		}
	}
	return false
}

func TestPlainHTTPOnlyForLoopbackOrInsecureHosts(t *testing.T) {
	// 10.1.2.3 is a private address: go-containerregistry alone would fall
	// back to plain HTTP for it. The recorder answers instead of the network.
	rec := &recorder{}
	_, err := newClient(t, registry.WithTransport(rec)).Fetch(context.Background(), mustRef(t, "10.1.2.3:5000/app:1"))
	if err == nil {
		t.Fatal("expected an error from the recording transport")
	}
	if rec.sawScheme("http") {
		t.Errorf("plain HTTP was sent to a non-loopback host: %v", rec.urls)
	}
	if !rec.sawScheme("https") {
		t.Errorf("HTTPS was not tried: %v", rec.urls)
	}

	rec = &recorder{}
	_, _ = newClient(t, registry.WithTransport(rec), registry.WithInsecure("10.1.2.3:5000")).Fetch(context.Background(), mustRef(t, "10.1.2.3:5000/app:1"))
	if !rec.sawScheme("http") {
		t.Errorf("--insecure-registry should allow plain HTTP: %v", rec.urls)
	}
}

func TestLogShowsNoQueryOrHeaders(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	if err := newClient(t).Push(context.Background(), mustRef(t, host+"/app:1"), image(t, "linux/amd64")); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	c := newClient(t, registry.WithLog(&log))
	if _, err := c.Expand(context.Background(), mustRef(t, host+"/app")); err != nil {
		t.Fatal(err)
	}
	out := log.String()
	if !strings.Contains(out, "GET http://"+host+"/v2/app/tags/list [tags] 200 OK") {
		t.Errorf("log should show the tag list request:\n%s", out)
	}
	if strings.Contains(out, "n=1000") || strings.Contains(out, "Authorization") {
		t.Errorf("log must not show queries or headers:\n%s", out)
	}
}

func TestOptionsRejectBadValues(t *testing.T) {
	for name, opt := range map[string]registry.Option{
		"timeout":  registry.WithTimeout(0),
		"jobs":     registry.WithJobs(0),
		"insecure": registry.WithInsecure("http://host/"),
	} {
		if _, err := registry.New(opt); err == nil {
			t.Errorf("%s: a bad value was accepted", name)
		}
	}
}

func mustDigest(t testing.TB, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
