package registry

import (
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// TargetKind says what a target names.
type TargetKind int

const (
	// KindImage is one tag or digest: "registry/repo:tag", "registry/repo@sha256:...".
	KindImage TargetKind = iota
	// KindRepository is every tag of a repository: "registry/repo".
	KindRepository
	// KindLayout is an OCI image layout directory: "oci:DIR" (every entry
	// of its index.json) or "oci:DIR:TAG" (the entry named TAG).
	KindLayout
	// KindRegistry is every repository of a registry, as its catalog
	// lists them: "registry/" (the trailing slash says so).
	KindRegistry
)

// LayoutPrefix starts a target that names an OCI image layout.
const LayoutPrefix = "oci:"

// Target is a parsed audit target.
type Target struct {
	// Raw is the target as the user wrote it.
	Raw  string
	Kind TargetKind
	// Ref is set for KindImage.
	Ref name.Reference
	// Repo is set for KindImage and KindRepository.
	Repo name.Repository
	// Registry is set for KindRegistry.
	Registry name.Registry
	// Dir and Tag are set for KindLayout. Tag is a ref name or a digest,
	// or empty for every entry of index.json.
	Dir, Tag string
}

// ParseTarget reads one target. A malformed one gives an error wrapping
// ErrInvalidTarget that names it and shows the accepted forms.
func (c *Client) ParseTarget(s string) (Target, error) {
	raw := s
	s = strings.TrimSpace(s)
	if s == "" {
		return Target{}, fmt.Errorf("%w: empty target; write registry/repo:tag, registry/repo, or oci:DIR[:TAG]", ErrInvalidTarget)
	}
	if strings.HasPrefix(s, LayoutPrefix) {
		return parseLayoutTarget(raw, strings.TrimPrefix(s, LayoutPrefix))
	}
	opts := c.nameOptions(s)
	if host, ok := strings.CutSuffix(s, "/"); ok && !strings.Contains(host, "/") {
		reg, err := name.NewRegistry(host, opts...)
		if err != nil {
			return Target{}, fmt.Errorf("%w %q: %v; write REGISTRY/ for every repository of a registry", ErrInvalidTarget, raw, err)
		}
		return Target{Raw: raw, Kind: KindRegistry, Registry: reg}, nil
	}
	if isRepository(s) {
		repo, err := name.NewRepository(s, opts...)
		if err != nil {
			return Target{}, fmt.Errorf("%w %q: %v; write registry/repo:tag, registry/repo@sha256:..., or registry/repo for every tag", ErrInvalidTarget, raw, err)
		}
		return Target{Raw: raw, Kind: KindRepository, Repo: repo}, nil
	}
	ref, err := name.ParseReference(s, opts...)
	if err != nil {
		return Target{}, fmt.Errorf("%w %q: %v; write registry/repo:tag, registry/repo@sha256:..., or registry/repo for every tag", ErrInvalidTarget, raw, err)
	}
	return Target{Raw: raw, Kind: KindImage, Ref: ref, Repo: ref.Context()}, nil
}

// isRepository reports whether s names a repository without a tag or digest.
func isRepository(s string) bool {
	if strings.Contains(s, "@") {
		return false
	}
	last := s[strings.LastIndex(s, "/")+1:]
	return !strings.Contains(last, ":")
}

func parseLayoutTarget(raw, rest string) (Target, error) {
	if rest == "" {
		return Target{}, fmt.Errorf("%w %q: name the layout directory, e.g. oci:./out or oci:./out:latest", ErrInvalidTarget, raw)
	}
	dir, tag := splitLayout(rest)
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return Target{}, fmt.Errorf("%w %q: %s is not a directory; give the folder written by `buildx --output type=oci,dest=...` (unpacked) or another OCI layout", ErrInvalidTarget, raw, dir)
	}
	if _, err := os.Stat(dir + "/index.json"); err != nil {
		return Target{}, fmt.Errorf("%w %q: %s has no index.json, so it is not an OCI image layout", ErrInvalidTarget, raw, dir)
	}
	return Target{Raw: raw, Kind: KindLayout, Dir: dir, Tag: tag}, nil
}

// nameOptions marks a reference insecure (plain HTTP allowed) when its host
// is loopback or named with WithInsecure.
func (c *Client) nameOptions(s string) []name.Option {
	host := s
	if i := strings.Index(host, "/"); i >= 0 {
		host = host[:i]
	}
	policy := schemePolicy{insecure: c.opts.insecure}
	if policy.allowed(host) {
		return []name.Option{name.Insecure}
	}
	return nil
}

// splitLayout splits "DIR", "DIR:TAG" or "DIR@sha256:..." (the part after
// "oci:"). Ref names may hold colons ("docker.io/library/app:1.0"), so the
// split is at the first colon whose left side is an existing directory;
// when none is (a layout about to be written), at the last colon.
func splitLayout(rest string) (dir, tag string) {
	if i := strings.LastIndex(rest, "@sha256:"); i > 0 {
		return rest[:i], rest[i+1:]
	}
	if isDir(rest) {
		return rest, ""
	}
	for i := strings.Index(rest, ":"); i > 0; {
		if isDir(rest[:i]) {
			return rest[:i], rest[i+1:]
		}
		j := strings.Index(rest[i+1:], ":")
		if j < 0 {
			break
		}
		i += j + 1
	}
	if i := strings.LastIndex(rest, ":"); i > 0 {
		return rest[:i], rest[i+1:]
	}
	return rest, ""
}

func isDir(p string) bool {
	info, err := os.Stat(p)
	return err == nil && info.IsDir()
}
