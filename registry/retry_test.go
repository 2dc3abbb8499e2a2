package registry

import (
	"context"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// script is a transport that answers from a list, one answer per call.
type script struct {
	answers []func() (*http.Response, error)
	calls   int
}

func (s *script) RoundTrip(req *http.Request) (*http.Response, error) {
	a := s.answers[min(s.calls, len(s.answers)-1)]
	s.calls++
	resp, err := a()
	if resp != nil {
		resp.Request = req
	}
	return resp, err
}

func status(code int, header ...string) func() (*http.Response, error) {
	return func() (*http.Response, error) {
		h := http.Header{}
		for i := 0; i+1 < len(header); i += 2 {
			h.Set(header[i], header[i+1])
		}
		return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(""))}, nil
	}
}

func fail(err error) func() (*http.Response, error) {
	return func() (*http.Response, error) { return nil, err }
}

// newRetrier is a retrier over s whose sleeps are recorded, not slept.
func newRetrier(s *script, slept *[]time.Duration) *retrier {
	return &retrier{next: s, retries: DefaultRetries, budget: DefaultRetryBudget, base: retryBase, limits: &rateLimits{low: 4},
		sleep: func(_ context.Context, d time.Duration) error { *slept = append(*slept, d); return nil }}
}

func TestRetry(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name      string
		method    string
		answers   []func() (*http.Response, error)
		wantCode  int
		wantCalls int
		check     func(t *testing.T, slept []time.Duration)
	}{
		{"429 with Retry-After in seconds", "GET", []func() (*http.Response, error){status(429, "Retry-After", "7"), status(200)}, 200, 2,
			func(t *testing.T, slept []time.Duration) {
				if len(slept) != 1 || slept[0] != 7*time.Second {
					t.Errorf("slept %v, want exactly the 7s asked for", slept)
				}
			}},
		{"429 with Retry-After as a date", "GET", []func() (*http.Response, error){status(429, "Retry-After", date), status(200)}, 200, 2,
			func(t *testing.T, slept []time.Duration) {
				if len(slept) != 1 || slept[0] < 85*time.Second || slept[0] > 91*time.Second {
					t.Errorf("slept %v, want about 90s", slept)
				}
			}},
		{"429 without Retry-After backs off", "HEAD", []func() (*http.Response, error){status(429), status(429), status(200)}, 200, 3,
			func(t *testing.T, slept []time.Duration) {
				if len(slept) != 2 || slept[1] <= slept[0] {
					t.Errorf("slept %v, want a growing backoff", slept)
				}
			}},
		{"503 then 200", "GET", []func() (*http.Response, error){status(503), status(200)}, 200, 2, nil},
		{"connection reset then 200", "GET", []func() (*http.Response, error){fail(syscall.ECONNRESET), status(200)}, 200, 2, nil},
		{"connection closed before an answer then 200", "GET", []func() (*http.Response, error){fail(io.EOF), status(200)}, 200, 2, nil},
		{"500 gives up after the retries", "GET", []func() (*http.Response, error){status(500)}, 500, DefaultRetries + 1, nil},
		{"a wait past the budget is not waited", "GET", []func() (*http.Response, error){status(429, "Retry-After", "600"), status(200)}, 429, 1,
			func(t *testing.T, slept []time.Duration) {
				if len(slept) != 0 {
					t.Errorf("slept %v past the budget", slept)
				}
			}},
		{"404 is an answer", "GET", []func() (*http.Response, error){status(404), status(200)}, 404, 1, nil},
		{"writes are not retried here", "PUT", []func() (*http.Response, error){status(503), status(200)}, 503, 1, nil},
		{"a timeout is not retried", "GET", []func() (*http.Response, error){fail(&TimeoutError{Host: "h", Timeout: time.Second}), status(200)}, 0, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{answers: tt.answers}
			var slept []time.Duration
			req, _ := http.NewRequest(tt.method, "https://registry.example/v2/app/manifests/1", nil)
			resp, err := newRetrier(s, &slept).RoundTrip(req)
			code := 0
			if err == nil {
				code = resp.StatusCode
			}
			if code != tt.wantCode || s.calls != tt.wantCalls {
				t.Errorf("got %d after %d calls (err %v), want %d after %d", code, s.calls, err, tt.wantCode, tt.wantCalls)
			}
			if tt.check != nil {
				tt.check(t, slept)
			}
		})
	}
}

func TestRateLimitRemainingSlowsDown(t *testing.T) {
	s := &script{answers: []func() (*http.Response, error){status(200, "Ratelimit-Remaining", "3;w=21600")}}
	var warnings []string
	var slept []time.Duration
	r := newRetrier(s, &slept)
	r.warn = func(m string) { warnings = append(warnings, m) }
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest("GET", "https://registry.example/v2/app/manifests/1", nil)
		if _, err := r.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.limits.snapshot()["registry.example"]; got != 3 {
		t.Errorf("remaining = %d, want 3", got)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "3 more pulls") {
		t.Errorf("warnings = %v, want one saying 3 pulls are left", warnings)
	}
	if len(r.limits.serial) != 1 {
		t.Error("a low allowance should send requests to that host one at a time")
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{"0": 0, "120": 2 * time.Minute, "Mon, 23 Nov 2026 12:00:30 GMT": 30 * time.Second, "Mon, 23 Nov 2026 11:00:00 GMT": 0} {
		if got, ok := retryAfter(in, now); !ok || got != want {
			t.Errorf("retryAfter(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "soon", "-5"} {
		if _, ok := retryAfter(bad, now); ok {
			t.Errorf("retryAfter(%q) should not parse", bad)
		}
	}
}
