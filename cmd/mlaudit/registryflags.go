package main

import (
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mlaudit/mlaudit/registry"
)

// registryFlags are the flags every command that talks to registries has.
type registryFlags struct {
	timeout  time.Duration
	insecure []string
	verbose  bool
}

func (r *registryFlags) add(fl *pflag.FlagSet) {
	fl.DurationVar(&r.timeout, "timeout", registry.DefaultTimeout, "time limit for each HTTP request, including reading its body")
	fl.StringSliceVar(&r.insecure, "insecure-registry", nil, "allow plain HTTP to this registry host[:port] (repeatable); loopback registries always may")
	fl.BoolVarP(&r.verbose, "verbose", "v", false, "log every HTTP request to standard error (never headers or credentials)")
}

// options turns the flags into registry options; more are appended.
func (r *registryFlags) options(cmd *cobra.Command, more ...registry.Option) []registry.Option {
	opts := append([]registry.Option{registry.WithTimeout(r.timeout), registry.WithInsecure(r.insecure...)}, more...)
	if r.verbose {
		opts = append(opts, registry.WithLog(cmd.ErrOrStderr()))
	}
	return opts
}
