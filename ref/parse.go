package ref

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
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
	if err == nil {
		if herr := checkHost(r.Registry); herr != nil {
			return Ref{}, fmt.Errorf("%w %q: %v", ErrInvalid, written, herr)
		}
		if r.Repository != "" && !repositoryPath.MatchString(r.Repository) {
			return Ref{}, fmt.Errorf("%w %q: the repository %q has an empty part or a separator at the start or end of a part; %s", ErrInvalid, written, r.Repository, pathRule)
		}
	}
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

// repositoryPath is distribution's grammar for a repository path, which
// go-containerregistry checks only character by character ("a//b", "/app"
// and "//" pass it, the last as a Docker Hub repository).
var repositoryPath = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)

// pathRule says what repositoryPath accepts.
const pathRule = "each part between slashes is lower case letters and digits, joined by one '.', one or two '_', or dashes, e.g. org/app"

// checkHost refuses registry hosts that go-containerregistry lets through
// but no registry can have, before anything looks them up: characters
// outside a host name or IP address (a byte-order mark, full-width
// letters or digits, an IPv6 zone) and ports outside 1-65535.
func checkHost(host string) error {
	name, port, hasPort := host, "", false
	if rest, ok := strings.CutPrefix(host, "["); ok {
		addr, after, ok := strings.Cut(rest, "]")
		ip, err := netip.ParseAddr(addr)
		if !ok || err != nil || !ip.Is6() || ip.Zone() != "" {
			return fmt.Errorf("the registry host %s is not an IPv6 address in brackets (without a zone), e.g. [::1]:5000", host)
		}
		if after != "" {
			if port, hasPort = strings.CutPrefix(after, ":"); !hasPort {
				return fmt.Errorf("the registry host %s has %q after its address; write [ADDRESS]:PORT", host, after)
			}
		}
	} else {
		name, port, hasPort = strings.Cut(host, ":")
		if i := strings.IndexFunc(name, func(c rune) bool {
			return !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_')
		}); i >= 0 || name == "" {
			what := "is empty"
			if i >= 0 {
				what = fmt.Sprintf("holds %q", []rune(name[i:])[0])
			}
			return fmt.Errorf("the registry host %q %s: a host is ASCII letters, digits, '-' and '.' (retype it, or remove an invisible byte-order mark)", name, what)
		}
	}
	if hasPort {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strings.TrimLeft(port, "0123456789") != "" {
			return fmt.Errorf("the registry port %q is not a port: ports are 1 to 65535, e.g. localhost:5000/app:1", port)
		}
	}
	return nil
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
	if err := checkHost(reg.RegistryStr()); err != nil {
		return bad(err.Error())
	}
	r := Ref{Scheme: Registry, Registry: reg.RegistryStr(), written: written}
	if path != "" {
		if strings.ContainsAny(path, ":@") {
			return bad("a prefix has no tag or digest")
		}
		if _, err := name.NewRepository(reg.RegistryStr() + "/" + path); err != nil {
			return bad(explainName(err))
		}
		if !repositoryPath.MatchString(path) {
			return bad(pathRule)
		}
		r.Repository = path // a prefix, so no implicit library/
	}
	return r, nil
}
