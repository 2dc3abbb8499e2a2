package registry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

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
