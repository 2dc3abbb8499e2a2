package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// A minimal Docker Engine API client: three GET requests (/_ping, image
// inspect with the manifests option, image save) over a unix socket or
// TCP. It is written here rather than taken from github.com/moby/moby/client,
// which would do the same three requests but brings about a dozen modules
// (OpenTelemetry and its HTTP instrumentation on every request, go-winio,
// containerd's errdefs, distribution's reference, go-connections,
// go-units) and returns the engine's error text unfiltered; here every
// exchange goes through the Client's counter (stats and the -v log), and
// what the engine says passes through [sanitize] before it reaches an
// error.

// ErrNoEngine: no Docker engine answers at $DOCKER_HOST (or the default
// socket).
var ErrNoEngine = errors.New("no Docker engine answers")

// ErrEngineTooOld: the Docker engine's API predates what mlaudit needs to
// tell which platforms of an image it holds (image inspect's manifests
// option, API 1.48, Docker Engine 28).
var ErrEngineTooOld = errors.New("the Docker engine is too old")

// The Docker Engine API versions: the oldest that has image inspect's
// manifests option, and the newest whose answers this client knows (it
// asks in the engine's version, capped at this one, as docker does).
const (
	minEngineAPI = "1.48"
	maxEngineAPI = "1.51"
)

// DefaultDockerHost is where the Docker engine listens when DOCKER_HOST is
// not set.
const DefaultDockerHost = "unix:///var/run/docker.sock"

// MaxDaemonSave is the most an image saved by the Docker engine may hold:
// the save is copied once to a temporary file, removed as soon as it is
// open, and read from there.
const MaxDaemonSave = MaxStdinArchive

// maxInspectBytes bounds an image inspect answer (it lists every manifest
// of the image).
const maxInspectBytes = 8 << 20

// engineAddr is where the engine listens.
type engineAddr struct {
	network, address string
	// host is $DOCKER_HOST as written, without credentials, for messages.
	host string
}

// dockerHost reads DOCKER_HOST: unix:///PATH or tcp://HOST:PORT, the
// default socket when it is unset.
func dockerHost() (engineAddr, error) {
	raw := strings.TrimSpace(os.Getenv("DOCKER_HOST"))
	if raw == "" {
		raw = DefaultDockerHost
	}
	u, err := url.Parse(raw)
	if err != nil {
		return engineAddr{}, fmt.Errorf("%w: DOCKER_HOST %q is not a URL; set it to unix:///PATH (the engine's socket) or tcp://HOST:PORT", ErrInvalidTarget, redact(raw))
	}
	u.User = nil
	shown := u.String()
	switch u.Scheme {
	case "unix":
		p := u.Path
		if p == "" {
			p = u.Host + u.Path // unix://relative/path
		}
		if p == "" {
			return engineAddr{}, fmt.Errorf("%w: DOCKER_HOST %q names no socket; write unix:///var/run/docker.sock", ErrInvalidTarget, shown)
		}
		return engineAddr{network: "unix", address: p, host: shown}, nil
	case "tcp":
		if os.Getenv("DOCKER_TLS_VERIFY") != "" {
			return engineAddr{}, fmt.Errorf("%w: DOCKER_TLS_VERIFY is set, and mlaudit does not speak TLS to the Docker engine; forward the engine's socket (ssh -L /tmp/docker.sock:/var/run/docker.sock HOST) and set DOCKER_HOST=unix:///tmp/docker.sock", ErrInvalidTarget)
		}
		if u.Port() == "" {
			return engineAddr{}, fmt.Errorf("%w: DOCKER_HOST %q has no port; write tcp://HOST:PORT, e.g. tcp://127.0.0.1:2375", ErrInvalidTarget, shown)
		}
		return engineAddr{network: "tcp", address: u.Host, host: shown}, nil
	}
	return engineAddr{}, fmt.Errorf("%w: DOCKER_HOST %q: mlaudit reaches the Docker engine over unix:// or tcp://; forward the engine's socket (ssh -L /tmp/docker.sock:/var/run/docker.sock HOST) and set DOCKER_HOST=unix:///tmp/docker.sock", ErrInvalidTarget, shown)
}

