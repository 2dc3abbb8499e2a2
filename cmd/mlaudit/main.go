// Command mlaudit audits and repairs multi-arch container images in OCI and
// Docker registries. See `mlaudit --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// What a release build sets with -ldflags "-X main.version=v1.2.3
// -X main.commit=... -X main.date=..." (goreleaser's defaults). Only
// buildVersion reads them; the commands are given its result.
var version, commit, date string

// versionInfo says which mlaudit this is.
type versionInfo struct {
	Version, Commit, Date string
	Modified              bool // built from a checkout with changes
}

// String is "v1.2.3 (commit 0123abc, built 2026-12-01T10:00:00Z)".
func (v versionInfo) String() string {
	s := v.Version
	var more []string
	if v.Commit != "" {
		c := v.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		if v.Modified {
			c += ", modified"
		}
		more = append(more, "commit "+c)
	}
	if v.Date != "" {
		more = append(more, "built "+v.Date)
	}
	if len(more) > 0 {
		s += " (" + strings.Join(more, ", ") + ")"
	}
	return s
}

// buildVersion is what -ldflags set, completed from what go build
// recorded: the module version (go install .../cmd/mlaudit@v1.2.3) and the
// VCS revision and time (a build in a checkout). A plain build in a
// checkout is "(devel)".
func buildVersion() versionInfo {
	v := versionInfo{Version: version, Commit: commit, Date: date}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.time":
				if v.Date == "" {
					v.Date = s.Value
				}
			case "vcs.modified":
				v.Modified = s.Value == "true" && commit == ""
			}
		}
	}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	return v
}
