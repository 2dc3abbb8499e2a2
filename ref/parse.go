package ref

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
)

// forms is appended to parse errors: what a reference may look like.
const forms = "write registry/repo:tag, registry/repo@sha256:..., registry/repo for every tag, registry/ for every repository, or oci:DIR[:NAME]"

// unsupported are skopeo transports mlaudit recognises but cannot read, so
// that "oci-archive:out.tar" is not sent to Docker Hub as a repository
// called oci-archive.
var unsupported = map[string]string{
	"oci-archive":        "unpack the archive (mkdir out && tar -xf out.tar -C out) and audit oci:out",
	"docker-archive":     "load it into a registry, or save it as an OCI layout, and audit that",
	"docker-daemon":      "push the image to a registry (a local one will do) and audit it there",
	"containers-storage": "push the image to a registry (a local one will do) and audit it there",
	"dir":                "copy it into an OCI layout (skopeo copy dir:X oci:out) and audit oci:out",
}

// Parse reads one reference in any of the forms the package documents. The
// error wraps [ErrInvalid], quotes s and shows the accepted forms.
func Parse(s string) (Ref, error) {
	written := s
	s = strings.TrimSpace(s)
	if s == "" {
		return Ref{}, fmt.Errorf("%w: empty reference; %s", ErrInvalid, forms)
	}
	var r Ref
	var err error
	if rest, ok := strings.CutPrefix(s, string(Layout)+":"); ok {
		r, err = parseLayout(written, rest)
	} else {
		r, err = parseRegistry(written, strings.TrimPrefix(s, "docker://"))
	}
	if err != nil {
		return Ref{}, err
	}
	r.written = written
	return r, nil
}

func parseRegistry(written, s string) (Ref, error) {
	r, err := parseRegistryName(written, s)
	// go-containerregistry checks the length as written; "library/" may
	// push a Docker Hub name past the limit.
	if err == nil && len(r.Repository) > maxRepository {
		return Ref{}, fmt.Errorf("%w %q: the repository %s is longer than %d characters", ErrInvalid, written, r.Repository, maxRepository)
	}
	return r, err
}

// maxRepository is the longest repository name distribution accepts.
const maxRepository = 255

func parseRegistryName(written, s string) (Ref, error) {
	if scheme, _, ok := strings.Cut(s, ":"); ok && unsupported[scheme] != "" && !strings.Contains(scheme, "/") {
		return Ref{}, fmt.Errorf("%w %q: mlaudit does not read %s: references yet; %s", ErrInvalid, written, scheme, unsupported[scheme])
	}
	bad := func(err error) error {
		return fmt.Errorf("%w %q: %v; %s", ErrInvalid, written, explainName(err), forms)
	}
	if host, ok := strings.CutSuffix(s, "/"); ok && !strings.Contains(host, "/") {
		reg, err := name.NewRegistry(host)
		if err != nil || host == "" {
			return Ref{}, bad(err)
		}
		return Ref{Scheme: Registry, Registry: reg.RegistryStr()}, nil
	}
	if isRepository(s) {
		repo, err := name.NewRepository(s)
		if err != nil {
			return Ref{}, bad(err)
		}
		return Ref{Scheme: Registry, Registry: repo.RegistryStr(), Repository: repo.RepositoryStr()}, nil
	}
	r := Ref{Scheme: Registry}
	if base, d, ok := strings.Cut(s, "@"); ok {
		if _, err := digest.Parse(d); err != nil {
			return Ref{}, bad(fmt.Errorf("digest %q: %v", d, err))
		}
		r.Digest, s = d, base
	}
	var repo name.Repository
	if isRepository(s) {
		named, err := name.NewRepository(s)
		if err != nil {
			return Ref{}, bad(err)
		}
		repo = named
	} else {
		tag, err := name.NewTag(s)
		if err != nil {
			return Ref{}, bad(err)
		}
		repo, r.Tag = tag.Context(), tag.TagStr()
	}
	r.Registry, r.Repository = repo.RegistryStr(), repo.RepositoryStr()
	return r, nil
}

// isRepository reports whether s names a repository without a tag or
// digest: its last path segment has no ':' (a ':' before the first '/' is
// a registry's port).
func isRepository(s string) bool {
	if strings.Contains(s, "@") {
		return false
	}
	last := s[strings.LastIndex(s, "/")+1:]
	return !strings.Contains(last, ":")
}

// explainName rewords go-containerregistry's name errors, which speak of
// "repository" for any part.
func explainName(err error) string {
	if err == nil {
		return "not a registry host"
	}
	msg := err.Error()
	if strings.Contains(msg, "repository can only contain") {
		return "repository names are lower case letters, digits and the separators . _ - /"
	}
	return msg
}

func parseLayout(written, rest string) (Ref, error) {
	r := Ref{Scheme: Layout}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		if d, err := digest.Parse(rest[i+1:]); err == nil {
			r.Digest = d.String()
			rest = strings.TrimSuffix(rest[:i], ":") // skopeo writes oci:DIR:@sha256:...
		}
	}
	dir, tag, hasTag := strings.Cut(rest, ":")
	if hasTag && tag == "" && r.Digest != "" {
		hasTag = false // oci:DIR:@sha256:..., skopeo's form
	}
	dir = strings.TrimSpace(dir)
	if dir == "" {
		return Ref{}, fmt.Errorf("%w %q: name the layout directory, e.g. oci:./out or oci:./out:latest", ErrInvalid, written)
	}
	if hasTag {
		if err := checkTag(Layout, tag); err != nil {
			return Ref{}, fmt.Errorf("%w %q: after oci:DIR: comes the entry's ref name, e.g. oci:./out:latest", ErrInvalid, written)
		}
		r.Tag = tag
	}
	r.Path = filepath.Clean(dir)
	if strings.TrimSpace(r.Path) != r.Path {
		return Ref{}, fmt.Errorf("%w %q: the layout directory %q starts or ends with a space; rename it", ErrInvalid, written, r.Path)
	}
	return r, nil
}

// ParsePrefix reads a mirror prefix: a registry host, optionally followed
// by a path ("registry.internal", "registry.internal/mirror"). Unlike a
// reference, its first segment is always the host, and it has no tag or
// digest. The result is a repository-scoped Ref to [Ref.Rebase] onto.
func ParsePrefix(s string) (Ref, error) {
	written := s
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "docker://"), "/")
	host, path, _ := strings.Cut(s, "/")
	bad := func(why string) (Ref, error) {
		return Ref{}, fmt.Errorf("%w: mirror prefix %q: %s; write a registry host and an optional path, e.g. registry.internal/mirror", ErrInvalid, written, why)
	}
	if host == "" || strings.HasPrefix(s, string(Layout)+":") {
		return bad("no registry host")
	}
	reg, err := name.NewRegistry(host)
	if err != nil {
		return bad("the host is malformed")
	}
	r := Ref{Scheme: Registry, Registry: reg.RegistryStr(), written: written}
	if path != "" {
		if strings.ContainsAny(path, ":@") {
			return bad("a prefix has no tag or digest")
		}
		if _, err := name.NewRepository(reg.RegistryStr() + "/" + path); err != nil {
			return bad(explainName(err))
		}
		r.Repository = path // a prefix, so no implicit library/
	}
	return r, nil
}
