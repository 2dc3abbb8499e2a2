package registry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/registry"
)

// TestBlobRedirects: a registry may send a config read to another host
// (as to a storage bucket), but never to a private address.
func TestBlobRedirects(t *testing.T) {
	e := storytest.NewEnv(t, testregistry.InProcess(t, nil))
	img := e.Image("linux/amd64", stories.OCI, "redirect")
	cfg, _ := img.ConfigName()
	raw, _ := img.RawConfigFile()
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(raw) }))
	t.Cleanup(storage.Close)

	for _, tt := range []struct {
		name, location string
		refused        bool
	}{
		{"to a storage host", storage.URL + "/bucket/" + cfg.Hex, false},
		{"to a private address", "http://10.1.2.3/latest/meta-data/", true},
		{"to link-local cloud metadata", "http://169.254.169.254/latest/meta-data/", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := testregistry.InProcess(t, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+cfg.String()) {
						http.Redirect(w, r, tt.location, http.StatusTemporaryRedirect)
						return
					}
					h.ServeHTTP(w, r)
				})
			})
			ref := reg + "/app:1"
			if err := e.Client.Push(context.Background(), mustRef(t, ref), img); err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			c := newClient(t, registry.WithTransport(&passThrough{rec: rec}), registry.WithRetry(0, 0))
			n, err := c.Fetch(context.Background(), mustRef(t, ref))
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.refused && !errors.Is(n.Err, registry.ErrRedirect):
				t.Errorf("err = %v, want a refused redirect", n.Err)
			case !tt.refused && (n.Err != nil || n.Config == nil):
				t.Errorf("the redirect to storage should be followed: %v", n.Err)
			}
			for _, u := range rec.urls {
				if strings.Contains(u, "10.1.2.3") || strings.Contains(u, "169.254") {
					t.Errorf("a request went to %s", u)
				}
			}
		})
	}
}

// passThrough records URLs and sends requests on to loopback only.
type passThrough struct{ rec *recorder }

func (p *passThrough) RoundTrip(req *http.Request) (*http.Response, error) {
	p.rec.mu.Lock()
	p.rec.urls = append(p.rec.urls, req.URL.String())
	p.rec.mu.Unlock()
	if !strings.HasPrefix(req.URL.Host, "127.0.0.1") {
		return nil, fmt.Errorf("test transport: no network beyond loopback (%s)", req.URL.Host)
	}
	return http.DefaultTransport.RoundTrip(req)
}
