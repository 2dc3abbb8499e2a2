package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mlaudit/mlaudit/cache"
	"github.com/mlaudit/mlaudit/registry"
)

// registryFlags are the flags every command that talks to registries has.
type registryFlags struct {
	timeout   time.Duration
	insecure  []string
	verbose   bool
	cacheDir  string
	noCache   bool
	retries   int
	listLimit int
}

func (r *registryFlags) add(fl *pflag.FlagSet) {
	fl.DurationVar(&r.timeout, "timeout", registry.DefaultTimeout, "time limit for each HTTP request, including reading its body")
	fl.StringSliceVar(&r.insecure, "insecure-registry", nil, "allow plain HTTP to this registry host[:port] (repeatable); loopback registries always may")
	fl.BoolVarP(&r.verbose, "verbose", "v", false, "log every HTTP request to standard error (never headers or credentials)")
	fl.StringVar(&r.cacheDir, "cache-dir", "", "keep verified manifests and configs here across runs (default: the user cache dir, e.g. ~/.cache/mlaudit)")
	fl.BoolVar(&r.noCache, "no-cache", false, "use no cache: fetch and verify every manifest and config again")
	fl.IntVar(&r.listLimit, "list-limit", registry.DefaultListLimit, "stop reading a tag list or catalog after this many entries: that target is an error, the others go on")
	fl.IntVar(&r.retries, "retries", registry.DefaultRetries, "times a GET or HEAD is retried after 408, 429, 5xx or a reset connection (0 for never); waits honour Retry-After, 2 minutes at most in all")
}

// optionFlags names the flag behind each registry option, for errors.
var optionFlags = map[string]string{
	"Insecure":  "--insecure-registry",
	"Timeout":   "--timeout",
	"Jobs":      "--jobs",
	"Retry":     "--retries",
	"ListLimit": "--list-limit",
}

// session is what the registry flags set up for one command: the options
// to make clients with, and the cache they share (nil for none).
type session struct {
	options []registry.Option
	cache   *cache.Dir
}

// open turns the flags into registry options (more are appended) and opens
// the cache. Errors name the flag.
func (r *registryFlags) open(cmd *cobra.Command, more ...registry.Option) (*session, error) {
	s := &session{}
	if dir := r.dir(); dir != "" {
		// A cache only saves requests: one that cannot be used (a
		// read-only home in a container) is a warning, not a failed run.
		d, err := cache.Open(dir)
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "mlaudit: warning: --cache-dir: %v; running without a cache (pass --no-cache to say so)\n", err)
		}
		s.cache = d
	}
	s.options = append([]registry.Option{registry.WithTimeout(r.timeout), registry.WithInsecure(r.insecure...), registry.WithNotices(cmd.ErrOrStderr()),
		registry.WithRetry(r.retries, registry.DefaultRetryBudget), registry.WithCache(s.cache), registry.WithListLimit(r.listLimit)}, more...)
	if r.verbose {
		s.options = append(s.options, registry.WithLog(cmd.ErrOrStderr()))
	}
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	c.Close()
	return s, nil
}

// client makes a client; each has its own request counts. The caller
// closes it.
func (s *session) client() (*registry.Client, error) {
	c, err := registry.New(s.options...)
	var oe *registry.OptionError
	if errors.As(err, &oe) && optionFlags[oe.Option] != "" {
		return nil, fmt.Errorf("%s %v: %s", optionFlags[oe.Option], oe.Value, oe.Reason)
	}
	return c, err
}

// dir is the cache directory in use, or "" for none.
func (r *registryFlags) dir() string {
	if r.noCache {
		return ""
	}
	if r.cacheDir != "" {
		return r.cacheDir
	}
	dir, _ := cache.DefaultDir() // no user cache dir: run without one
	return dir
}
