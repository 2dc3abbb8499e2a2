package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mlaudit/mlaudit/internal/safetext"
)

// The layers below wrap the base transport, outermost first:
// schemePolicy, then counter (which also logs), then timeout. Each sees
// every HTTP exchange, including pings, token requests and redirects.
//
// Reads for audits take a slot of their registry's cap themselves
// (remoteRepo.send, tokenSource.run); go-containerregistry's reads and
// writes (copies, pushes) go through capped above the base transport
// instead, so every one of their requests, token exchanges included,
// holds a slot too.

// schemePolicy refuses plain HTTP to hosts that are neither loopback nor
// named insecure. go-containerregistry's ping falls back from HTTPS to HTTP
// for private addresses and *.local names; mlaudit's rule is narrower, so it
// is enforced here, where every request passes.
type schemePolicy struct {
	insecure map[string]bool
	next     http.RoundTripper
}

func (s *schemePolicy) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !s.allowed(req.URL.Host) {
		return nil, &PlainHTTPError{Host: req.URL.Host}
	}
	return s.next.RoundTrip(req)
}

func (s *schemePolicy) allowed(host string) bool {
	host = strings.ToLower(host)
	if s.insecure[host] {
		return true
	}
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if s.insecure[h] {
		return true
	}
	return isLoopback(h)
}

// isLoopback reports whether a host name (without port) is a loopback
// address or "localhost".
func isLoopback(host string) bool {
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// counter counts requests by method and kind, and logs each one when a log
// writer is set. It logs no headers and no query string: tokens and signed
// storage URLs live there.
type counter struct {
	stats *statsCollector
	log   io.Writer
	logMu sync.Mutex
	next  http.RoundTripper
}

func (c *counter) RoundTrip(req *http.Request) (*http.Response, error) {
	kind := requestKind(req)
	c.stats.add(req.Method, kind)
	start := time.Now()
	resp, err := c.next.RoundTrip(req)
	if c.log != nil {
		outcome := ""
		if err != nil {
			outcome = "error: " + err.Error()
		} else {
			outcome = resp.Status
		}
		// The reason phrase and error text are the server's words.
		outcome = safetext.Line(outcome)
		u := *req.URL
		u.RawQuery, u.User, u.Fragment = "", nil, ""
		c.logMu.Lock()
		fmt.Fprintf(c.log, "%s %s [%s] %s (%s)\n", req.Method, u.String(), kind, outcome, time.Since(start).Round(time.Millisecond))
		c.logMu.Unlock()
	}
	return resp, err
}

// requestKind classifies a request by its path, for the stats.
func requestKind(req *http.Request) string {
	p := req.URL.Path
	switch {
	case p == "/v2/" || p == "/v2":
		return "ping"
	case strings.Contains(p, "/manifests/"):
		return "manifest"
	case strings.Contains(p, "/blobs/"):
		return "blob"
	case strings.HasSuffix(p, "/tags/list"):
		return "tags"
	case strings.HasSuffix(p, "/_catalog"):
		return "catalog"
	case req.URL.Query().Has("scope") || req.URL.Query().Has("service") || strings.Contains(p, "token"):
		return "token"
	}
	return "other"
}

// timeout bounds one exchange, from sending the request to closing the
// body; or, with idle, each wait in it: for the answer's headers, then for
// each read of the body (the Docker engine's save, every layer of an
// image, may take long as long as it flows).
type timeout struct {
	d    time.Duration
	idle bool
	// host names the server in errors, when it is not the request's host
	// (the Docker engine, reached over a socket); engine says it is one.
	host   string
	engine bool
	next   http.RoundTripper
}

// TimeoutError says a registry (or the Docker engine) did not answer
// within the per-request timeout.
type TimeoutError struct {
	Host    string
	Timeout time.Duration
	engine  bool
}

func (e *TimeoutError) Error() string {
	if e.engine {
		return fmt.Sprintf("the Docker engine at %s did not answer within %s: it is stalled; restart Docker, or allow more time", e.Host, e.Timeout)
	}
	return fmt.Sprintf("%s did not answer within %s: the registry is stalled or unreachable; retry later or allow more time", e.Host, e.Timeout)
}

// PlainHTTPError says plain HTTP was refused to a host that is neither
// loopback nor named with [WithInsecure].
type PlainHTTPError struct{ Host string }

func (e *PlainHTTPError) Error() string {
	return fmt.Sprintf("refusing plain HTTP to %s: it is not a loopback address; allow it as an insecure registry only if it really serves HTTP", e.Host)
}

func (t *timeout) RoundTrip(req *http.Request) (*http.Response, error) {
	parent := req.Context()
	var ctx context.Context
	var cancel context.CancelFunc
	var timer *time.Timer
	if t.idle {
		var cause context.CancelCauseFunc
		ctx, cause = context.WithCancelCause(parent)
		cancel = func() { cause(context.Canceled) }
		timer = time.AfterFunc(t.d, func() { cause(context.DeadlineExceeded) })
	} else {
		ctx, cancel = context.WithTimeout(parent, t.d)
	}
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if timer != nil {
		timer.Stop()
	}
	if err != nil {
		cancel()
		return nil, t.classify(parent, ctx, req, err)
	}
	resp.Body = &timeoutBody{ReadCloser: resp.Body, cancel: cancel, timer: timer, t: t, parent: parent, ctx: ctx, req: req}
	return resp, nil
}

func (t *timeout) classify(parent, ctx context.Context, req *http.Request, err error) error {
	if parent.Err() == nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		host := t.host
		if host == "" {
			host = req.URL.Host
		}
		return &TimeoutError{Host: host, Timeout: t.d, engine: t.engine}
	}
	return err
}

