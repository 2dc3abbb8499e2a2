package main

import (
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mlaudit/mlaudit/cache"
	"github.com/mlaudit/mlaudit/deep"
	"github.com/mlaudit/mlaudit/registry"
)

// registryFlags are the flags every command that talks to registries has.
type registryFlags struct {
	timeout  time.Duration
	insecure []string
	verbose  bool
	cacheDir string
	noCache  bool
	retries  int
}

func (r *registryFlags) add(fl *pflag.FlagSet) {
	fl.DurationVar(&r.timeout, "timeout", registry.DefaultTimeout, "time limit for each HTTP request, including reading its body")
	fl.StringSliceVar(&r.insecure, "insecure-registry", nil, "allow plain HTTP to this registry host[:port] (repeatable); loopback registries always may")
	fl.BoolVarP(&r.verbose, "verbose", "v", false, "log every HTTP request to standard error (never headers or credentials)")
	fl.StringVar(&r.cacheDir, "cache-dir", "", "keep verified manifests and configs here across runs (default: the user cache dir, e.g. ~/.cache/mlaudit)")
	fl.BoolVar(&r.noCache, "no-cache", false, "use no cache: fetch and verify every manifest and config again")
	fl.IntVar(&r.retries, "retries", registry.DefaultRetries, "times a GET or HEAD is retried after 408, 429, 5xx or a reset connection (0 for never); waits honour Retry-After, 2 minutes at most in all")
}

// options turns the flags into registry options; more are appended.
func (r *registryFlags) options(cmd *cobra.Command, more ...registry.Option) []registry.Option {
	opts := append([]registry.Option{registry.WithTimeout(r.timeout), registry.WithInsecure(r.insecure...), registry.WithNotices(cmd.ErrOrStderr()),
		registry.WithRetry(r.retries, registry.DefaultRetryBudget)}, more...)
	if r.verbose {
		opts = append(opts, registry.WithLog(cmd.ErrOrStderr()))
	}
	if dir := r.dir(); dir != "" {
		opts = append(opts, registry.WithCache(dir))
	}
	return opts
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

// store is the cache for deep-check summaries, or nil for none.
func (r *registryFlags) store() deep.Store {
	if dir := r.dir(); dir != "" {
		if d, err := cache.Open(dir); err == nil {
			return d
		}
	}
	return nil
}
