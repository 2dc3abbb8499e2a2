package testregistry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Hostile registries: handlers that serve content a registry accepts but
// that is built to exhaust a client. Serve starts one on a loopback port.

// Serve starts h on a loopback port (httptest listens on 127.0.0.1 only)
// and returns its host:port.
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Media types the hostile handlers serve.
const (
	ociIndex    = "application/vnd.oci.image.index.v1+json"
	ociManifest = "application/vnd.oci.image.manifest.v1+json"
	ociConfig   = "application/vnd.oci.image.config.v1+json"
)

// FanOut serves, under any repository name and any tag, an index nested
// Depth levels deep in which every index lists the next one Width times
// (each entry with its own annotation, so no two entries are identical),
// and the deepest lists one linux/amd64 image Width times. Every digest
// is valid and every piece of content exists: a registry accepts it. A
// client that walks every entry fetches and holds Width^Depth images; one
// that walks content by digest reads Depth+2 documents.
type FanOut struct {
	Width, Depth int

	// Manifests and Blobs count the GETs of manifests and blobs served.
	Manifests, Blobs atomic.Int64

	once    sync.Once
	root    string            // digest of the outermost index
	content map[string][]byte // by digest
	types   map[string]string // media type by digest
}

// Root is the digest of the outermost index, which every tag names.
func (f *FanOut) Root() string {
	f.build()
	return f.root
}

// Distinct is how many documents the content has: the indexes, the image
// manifest and its config.
func (f *FanOut) Distinct() int { return f.Depth + 2 }

func (f *FanOut) build() {
	f.once.Do(func() {
		f.content, f.types = map[string][]byte{}, map[string]string{}
		config := f.add(ociConfig, map[string]any{
			"architecture": "amd64", "os": "linux",
			"rootfs": map[string]any{"type": "layers", "diff_ids": []string{}},
		})
		image := f.add(ociManifest, map[string]any{
			"schemaVersion": 2, "mediaType": ociManifest,
			"config": descriptor(ociConfig, config, f.content[config]),
			"layers": []any{},
		})
		child, childType := image, ociManifest
		for level := f.Depth; level >= 1; level-- {
			entries := make([]map[string]any, f.Width)
			for i := range entries {
				d := descriptor(childType, child, f.content[child])
				d["annotations"] = map[string]string{"org.example.entry": fmt.Sprintf("%d.%d", level, i)}
				if childType == ociManifest {
					d["platform"] = map[string]string{"os": "linux", "architecture": "amd64"}
				}
				entries[i] = d
			}
			child = f.add(ociIndex, map[string]any{"schemaVersion": 2, "mediaType": ociIndex, "manifests": entries})
			childType = ociIndex
		}
		f.root = child
	})
}

func (f *FanOut) add(mediaType string, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	d := digestOf(b)
	f.content[d], f.types[d] = b, mediaType
	return d
}

func descriptor(mediaType, digest string, b []byte) map[string]any {
	return map[string]any{"mediaType": mediaType, "digest": digest, "size": len(b)}
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ServeHTTP answers the ping, manifests (by any tag: the root) and blobs.
func (f *FanOut) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.build()
	kind, id, ok := splitPath(r.URL.Path)
	switch {
	case r.URL.Path == "/v2/" || r.URL.Path == "/v2":
		w.WriteHeader(http.StatusOK)
		return
	case !ok || (kind != "manifests" && kind != "blobs"):
		notFound(w, "NAME_UNKNOWN")
		return
	}
	if kind == "manifests" && !strings.HasPrefix(id, "sha256:") {
		id = f.root
	}
	b, found := f.content[id]
	if !found {
		notFound(w, "MANIFEST_UNKNOWN")
		return
	}
	if r.Method == http.MethodGet {
		if kind == "manifests" {
			f.Manifests.Add(1)
		} else {
			f.Blobs.Add(1)
		}
	}
	w.Header().Set("Content-Type", f.types[id])
	w.Header().Set("Docker-Content-Digest", id)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
}

// EndlessTags serves, under any repository name, a tag list that never
// ends: every page holds PerPage new tags (1 when unset) and a Link
// rel="next" to the next page on the same host. Manifests are not found.
type EndlessTags struct {
	PerPage int

	// Pages counts the pages served; Last is when the latest was served
	// (Unix nanoseconds).
	Pages atomic.Int64
	Last  atomic.Int64
}

// ServeHTTP answers the ping, tag-list pages, and 404 to the rest.
func (e *EndlessTags) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v2/" || r.URL.Path == "/v2" {
		w.WriteHeader(http.StatusOK)
		return
	}
	kind, _, ok := splitPath(r.URL.Path)
	if !ok || kind != "tags" {
		notFound(w, "MANIFEST_UNKNOWN")
		return
	}
	repo := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2/"), "/tags/list")
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	per := max(e.PerPage, 1)
	tags := make([]string, per)
	for i := range tags {
		tags[i] = fmt.Sprintf("p%d-%d", page, i)
	}
	e.Pages.Add(1)
	e.Last.Store(time.Now().UnixNano())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?n=%d&last=%s&page=%d>; rel="next"`, repo, per, tags[per-1], page+1))
	_ = json.NewEncoder(w).Encode(map[string]any{"name": repo, "tags": tags})
}

// splitPath splits /v2/<name>/<kind>/<id> (tags/list has id "list").
func splitPath(p string) (kind, id string, ok bool) {
	rest, found := strings.CutPrefix(p, "/v2/")
	if !found {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 3 {
		return "", "", false
	}
	return parts[len(parts)-2], parts[len(parts)-1], true
}

func notFound(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"not found"}]}`, code)
}