type timeoutBody struct {
	io.ReadCloser
	cancel context.CancelFunc
	// timer, when the timeout is idle, ends the exchange when a read
	// waits longer than the timeout.
	timer       *time.Timer
	t           *timeout
	parent, ctx context.Context
	req         *http.Request
}

func (b *timeoutBody) Read(p []byte) (int, error) {
	if b.timer != nil {
		b.timer.Reset(b.t.d)
		defer b.timer.Stop()
	}
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = b.t.classify(b.parent, b.ctx, b.req, err)
	}
	return n, err
}

func (b *timeoutBody) Close() error {
	defer b.cancel()
	return b.ReadCloser.Close()
}

// capped holds one of a registry's request slots (host.sem) for each
// exchange with that registry's host: from sending the request until the
// answer's body is closed or read to its end, or, for a HEAD, until the
// answer arrives. Requests to other hosts (blob storage a registry
// redirects to) hold none.
//
// A blob's body is the one exception: its slot is given back when the
// answer's headers arrive. go-containerregistry streams a blob read from
// one repository straight into its upload to another; were the read to
// keep its slot, copies between repositories of one registry could hold
// every slot with reads waiting on uploads that never get one.
type capped struct {
	host string
	sem  chan struct{}
	next http.RoundTripper
}

func (c *capped) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.EqualFold(req.URL.Host, c.host) {
		return c.next.RoundTrip(req)
	}
	select {
	case c.sem <- struct{}{}:
	case <-req.Context().Done():
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, req.Context().Err()
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil || req.Method == http.MethodHead || resp.Body == nil || resp.Body == http.NoBody ||
		req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/") {
		<-c.sem
		return resp, err
	}
	resp.Body = &slotBody{ReadCloser: resp.Body, release: sync.OnceFunc(func() { <-c.sem })}
	return resp, nil
}

// slotBody gives its slot back at the end of the body or when closed,
// whichever comes first.
type slotBody struct {
	io.ReadCloser
	release func()
}

func (b *slotBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.release()
	}
	return n, err
}

func (b *slotBody) Close() error {
	defer b.release()
	return b.ReadCloser.Close()
}
