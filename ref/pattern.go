package ref

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Pattern matches repositories: a glob over registry/repository as
// path.Match reads it ('*' does not cross '/'), normalized as references
// are. "docker.io/library/*", "index.docker.io/library/*" and "library/*"
// are one pattern, and "alpine" is index.docker.io/library/alpine. A
// pattern whose first segment is not a host (no '.' or ':', not
// localhost) is on Docker Hub, as in docker pull. "oci:DIR" patterns match
// layout directories.
type Pattern struct {
	scheme     Scheme
	registry   string
	repository string
	path       string
	written    string
}

// ParsePattern reads a repository pattern. Malformed globs, upper-case
// names and patterns with a tag or digest are errors wrapping
// [ErrInvalid], so that a typo never leaves a rule that matches nothing.
func ParsePattern(s string) (Pattern, error) {
	written := s
	s = strings.TrimSpace(s)
	bad := func(why string) (Pattern, error) {
		return Pattern{}, fmt.Errorf("%w: repository pattern %q: %s", ErrInvalid, written, why)
	}
	if s == "" {
		return bad("empty; give a glob over registry/repository, e.g. ghcr.io/org/*")
	}
	if dir, ok := strings.CutPrefix(s, string(Layout)+":"); ok {
		if _, err := path.Match(dir, ""); err != nil || dir == "" {
			return bad("not a glob over a layout directory, e.g. oci:./out*")
		}
		return Pattern{scheme: Layout, path: filepath.Clean(dir), written: written}, nil
	}
	s = strings.TrimPrefix(s, "docker://")
	if _, err := path.Match(s, ""); err != nil {
		return bad("not a glob: " + err.Error())
	}
	if strings.ContainsAny(s, "@") || strings.Contains(s[strings.LastIndex(s, "/")+1:], ":") {
		return bad("a pattern names repositories, not tags or digests; narrow by tag with tags:")
	}
	if strings.ToLower(s) != s {
		return bad("repository names are lower case, so this pattern would match nothing")
	}
	host, repo := "", s
	if first, rest, ok := strings.Cut(s, "/"); ok {
		switch {
		case first == "localhost" || strings.ContainsAny(first, ".:"):
			host, repo = first, rest
		case strings.ContainsAny(first, "*?["):
			// "*/org/*" could mean any registry or a Docker Hub namespace;
			// either reading would silently miss what the other matches.
			return bad("the first segment " + first + " is a wildcard that could be a registry or a Docker Hub namespace; write a host glob with a dot (*.io/org/*, *.example.com/org/*) or docker.io/" + s)
		}
	}
	if repo == "" {
		return bad("give the repository part too, e.g. " + host + "/*")
	}
	if !strings.ContainsAny(host, "*?[") {
		reg, err := name.NewRegistry(host)
		if err != nil {
			return bad("the registry host is malformed")
		}
		host = reg.RegistryStr()
	}
	if host == name.DefaultRegistry && !strings.Contains(repo, "/") {
		repo = "library/" + repo
	}
	return Pattern{scheme: Registry, registry: host, repository: repo, written: written}, nil
}

// Match reports whether r's repository (or layout directory) matches. A
// registry pattern also matches an image of the local Docker engine
// (docker-daemon:) of that name: the engine names its images as the
// registry does, so a policy for ghcr.io/org/* applies to a build of
// ghcr.io/org/app before it is pushed.
func (p Pattern) Match(r Ref) bool {
	if p.scheme != r.Scheme && (p.scheme != Registry || r.Scheme != DockerDaemon) {
		return false
	}
	if p.scheme == Layout {
		ok, _ := path.Match(p.path, r.Path)
		return ok
	}
	host, _ := path.Match(p.registry, r.Registry)
	repo, _ := path.Match(p.repository, r.Repository)
	return host && repo
}

// String is the canonical pattern: "index.docker.io/library/*".
func (p Pattern) String() string {
	if p.scheme == Layout {
		return string(Layout) + ":" + p.path
	}
	return p.registry + "/" + p.repository
}

// Written is the pattern as written.
func (p Pattern) Written() string { return p.written }
