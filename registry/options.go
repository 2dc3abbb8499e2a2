package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/mlaudit/mlaudit/cache"
)

// Option configures a [Client].
type Option func(*options) error

// OptionError is an option given a value it cannot take. Option names the
// option as its With function does, without "With" ("Timeout").
type OptionError struct {
	Option string
	Value  any
	Reason string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("%s %v: %s", strings.ToLower(e.Option), e.Value, e.Reason)
}

type options struct {
	keychain  authn.Keychain
	insecure  map[string]bool
	timeout   time.Duration
	transport http.RoundTripper
	log       io.Writer
	jobs      int
	userAgent string
	retries   int
	budget    time.Duration
	notices   io.Writer
	cache     *cache.Dir
	tagFilter TagFilter
	listLimit int
}

// DefaultTimeout bounds one HTTP request, from sending it to reading the
// last byte of its answer.
const DefaultTimeout = 30 * time.Second

// DefaultJobs is how many requests a Client has in flight at once to one
// registry.
const DefaultJobs = 8

func makeOptions(opts ...Option) (*options, error) {
	o := &options{
		keychain:  authn.DefaultKeychain,
		insecure:  map[string]bool{},
		timeout:   DefaultTimeout,
		transport: http.DefaultTransport.(*http.Transport).Clone(),
		jobs:      DefaultJobs,
		userAgent: "mlaudit",
		retries:   DefaultRetries,
		budget:    DefaultRetryBudget,
		listLimit: DefaultListLimit,
	}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	o.keychain = quietKeychain{o.keychain}
	return o, nil
}

// WithKeychain sets where credentials come from. The default is
// authn.DefaultKeychain: the Docker config ($DOCKER_CONFIG or
// ~/.docker/config.json) and the credential helpers it names.
func WithKeychain(k authn.Keychain) Option {
	return func(o *options) error {
		if k == nil {
			return errors.New("registry: WithKeychain(nil)")
		}
		o.keychain = k
		return nil
	}
}

// quietKeychain is the keychain every Client uses: the configured one,
// whose errors become a [*CredentialError] that names the failing helper
// and its exit status but never repeats what the helper printed (Docker's
// helper client quotes its output, which can be {"Secret":"..."}).
type quietKeychain struct{ authn.Keychain }

func (k quietKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

func (k quietKeychain) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	auth, err := authn.Resolve(ctx, k.Keychain, r)
	if err != nil {
		return nil, credentialError(r.RegistryStr(), err)
	}
	return auth, nil
}

// helperFailure is what Docker's credential helper client reports before
// quoting the helper's output: "error getting credentials - err: exit
// status 1, out: `...`". Only the part Go's os/exec wrote is kept.
var helperFailure = regexp.MustCompile(`error (?:getting|storing|erasing|listing) credentials - err: (exit status \d+|signal: [a-z ]+|exec: "[^"]*": executable file not found in \$PATH|no credentials server URL|no credentials username)?`)

// credentialError turns a keychain's error into a *CredentialError.
func credentialError(registry string, err error) error {
	text := err.Error()
	m := helperFailure.FindStringSubmatch(text)
	if m == nil {
		return &CredentialError{Registry: registry, Reason: redact(firstLine(text))}
	}
	reason := m[1]
	switch {
	case reason == "":
		reason = "it failed"
	case strings.HasPrefix(reason, "exec:"):
		reason = "it is not installed: no such program on PATH"
	}
	return &CredentialError{Registry: registry, Helper: credentialHelper(registry), Reason: reason}
}

