package testregistry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// Engine is a Docker Engine API test server on a unix socket. No Docker
// engine can run on the machines these tests run on, so it answers the
// endpoints mlaudit uses with responses in the shapes the Engine API
// documents (v1.48 to v1.51): GET /_ping (the Api-Version header), GET
// /version, GET /vX.Y/images/{name}/json (with the manifests option, the
// containerd image store's Descriptor and Manifests, each manifest's
// Available flag) and GET /vX.Y/images/get?names=... (what the containerd
// image store's docker save writes: an OCI layout, index.json's entry
// annotated io.containerd.image.name and org.opencontainers.image.ref.name,
// with only the content the engine holds, plus manifest.json for older
// clients). Anything else is answered 404, as the engine answers an
// unknown route.
type Engine struct {
	// Host is the DOCKER_HOST value that reaches it: unix:///.../docker.sock.
	Host string

	api    string
	images []engineImage
	// stall, when set, holds the answers to the request stalled names
	// ("inspect" or "save") after their headers, until it is closed.
	stalled string
	stall   <-chan struct{}

	mu       sync.Mutex
	requests []string
}

// EngineImage is an image the test engine holds.
type EngineImage struct {
	// Name is the image's name as docker tags it ("app:1.0").
	Name string
	// Index is the image: a multi-platform index.
	Index v1.ImageIndex
	// NotPulled are index entries whose content the engine does not hold
	// (Available false; left out of saves), as after docker pull
	// --platform of another platform.
	NotPulled []v1.Hash
}

// EngineOption configures an Engine.
type EngineOption func(*Engine)

// OldEngine makes the engine speak API 1.41 (Docker 20.10): no manifests
// option, no Descriptor, no Manifests.
func OldEngine() EngineOption { return func(e *Engine) { e.api = "1.41" } }

// StallBody makes the engine send the headers of its answers to what
// ("inspect": image inspect; "save": image save) and then nothing, until
// stall is closed (or the client goes away): an engine that hangs. The
// test closes stall when it ends (t.Cleanup), after the engine's server
// was started, so that it runs before the server is closed.
func StallBody(what string, stall <-chan struct{}) EngineOption {
	return func(e *Engine) { e.stalled, e.stall = what, stall }
}

// hold stalls an answer to what, after its headers, when the engine was
// made to; it reports whether it did (the answer is then over).
func (e *Engine) hold(w http.ResponseWriter, r *http.Request, what string) bool {
	if e.stall == nil || e.stalled != what {
		return false
	}
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	select {
	case <-e.stall:
	case <-r.Context().Done():
	}
	return true
}

type engineImage struct {
	EngineImage
	ref      name.Reference
	digest   v1.Hash
	manifest *v1.IndexManifest
	save     []byte
}

// NewEngine starts a test engine holding images, on a socket in a short
// temporary directory (a unix socket's path is limited to about 108
// bytes, which t.TempDir() can exceed), removed when the test ends.
func NewEngine(t testing.TB, images []EngineImage, opts ...EngineOption) *Engine {
	t.Helper()
	e := &Engine{api: "1.51"}
	for _, o := range opts {
		o(e)
	}
	for _, img := range images {
		ei, err := newEngineImage(t, img)
		if err != nil {
			t.Fatal(err)
		}
		e.images = append(e.images, ei)
	}
	dir, err := os.MkdirTemp("", "eng")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	e.Host = "unix://" + sock
	return e
}

// Requests are the requests answered so far, "GET /path?query".
func (e *Engine) Requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.requests...)
}

// Count is how many requests so far had a path containing part.
func (e *Engine) Count(part string) int {
	n := 0
	for _, r := range e.Requests() {
		if strings.Contains(r, part) {
			n++
		}
	}
	return n
}

func newEngineImage(t testing.TB, img EngineImage) (engineImage, error) {
	r, err := name.ParseReference(img.Name)
	if err != nil {
		return engineImage{}, err
	}
	d, err := img.Index.Digest()
	if err != nil {
		return engineImage{}, err
	}
	im, err := img.Index.IndexManifest()
	if err != nil {
		return engineImage{}, err
	}
	ei := engineImage{EngineImage: img, ref: r, digest: d, manifest: im}
	ei.save, err = ei.saveTar(t)
	return ei, err
}

// holds reports whether digest is the image's index or one of its
// manifests.
func (ei engineImage) holds(digest string) bool {
	if digest == ei.digest.String() {
		return true
	}
	for _, m := range ei.manifest.Manifests {
		if m.Digest.String() == digest {
			return true
		}
	}
	return false
}

func (ei engineImage) notPulled(h v1.Hash) bool {
	for _, n := range ei.NotPulled {
		if n == h {
			return true
		}
	}
	return false
}

// saveTar is what the containerd image store's docker save writes for the
// image: the whole index, the content of the platforms it holds.
func (ei engineImage) saveTar(t testing.TB) ([]byte, error) {
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return nil, err
	}
	tag := ""
	if tg, ok := ei.ref.(name.Tag); ok {
		tag = tg.TagStr()
	}
	if err := p.AppendIndex(ei.Index, layout.WithAnnotations(map[string]string{
		"io.containerd.image.name":          ei.ref.Name(),
		"org.opencontainers.image.ref.name": tag,
	})); err != nil {
		return nil, err
	}
	var held []map[string]any
	for _, m := range ei.manifest.Manifests {
		img, err := ei.Index.Image(m.Digest)
		if err != nil {
			return nil, err
		}
		mf, err := img.Manifest()
		if err != nil {
			return nil, err
		}
		if !ei.notPulled(m.Digest) {
			if len(held) == 0 {
				var layers []string
				for _, l := range mf.Layers {
					layers = append(layers, "blobs/sha256/"+l.Digest.Hex)
				}
				held = append(held, map[string]any{"Config": "blobs/sha256/" + mf.Config.Digest.Hex, "RepoTags": []string{ei.ref.Name()}, "Layers": layers})
			}
			continue
		}
		for _, h := range append([]v1.Hash{m.Digest, mf.Config.Digest}, layerDigests(mf)...) {
			os.Remove(filepath.Join(dir, "blobs", h.Algorithm, h.Hex))
		}
	}
	mj, _ := json.Marshal(held)
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), mj, 0o644); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = WriteTar(&b, dir, "")
	return b.Bytes(), err
}

