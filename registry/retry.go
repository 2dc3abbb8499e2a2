package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Retry defaults: a request is tried up to DefaultRetries+1 times, waiting
// between tries with exponential backoff from retryBase, or as long as the
// registry's Retry-After asks, but never longer in all than
// DefaultRetryBudget.
const (
	DefaultRetries     = 4
	DefaultRetryBudget = 2 * time.Minute
	retryBase          = 250 * time.Millisecond
)

// retrier retries idempotent requests (GET, HEAD) that fail in a way worth
// retrying: 408, 429 and 5xx answers, and connections reset or refused.
// go-containerregistry's own retry does not honour Retry-After, which rate
// limiting registries send with 429; this one does. It also reads the
// ratelimit-remaining header (Docker Hub's pull allowance) and, when it runs
// low, lets only one request at a time through to that registry.
type retrier struct {
	next     http.RoundTripper
	retries  int
	budget   time.Duration
	base     time.Duration
	sleep    func(context.Context, time.Duration) error
	limits   *rateLimits
	warnOnce sync.Once
	warn     func(string)
}

func (r *retrier) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead || req.Body != nil && req.Body != http.NoBody {
		return r.next.RoundTrip(req)
	}
	release := r.limits.throttle(req.URL.Host)
	defer release()
	var waited time.Duration
	for attempt := 0; ; attempt++ {
		resp, err := r.next.RoundTrip(req)
		if resp != nil {
			r.observe(req.URL.Host, resp)
		}
		wait, retry := r.shouldRetry(req, resp, err, attempt)
		if !retry || attempt >= r.retries || waited+wait > r.budget {
			return resp, err
		}
		if resp != nil {
			// Drain a little so the connection can be reused, then drop it.
			_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
			resp.Body.Close()
		}
		if err := r.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		waited += wait
	}
}

// shouldRetry decides whether to try again and after how long.
func (r *retrier) shouldRetry(req *http.Request, resp *http.Response, err error, attempt int) (time.Duration, bool) {
	backoff := r.base << attempt
	backoff += time.Duration(rand.Int64N(int64(backoff)/2 + 1))
	if err != nil {
		if req.Context().Err() != nil {
			return 0, false
		}
		var te *TimeoutError
		if errors.As(err, &te) {
			// A stalled registry: the per-request timeout already waited.
			return 0, false
		}
		// A connection reset, refused, or closed before any answer (EOF):
		// safe to try again, as only GET and HEAD get here.
		return backoff, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
			errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		if after, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return after, true
		}
		return backoff, true
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return backoff, true
	}
	return 0, false
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Error(), "reset")
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

// observe records a rate-limit allowance the registry announced.
func (r *retrier) observe(host string, resp *http.Response) {
	v := resp.Header.Get("Ratelimit-Remaining")
	if v == "" {
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(v, ";", 2)[0]))
	if err != nil {
		return
	}
	if low := r.limits.set(host, n); low && r.warn != nil {
		r.warnOnce.Do(func() {
			r.warn(fmt.Sprintf("%s allows %d more pulls in its window: slowing to one request at a time (log in or use the cache to save pulls)", host, n))
		})
	}
}

// rateLimits tracks each registry's announced allowance.
type rateLimits struct {
	mu        sync.Mutex
	remaining map[string]int
	serial    map[string]*sync.Mutex
	low       int
}

// set records n remaining for host and reports whether it is low.
func (l *rateLimits) set(host string, n int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.remaining == nil {
		l.remaining = map[string]int{}
	}
	l.remaining[host] = n
	return n <= l.low
}

// throttle holds a per-host lock while the allowance is low, so requests to
// that host go one at a time; it returns the release function.
func (l *rateLimits) throttle(host string) func() {
	l.mu.Lock()
	n, known := l.remaining[host]
	if !known || n > l.low {
		l.mu.Unlock()
		return func() {}
	}
	if l.serial == nil {
		l.serial = map[string]*sync.Mutex{}
	}
	m, ok := l.serial[host]
	if !ok {
		m = &sync.Mutex{}
		l.serial[host] = m
	}
	l.mu.Unlock()
	m.Lock()
	return m.Unlock
}

func (l *rateLimits) snapshot() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.remaining))
	for k, v := range l.remaining {
		out[k] = v
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