// engine is one Docker engine, asked its API version once.
type engine struct {
	addr engineAddr
	hc   *http.Client
	// timeout is the Client's: image inspect must be over within it, and
	// no wait for an answer's headers or its next bytes may be longer.
	timeout time.Duration

	mu      sync.Mutex
	asked   bool   // version or err is the engine's answer
	version string // the API version asked in
	err     error
}

// newEngine connects (lazily) to the engine at addr. Requests go through
// the Client's counter; an answer's headers, and each read of its body,
// must come within the Client's timeout (an idle timeout: a save is every
// layer, and may take long as long as it flows), else the read fails with
// a [TimeoutError] naming the engine.
func (c *Client) newEngine(addr engineAddr) *engine {
	t := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, addr.network, addr.address)
		},
		MaxIdleConnsPerHost: c.opts.jobs,
		DisableCompression:  true,
	}
	idle := &timeout{d: c.opts.timeout, idle: true, host: addr.host, engine: true, next: t}
	return &engine{addr: addr, timeout: c.opts.timeout, hc: &http.Client{Transport: &counter{stats: c.stats, log: c.opts.log, next: idle}}}
}

// get asks the engine for path (unversioned, as /_ping is, or under the
// negotiated version) and returns the answer, any status.
func (e *engine) get(ctx context.Context, path string, query url.Values) (*http.Response, error) {
	u := url.URL{Scheme: "http", Host: "docker", Path: path, RawQuery: query.Encode()}
	if e.addr.network == "tcp" {
		u.Host = e.addr.address
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return nil, e.unreachable(ctx, err)
	}
	return resp, nil
}

// unreachable is the error for a request that got no answer.
func (e *engine) unreachable(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if te := (*TimeoutError)(nil); errors.As(err, &te) {
		return te
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		return fmt.Errorf("asking the Docker engine at %s: %s", e.addr.host, redact(err.Error()))
	}
	hint := "start Docker (or Docker Desktop), or set DOCKER_HOST to the engine's socket (unix:///PATH) or address (tcp://HOST:PORT)"
	if errors.Is(err, fs.ErrPermission) {
		hint = "you may not use the engine's socket: add yourself to the docker group (then log in again), or set DOCKER_HOST to a socket you may use"
	}
	return fmt.Errorf("%w at %s (%s): %s", ErrNoEngine, e.addr.host, redact(op.Err.Error()), hint)
}

// negotiate asks the engine which API version it speaks (/_ping's
// Api-Version header), once, and refuses one older than minEngineAPI. A
// ping cut short by its context is not the engine's answer: the next
// caller asks again.
func (e *engine) negotiate(ctx context.Context) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.asked {
		return e.version, e.err
	}
	v, err := e.ping(ctx)
	if err != nil && ctx.Err() != nil {
		return "", err
	}
	e.asked, e.version, e.err = true, v, err
	return v, err
}

func (e *engine) ping(ctx context.Context) (string, error) {
	resp, err := e.get(ctx, "/_ping", nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if err := e.check(resp, "/_ping"); err != nil {
		return "", err
	}
	v := resp.Header.Get("Api-Version")
	if v == "" {
		return "", fmt.Errorf("%w: the engine at %s did not say which API version it speaks (no Api-Version header on /_ping); mlaudit needs API %s or later (Docker Engine 28): upgrade Docker, or docker save the image and audit docker-archive:FILE", ErrEngineTooOld, e.addr.host, minEngineAPI)
	}
	if !apiAtLeast(v, minEngineAPI) {
		return "", fmt.Errorf("%w: the engine at %s speaks API %s; telling which platforms of an image it holds (image inspect's manifests option) needs API %s or later (Docker Engine 28) with the containerd image store: upgrade Docker, or save the image (docker save -o save.tar IMAGE) and audit docker-archive:save.tar", ErrEngineTooOld, e.addr.host, sanitize(v), minEngineAPI)
	}
	if apiAtLeast(v, maxEngineAPI) {
		v = maxEngineAPI
	}
	return v, nil
}

// apiAtLeast reports whether the API version v ("1.48") is min or later.
func apiAtLeast(v, min string) bool {
	parse := func(s string) (int, int, bool) {
		a, b, ok := strings.Cut(strings.TrimPrefix(s, "v"), ".")
		x, err1 := strconv.Atoi(a)
		y, err2 := strconv.Atoi(b)
		return x, y, ok && err1 == nil && err2 == nil
	}
	vx, vy, ok := parse(v)
	mx, my, _ := parse(min)
	return ok && (vx > mx || vx == mx && vy >= my)
}

// check turns an engine's non-2xx answer into an error quoting its
// message, sanitized; 404 wraps tree.ErrMissing through the caller.
func (e *engine) check(resp *http.Response, what string) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	var body struct {
		Message string `json:"message"`
	}
	msg := ""
	if b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10)); err == nil && json.Unmarshal(b, &body) == nil {
		msg = sanitize(body.Message)
	}
	text := fmt.Sprintf("the Docker engine at %s answered %s with %d %s", e.addr.host, what, resp.StatusCode, http.StatusText(resp.StatusCode))
	if msg != "" {
		text += " (" + msg + ")"
	}
	return &engineStatusError{status: resp.StatusCode, text: text}
}