func layerDigests(m *v1.Manifest) []v1.Hash {
	var out []v1.Hash
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}

func (e *Engine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.requests = append(e.requests, r.Method+" "+r.URL.RequestURI())
	e.mu.Unlock()
	w.Header().Set("Api-Version", e.api)
	w.Header().Set("Server", "Docker/test (linux)")
	p := r.URL.Path
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		engineError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if p == "/_ping" {
		w.Header().Set("OSType", "linux")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "OK")
		return
	}
	version, rest := "", p
	if strings.HasPrefix(p, "/v") {
		if i := strings.Index(p[1:], "/"); i > 0 {
			version, rest = p[2:i+1], p[i+1:]
		}
	}
	if version != "" && !apiLE(version, e.api) {
		engineError(w, http.StatusBadRequest, fmt.Sprintf("client version %s is too new. Maximum supported API version is %s", version, e.api))
		return
	}
	switch {
	case rest == "/version":
		writeEngineJSON(w, map[string]any{"Version": "test", "ApiVersion": e.api, "MinAPIVersion": "1.24", "Os": "linux", "Arch": "amd64"})
	case rest == "/images/get":
		names := r.URL.Query()["names"]
		if len(names) != 1 {
			engineError(w, http.StatusBadRequest, "this test engine saves one image at a time")
			return
		}
		img, ok := e.find(names[0])
		if !ok {
			engineError(w, http.StatusNotFound, "reference does not exist")
			return
		}
		w.Header().Set("Content-Type", "application/x-tar")
		if e.hold(w, r, "save") {
			return
		}
		w.Write(img.save)
	case strings.HasPrefix(rest, "/images/") && strings.HasSuffix(rest, "/json"):
		n := strings.TrimSuffix(strings.TrimPrefix(rest, "/images/"), "/json")
		img, ok := e.find(n)
		if !ok {
			engineError(w, http.StatusNotFound, "No such image: "+n)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if e.hold(w, r, "inspect") {
			return
		}
		writeEngineJSON(w, e.inspect(img, r.URL.Query().Get("manifests") == "1" && apiLE("1.48", version)))
	default:
		engineError(w, http.StatusNotFound, "page not found")
	}
}

// find is the image name names: name:tag, the image ID, or name@digest
// where the digest is the image's (its index's) or one of its manifests',
// as the containerd image store finds an image by a digest it holds.
func (e *Engine) find(n string) (engineImage, bool) {
	for _, img := range e.images {
		if n == img.digest.String() {
			return img, true
		}
		r, err := name.ParseReference(n)
		if err != nil {
			continue
		}
		if d, ok := r.(name.Digest); ok && d.Context().Name() == img.ref.Context().Name() && img.holds(d.DigestStr()) {
			return img, true
		}
		if r.Name() == img.ref.Name() {
			return img, true
		}
	}
	return engineImage{}, false
}

// inspect is the Engine API's ImageInspect of img; with the manifests
// option (API 1.48 and later), the containerd image store's Descriptor and
// Manifests.
func (e *Engine) inspect(img engineImage, manifests bool) map[string]any {
	out := map[string]any{
		"Id":           img.digest.String(),
		"RepoTags":     []string{img.ref.Name()},
		"RepoDigests":  []string{img.ref.Context().Name() + "@" + img.digest.String()},
		"Os":           "linux",
		"Architecture": "amd64",
	}
	if e.api == "1.41" {
		out["Id"] = "sha256:" + strings.Repeat("0", 64) // the image config's digest, classic store
		return out
	}
	mt, _ := img.Index.MediaType()
	size, _ := img.Index.Size()
	out["Descriptor"] = map[string]any{"mediaType": mt, "digest": img.digest.String(), "size": size}
	if !manifests {
		return out
	}
	var list []map[string]any
	for _, m := range img.manifest.Manifests {
		s := map[string]any{
			"ID":         m.Digest.String(),
			"Descriptor": m,
			"Available":  !img.notPulled(m.Digest),
			"Size":       map[string]any{"Content": m.Size, "Total": m.Size},
			"Kind":       "image",
		}
		if m.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			s["Kind"] = "attestation"
			s["AttestationData"] = map[string]any{"For": m.Annotations["vnd.docker.reference.digest"]}
		} else if m.Platform != nil {
			s["ImageData"] = map[string]any{"Platform": m.Platform, "Containers": []string{}, "Size": map[string]any{"Unpacked": 0}}
		}
		list = append(list, s)
	}
	out["Manifests"] = list
	return out
}

func writeEngineJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// engineError answers as the engine does: {"message": "..."}.
func engineError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// apiLE reports whether API version a is b or older.
func apiLE(a, b string) bool {
	var ax, ay, bx, by int
	fmt.Sscanf(a, "%d.%d", &ax, &ay)
	fmt.Sscanf(b, "%d.%d", &bx, &by)
	return ax < bx || ax == bx && ay <= by
}