// credentialHelper names the helper the Docker config gives registry
// ($DOCKER_CONFIG/config.json, else ~/.docker/config.json): its
// credHelpers entry, else its credsStore, as Docker chooses.
func credentialHelper(registry string) string {
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".docker")
	}
	var cfg struct {
		CredsStore  string            `json:"credsStore"`
		CredHelpers map[string]string `json:"credHelpers"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil || json.Unmarshal(b, &cfg) != nil {
		return "named in the Docker config"
	}
	hosts := []string{registry}
	if registry == name.DefaultRegistry {
		hosts = append(hosts, "docker.io", "https://index.docker.io/v1/")
	}
	for _, h := range hosts {
		if helper := cfg.CredHelpers[h]; helper != "" {
			return "docker-credential-" + helper
		}
	}
	if cfg.CredsStore != "" {
		return "docker-credential-" + cfg.CredsStore
	}
	return "named in the Docker config"
}

// WithInsecure allows plain HTTP to the named registry hosts ("host" or
// "host:port"). By default only loopback registries (localhost, 127.0.0.0/8,
// [::1]) may be reached over plain HTTP.
func WithInsecure(hosts ...string) Option {
	return func(o *options) error {
		for _, h := range hosts {
			h = strings.TrimSpace(h)
			if h == "" || strings.Contains(h, "/") {
				return &OptionError{Option: "Insecure", Value: fmt.Sprintf("%q", h), Reason: "give a host or host:port, e.g. registry.lan:5000"}
			}
			o.insecure[strings.ToLower(h)] = true
		}
		return nil
	}
}

// WithTimeout bounds each HTTP request, including reading its body. The
// default is [DefaultTimeout].
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return &OptionError{Option: "Timeout", Value: d, Reason: "must be positive, e.g. 30s"}
		}
		o.timeout = d
		return nil
	}
}

// WithTransport sets the base HTTP transport, under mlaudit's own layers
// (timeouts, request counting, logging, authentication). The default is a
// clone of http.DefaultTransport.
func WithTransport(t http.RoundTripper) Option {
	return func(o *options) error {
		if t == nil {
			return errors.New("registry: WithTransport(nil)")
		}
		o.transport = t
		return nil
	}
}

// WithLog writes one line per HTTP request (method, URL without its query,
// status, duration) to w. Headers, and so credentials, are never written.
// The default writes nothing.
func WithLog(w io.Writer) Option {
	return func(o *options) error {
		o.log = w
		return nil
	}
}

// WithJobs sets how many requests may be in flight at once to one
// registry. The default is [DefaultJobs].
func WithJobs(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return &OptionError{Option: "Jobs", Value: n, Reason: "must be at least 1"}
		}
		o.jobs = n
		return nil
	}
}

// WithUserAgent sets the User-Agent sent to registries. The default is
// "mlaudit".
func WithUserAgent(ua string) Option {
	return func(o *options) error {
		o.userAgent = ua
		return nil
	}
}

// WithRetry sets how many times a failed GET or HEAD is tried again (0 for
// never) and the most time spent waiting between tries, Retry-After
// included. The defaults are [DefaultRetries] and [DefaultRetryBudget].
func WithRetry(retries int, budget time.Duration) Option {
	return func(o *options) error {
		if retries < 0 || budget < 0 {
			return &OptionError{Option: "Retry", Value: fmt.Sprintf("%d (budget %s)", retries, budget), Reason: "neither may be negative"}
		}
		o.retries, o.budget = retries, budget
		return nil
	}
}

// WithNotices writes notices a user should see even without -v (a
// registry's pull allowance running low) to w. The default writes nothing.
func WithNotices(w io.Writer) Option {
	return func(o *options) error {
		o.notices = w
		return nil
	}
}

// WithCache keeps verified manifests and configs in d, by digest, across
// runs: a repeat audit of unchanged tags then makes only HEAD requests. A
// nil d caches nothing beyond the run, which is the default.
func WithCache(d *cache.Dir) Option {
	return func(o *options) error {
		o.cache = d
		return nil
	}
}

// WithListLimit sets how many entries a tag list or catalog may hold
// before mlaudit stops reading it and reports the target as an error
// (default [DefaultListLimit]).
func WithListLimit(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return &OptionError{Option: "ListLimit", Value: n, Reason: "must be at least 1"}
		}
		o.listLimit = n
		return nil
	}
}