// engineStatusError is an engine's answer with an unexpected status.
type engineStatusError struct {
	status int
	text   string
}

func (e *engineStatusError) Error() string { return e.text }

// inspected is what image inspect says of an image (the fields mlaudit
// reads; the Engine API's ImageInspect with the manifests option).
type inspected struct {
	ID       string   `json:"Id"`
	RepoTags []string `json:"RepoTags"`
	// Descriptor is the image's target (an index for a multi-platform
	// image); containerd image store only.
	Descriptor *v1.Descriptor `json:"Descriptor"`
	// Manifests are the target's manifests and whether the engine holds
	// each one's content; containerd image store, manifests=1 only.
	Manifests []engineManifest `json:"Manifests"`
}

// engineManifest is the Engine API's ManifestSummary.
type engineManifest struct {
	ID         string        `json:"ID"`
	Descriptor v1.Descriptor `json:"Descriptor"`
	// Available is whether the manifest's content (config and layers)
	// is in the engine's content store.
	Available bool   `json:"Available"`
	Kind      string `json:"Kind"` // image, attestation, unknown
	ImageData *struct {
		Platform v1.Platform `json:"Platform"`
	} `json:"ImageData"`
}

// inspect asks for name's image with its manifests; an image the engine
// does not have wraps errMissingImage.
//
// The whole exchange must be over within the Client's timeout.
func (e *engine) inspect(ctx context.Context, name string) (*inspected, error) {
	v, err := e.negotiate(ctx)
	if err != nil {
		return nil, err
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	resp, err := e.get(ctx, "/v"+v+"/images/"+name+"/json", url.Values{"manifests": {"1"}})
	if err != nil {
		return nil, e.timedOut(parent, ctx, err)
	}
	defer resp.Body.Close()
	if err := e.check(resp, "image inspect"); err != nil {
		return nil, err
	}
	raw, err := readLimited(resp.Body, maxInspectBytes, "the Docker engine's image inspect of "+name)
	if err != nil {
		return nil, e.timedOut(parent, ctx, err)
	}
	var out inspected
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("%w: the Docker engine at %s answered image inspect with what is not the Engine API's ImageInspect: %s", ErrBadResponse, e.addr.host, sanitize(err.Error()))
	}
	return &out, nil
}

// timedOut is err, or a TimeoutError naming the engine when ctx's
// deadline (and not parent's end) cut the exchange short.
func (e *engine) timedOut(parent, ctx context.Context, err error) error {
	var te *TimeoutError
	if parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.As(err, &te) {
		return &TimeoutError{Host: e.addr.host, Timeout: e.timeout, engine: true}
	}
	return err
}

// save asks the engine to save name (every platform it holds) and returns
// the tar stream; the caller closes it.
func (e *engine) save(ctx context.Context, name string) (io.ReadCloser, error) {
	v, err := e.negotiate(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := e.get(ctx, "/v"+v+"/images/get", url.Values{"names": {name}})
	if err != nil {
		return nil, err
	}
	if err := e.check(resp, "image save"); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp.Body, nil
}
