package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/repair"
)

// advice says which of cmd's flags helps with err, for the errors the
// packages report in neutral terms; "" when none does.
func advice(cmd *cobra.Command, err error) string {
	var timeout *registry.TimeoutError
	var plain *registry.PlainHTTPError
	switch {
	case errors.As(err, &timeout):
		return "raise --timeout"
	case errors.As(err, &plain):
		return fmt.Sprintf("pass --insecure-registry %s if it really serves plain HTTP", plain.Host)
	case errors.Is(err, registry.ErrRateLimited) && cmd.Flags().Lookup("jobs") != nil:
		return "lower --jobs"
	case errors.Is(err, repair.ErrNoSources):
		return "name images with --from or --per-arch"
	}
	return ""
}

// advise appends advice to an error.
func advise(cmd *cobra.Command, err error) error {
	if a := advice(cmd, err); a != "" {
		return fmt.Errorf("%w (%s)", err, a)
	}
	return err
}

// adviseResult appends advice to the messages of targets not audited.
func adviseResult(cmd *cobra.Command, r *audit.Result) {
	for i, e := range r.Errors {
		if a := advice(cmd, e.Err); a != "" {
			r.Errors[i].Message += " (" + a + ")"
		}
	}
}
