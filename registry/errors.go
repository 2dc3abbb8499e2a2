package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

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

// ErrArchiveChanged: an OCI archive (oci-archive:FILE) was replaced by
// another program after mlaudit read it; it was not written, so that what
// the other program wrote is not lost. Read it again (run the repair
// again).
var ErrArchiveChanged = errors.New("the archive changed since it was read")

// ErrUnsupported: content mlaudit does not handle (an index entry that is
// neither an image nor an index, when copying it).
var ErrUnsupported = errors.New("unsupported content")

// CredentialError is a failure to read the credentials for a registry
// from the Docker config or its credential helper. It never holds what the
// helper printed: a failing helper may print the secret itself.
type CredentialError struct {
	// Registry is the registry whose credentials were wanted.
	Registry string
	// Helper is the credential helper that failed
	// ("docker-credential-pass"), or "" when the Docker config could not
	// be read.
	Helper string
	// Reason is how it failed: the helper's exit status ("exit status 1"),
	// that it is not installed, or why the Docker config could not be read.
	Reason string
}

func (e *CredentialError) Error() string {
	if e.Helper == "" {
		return fmt.Sprintf("reading the Docker config for %s: %s", e.Registry, e.Reason)
	}
	return fmt.Sprintf("the credential helper %s failed (%s); its output is not shown, as it may hold secrets: check the helper, or run `docker login %s`", e.Helper, e.Reason, e.Registry)
}

// StatusError is a registry's answer with an unexpected HTTP status.
type StatusError struct {
	// Method and URL (without its query) of the request.
	Method, URL string
	// StatusCode is the HTTP status.
	StatusCode int
	// Code and Message come from the registry's error body, when it sent
	// one ("MANIFEST_UNKNOWN"), passed through [sanitize]: one line, 200
	// characters at most, credentials removed.
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
			b.WriteString(e.Message)
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
		sent := sentCredentials(resp.Request)
		e.Code, e.Message = sanitize(body.Errors[0].Code, sent...), sanitize(body.Errors[0].Message, sent...)
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

// maxRegistryText is how much of a registry's own text (an error body's
// message) an error keeps.
const maxRegistryText = 200

// redacted replaces what [sanitize] removes.
const redacted = "[redacted]"

// credentialShapes are what sanitize removes, in order, each replaced by
// its replacement: credentials in URLs, Bearer/Basic/Token credentials,
// JWTs, JSON fields and key=value parameters named like secrets, and long
// base64 runs after a word about authentication.
var credentialShapes = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`://[^/\s:@]+:[^/\s@]+@`), "://" + redacted + "@"},
	{regexp.MustCompile(`(?i)\b(bearer|basic|token|negotiate)(\s+)[A-Za-z0-9._~+/=-]{8,}`), "${1}${2}" + redacted},
	{regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,2}`), redacted},
	{regexp.MustCompile(`(?i)("[a-z_-]*(?:secret|password|passwd|token|auth|credential|api[_-]?key)[a-z_-]*"\s*:\s*)"(?:[^"\\]|\\.)*"?`), `${1}"` + redacted + `"`},
	{regexp.MustCompile(`(?i)\b([a-z_-]*(?:secret|password|passwd|pwd|token|api[_-]?key|credential|authorization)[a-z_-]*)(\s*=\s*)("[^"]*"?|'[^']*'?|[^\s&,;"'\]\[)}]+)`), "${1}${2}" + redacted},
	{regexp.MustCompile(`(?i)\b([a-z_-]*(?:secret|password|passwd|api[_-]?key)[a-z_-]*)(\s*:\s*)("[^"]*"?|'[^']*'?|[^\s&,;"'\]\[)}]+)`), "${1}${2}" + redacted},
	{regexp.MustCompile(`(?i)\b((?:auth|login|cred|secret|key|token|pass|session|cookie)[a-z_-]*\W{1,3})[A-Za-z0-9+/_-]{16,}={0,2}`), "${1}" + redacted},
}

// sanitize reduces text from outside mlaudit (a registry's error message,
// a token server's answer) to what an error may carry: its first line,
// each of known (the credential the request carried) and anything
// credential-shaped replaced by "[redacted]", and at most 200 characters.
// It is the one place such text is cleaned of secrets; every error that
// carries a registry's words passes them through it. (Escaping what is
// left for a terminal is internal/safetext's job, where text is printed.)
func sanitize(text string, known ...string) string {
	return truncate(redact(firstLine(text), known...), maxRegistryText)
}

// redact replaces known values and credential shapes in s.
func redact(s string, known ...string) string {
	for _, k := range known {
		if len(k) >= 4 {
			s = strings.ReplaceAll(s, k, redacted)
		}
	}
	for _, c := range credentialShapes {
		s = c.re.ReplaceAllString(s, c.with)
	}
	return s
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return strings.TrimSpace(s[:i]) + " ..."
	}
	return s
}

// truncate cuts s to n bytes at most, on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// sentCredentials are the credentials req carried in its Authorization
// header ("Bearer tok" gives "tok"; Basic also gives the password and
// user:password it encodes), for sanitize to remove wherever a registry
// echoes them, whatever their shape.
func sentCredentials(req *http.Request) []string {
	if req == nil {
		return nil
	}
	var out []string
	if user, pass, ok := req.BasicAuth(); ok {
		out = append(out, user+":"+pass, pass)
	}
	h := req.Header.Get("Authorization")
	if _, cred, ok := strings.Cut(h, " "); ok {
		return append(out, strings.TrimSpace(cred))
	}
	return append(out, h)
}

// sanitizeError returns err with its text cleaned for showing: the text
// of a go-containerregistry *transport.Error in it (a ping's or a token
// server's answer, which quotes the body) is replaced by its request and
// status with the registry's words passed through [sanitize], and the
// whole is redacted. errors.Is and errors.As still see err.
func sanitizeError(err error) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	var te *transport.Error
	if errors.As(err, &te) {
		text = strings.Replace(text, te.Error(), transportErrorText(te), 1)
	}
	return &sanitizedError{text: redact(text), err: err}
}

// transportErrorText is what a *transport.Error says, with the
// registry's words (its diagnostics or raw body) sanitized.
func transportErrorText(te *transport.Error) string {
	var b strings.Builder
	var sent []string
	if te.Request != nil {
		u := *te.Request.URL
		u.RawQuery, u.User = "", nil
		fmt.Fprintf(&b, "%s %s: ", te.Request.Method, u.String())
		sent = sentCredentials(te.Request)
	}
	fmt.Fprintf(&b, "%d %s", te.StatusCode, http.StatusText(te.StatusCode))
	var said []string
	for _, d := range te.Errors {
		said = append(said, string(d.Code)+": "+d.Message)
	}
	if len(said) == 0 {
		// The raw body is only in the text: after "unexpected status
		// code NNN Text: ".
		full := te.Error()
		if _, body, ok := strings.Cut(full, http.StatusText(te.StatusCode)+": "); ok {
			said = append(said, body)
		}
	}
	if len(said) > 0 {
		b.WriteString(" (" + sanitize(strings.Join(said, "; "), sent...) + ")")
	}
	return b.String()
}

// sanitizedError is an error whose text was cleaned by sanitizeError.
type sanitizedError struct {
	text string
	err  error
}

func (e *sanitizedError) Error() string { return e.text }
func (e *sanitizedError) Unwrap() error { return e.err }
