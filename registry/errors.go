package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mlaudit/mlaudit/tree"
)

// Sentinel errors, for callers to classify failures with errors.Is. Errors
// for content that does not exist wrap [tree.ErrMissing].
var (
	// ErrUnauthorized: the registry wants credentials mlaudit does not have.
	ErrUnauthorized = errors.New("authentication required")
	// ErrDenied: the credentials were not enough for this repository.
	ErrDenied = errors.New("access denied")
	// ErrRateLimited: the registry answered 429 Too Many Requests.
	ErrRateLimited = errors.New("rate limited")
	// ErrBadResponse: the registry answered with something that is not
	// what the distribution API promises (garbage, oversized, wrong type).
	ErrBadResponse = errors.New("bad response")
)

// ErrInvalidTarget: a well-formed reference that cannot be used this way
// (a layout directory that is not one, a repository where an image is
// needed, a tag to move that is a digest).
var ErrInvalidTarget = errors.New("invalid target")

// ErrUnsupported: content mlaudit does not handle (an index entry that is
// neither an image nor an index, when copying it).
var ErrUnsupported = errors.New("unsupported content")

// StatusError is a registry's answer with an unexpected HTTP status.
type StatusError struct {
	// Method and URL (without its query) of the request.
	Method, URL string
	// StatusCode is the HTTP status.
	StatusCode int
	// Code and Message come from the registry's error body, when it sent
	// one ("MANIFEST_UNKNOWN").
	Code, Message string
	kind          error
	hint          string
}

func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" || e.Message != "" {
		fmt.Fprintf(&b, " (%s", e.Code)
		if e.Message != "" {
			if e.Code != "" {
				b.WriteString(": ")
			}
			b.WriteString(truncate(e.Message, 200))
		}
		b.WriteString(")")
	}
	if e.hint != "" {
		b.WriteString(": ")
		b.WriteString(e.hint)
	}
	return b.String()
}

// Unwrap lets errors.Is match the sentinel for the status: ErrUnauthorized,
// ErrDenied, ErrRateLimited or tree.ErrMissing.
func (e *StatusError) Unwrap() error { return e.kind }

// checkResponse turns a non-2xx answer into a *StatusError, reading at most
// 64 KiB of the error body.
func checkResponse(resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	u := *resp.Request.URL
	u.RawQuery, u.User = "", nil
	e := &StatusError{Method: resp.Request.Method, URL: u.String(), StatusCode: resp.StatusCode}
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10)); err == nil && json.Unmarshal(b, &body) == nil && len(body.Errors) > 0 {
		e.Code, e.Message = body.Errors[0].Code, body.Errors[0].Message
	}
	host := resp.Request.URL.Host
	switch resp.StatusCode {
	case http.StatusNotFound:
		e.kind = tree.ErrMissing
	case http.StatusUnauthorized:
		e.kind = ErrUnauthorized
		e.hint = fmt.Sprintf("%s needs credentials; run `docker login %s` (mlaudit reads $DOCKER_CONFIG/config.json or ~/.docker/config.json and its credential helpers)", host, host)
	case http.StatusForbidden:
		e.kind = ErrDenied
		e.hint = fmt.Sprintf("the credentials for %s (from the Docker config and its credential helpers) may not read this repository", host)
	case http.StatusTooManyRequests:
		e.kind = ErrRateLimited
		e.hint = "the registry is rate limiting"
		if after, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			e.hint += fmt.Sprintf(" and asks to wait %s, longer than mlaudit waits", after.Round(time.Second))
		}
		e.hint += "; retry later, send fewer requests at once, use the cache, or log in for a higher limit"
	default:
		e.kind = ErrBadResponse
	}
	return e
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
