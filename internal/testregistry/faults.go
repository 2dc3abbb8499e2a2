package testregistry

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Faults sits in front of a registry and breaks the requests its rules
// match, the way real registries, proxies and networks fail.
type Faults struct {
	mu    sync.Mutex
	rules []*Rule
}

// Rule breaks requests Match accepts, Times times (0: every time), with
// Fault.
type Rule struct {
	Match func(*http.Request) bool
	Times int
	Fault Fault
	hits  int
}

// Fault answers (or refuses to answer) a request; next serves it as the
// registry would.
type Fault func(w http.ResponseWriter, r *http.Request, next http.Handler)

// Add adds a rule and returns the Faults, for chaining.
func (f *Faults) Add(match func(*http.Request) bool, times int, fault Fault) *Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &Rule{Match: match, Times: times, Fault: fault})
	return f
}

func (f *Faults) rule(r *http.Request) *Rule {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, rule := range f.rules {
		if rule.Match(r) && (rule.Times == 0 || rule.hits < rule.Times) {
			rule.hits++
			return rule
		}
	}
	return nil
}

// Wrap returns next with the faults in front.
func (f *Faults) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rule := f.rule(r); rule != nil {
			rule.Fault(w, r, next)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Proxy starts a proxy to the registry at upstream (host:port) with the
// faults in front and returns its host:port.
func (f *Faults) Proxy(t testing.TB, upstream string) string {
	t.Helper()
	target, _ := url.Parse("http://" + upstream)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = nil
	srv := httptest.NewServer(f.Wrap(proxy))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Path matches requests of method whose path contains part.
func Path(method, part string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return (method == "" || r.Method == method) && strings.Contains(r.URL.Path, part)
	}
}

// Status answers with code and the given header pairs.
func Status(code int, header ...string) Fault {
	return func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
	}
}

// Reset closes the connection without an answer.
func Reset() Fault {
	return func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}
}

// Stall accepts the request and answers nothing until release is closed
// or the client gives up.
func Stall(release <-chan struct{}) Fault {
	return func(_ http.ResponseWriter, r *http.Request, _ http.Handler) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
}

// Body answers 200 with contentType and body.
func Body(contentType string, body []byte) Fault {
	return func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	}
}

// Truncate serves the registry's answer with its full Content-Length but
// only keep bytes of the body, then closes the connection.
func Truncate(keep int) Fault {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		body := relay(w, r, next, 0)
		_, _ = w.Write(body[:min(keep, len(body))])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	}
}

// ShortLength serves the registry's answer but declares a Content-Length
// short of the body, so a client reads only part of it.
func ShortLength(by int) Fault {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		body := relay(w, r, next, by)
		_, _ = w.Write(body[:max(len(body)-by, 0)])
	}
}

// relay serves r with next into a recorder, writes the registry's status
// and headers to w with a Content-Length `short` bytes less than the body,
// and returns the body for the caller to write (or not) as it breaks it.
func relay(w http.ResponseWriter, r *http.Request, next http.Handler, short int) []byte {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(max(len(body)-short, 0)))
	w.WriteHeader(rec.Code)
	return body
}

// Hold takes the request and never serves it: it signals on reached, then
// waits until release is closed or the client gives up, and drops it.
// Tests kill a process while it waits: the registry sees only what the
// process had finished before.
func Hold(reached chan<- string, release <-chan struct{}) Fault {
	return func(_ http.ResponseWriter, r *http.Request, _ http.Handler) {
		reached <- r.Method + " " + r.URL.Path
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
}

// Pause holds the request before the registry sees it: it signals on
// reached and waits until release is closed (or the client gives up),
// then lets the registry serve it. Whatever a test does meanwhile happens
// before the request lands.
func Pause(reached chan<- string, release <-chan struct{}) Fault {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		reached <- r.Method + " " + r.URL.Path
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		next.ServeHTTP(w, r)
	}
}

// PauseAnswer lets the registry serve the request, then holds the answer:
// it signals on reached and waits until release is closed (or the client
// gives up) before the client hears back. Whatever a test does meanwhile
// happens after the request landed and before the client goes on.
func PauseAnswer(reached chan<- string, release <-chan struct{}) Fault {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		reached <- r.Method + " " + r.URL.Path
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}
}
