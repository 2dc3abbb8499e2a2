package ref

import (
	"fmt"
	"net/netip"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
)

// forms is appended to parse errors: what a reference may look like.
const forms = "write registry/repo:tag, registry/repo@sha256:..., registry/repo for every tag, registry/ for every repository, oci:DIR[:NAME], oci-archive:FILE[:NAME], docker-archive:FILE[:REF] or docker-daemon:REF"

// unsupported are skopeo transports mlaudit recognises but cannot read, so
// that "containers-storage:app:1" is not sent to Docker Hub as a
// repository called containers-storage.
var unsupported = map[string]string{
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
		r, err = parseFile(written, rest, Layout)
	} else if rest, ok := strings.CutPrefix(s, string(OCIArchive)+":"); ok {
		r, err = parseFile(written, rest, OCIArchive)
	} else if rest, ok := strings.CutPrefix(s, string(DockerArchive)+":"); ok {
		r, err = parseFile(written, rest, DockerArchive)
	} else if rest, ok := strings.CutPrefix(s, string(DockerDaemon)+":"); ok {
		r, err = parseDaemon(written, rest)
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
	if err := checkTransport(written, s); err != nil {
		return Ref{}, err
	}
	if s == "-" {
		return Ref{}, fmt.Errorf("%w %q: standard input is read as an archive; did you mean oci-archive:- (buildx --output type=oci,dest=-, skopeo, ctr export) or docker-archive:- (docker save)?", ErrInvalid, written)
	}
	if looksLikePath(s) {
		return Ref{}, PathError(written, strings.HasSuffix(s, "/") || !strings.Contains(path.Base(s), "."))
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

func parseFile(written, rest string, scheme Scheme) (Ref, error) {
	r := Ref{Scheme: scheme}
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
	what, example, after := "the layout directory", "oci:./out or oci:./out:latest", "oci:DIR: comes the entry's ref name, e.g. oci:./out:latest"
	switch scheme {
	case OCIArchive:
		what, example, after = "the archive file (- for standard input)", "oci-archive:out.tar or oci-archive:out.tar:latest", "oci-archive:FILE: comes the entry's ref name, e.g. oci-archive:out.tar:latest"
	case DockerArchive:
		what, example, after = "the archive file (- for standard input)", "docker-archive:save.tar or docker-archive:save.tar:app:1.0", "docker-archive:FILE: comes the image's name as docker save was given it, e.g. docker-archive:save.tar:app:1.0"
	}
	dir = strings.TrimSpace(dir)
	if dir == "" {
		return Ref{}, fmt.Errorf("%w %q: name %s, e.g. %s", ErrInvalid, written, what, example)
	}
	if hasTag {
		if err := checkTag(scheme, tag); err != nil {
			return Ref{}, fmt.Errorf("%w %q: after %s", ErrInvalid, written, after)
		}
		if scheme == DockerArchive {
			if _, err := name.ParseReference(tag); err != nil {
				return Ref{}, fmt.Errorf("%w %q: after %s (%v)", ErrInvalid, written, after, explainName(err))
			}
		}
		r.Tag = tag
	}
	r.Path = filepath.Clean(dir)
	if strings.TrimSpace(r.Path) != r.Path {
		return Ref{}, fmt.Errorf("%w %q: %s %q starts or ends with a space; rename it", ErrInvalid, written, what, r.Path)
	}
	return r, nil
}

// parseDaemon reads what follows "docker-daemon:": an image as docker
// names it (NAME[:TAG], NAME@sha256:..., NAME:TAG@sha256:...), checked and
// normalized as a registry reference is. A bare name is NAME:latest, as
// docker reads it; a repository alone names nothing in an engine.
func parseDaemon(written, rest string) (Ref, error) {
	const example = "docker-daemon:app:1.0 or docker-daemon:ghcr.io/org/app@sha256:..."
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return Ref{}, fmt.Errorf("%w %q: name the image the Docker engine holds, e.g. %s", ErrInvalid, written, example)
	}
	if strings.HasSuffix(rest, "/") {
		return Ref{}, fmt.Errorf("%w %q: after docker-daemon: comes one image, not a registry, e.g. %s", ErrInvalid, written, example)
	}
	r, err := parseRegistry(written, rest)
	if err != nil {
		return Ref{}, err
	}
	r.Scheme = DockerDaemon
	if !r.IsImage() {
		r.Tag = "latest"
	}
	return r, nil
}

// transports are the prefixes Parse reads, for the error about others.
const transports = "docker://, oci:, oci-archive:, docker-archive: or docker-daemon:"

// transportPrefix is a URL scheme or skopeo transport: "foo:" before a
// "/" in "foo:bar/baz", where bar is not a port.
var transportPrefix = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*):([^/]*)/`)

// checkTransport refuses a reference that starts with a transport mlaudit
// does not know ("foo:bar/baz", "https://ghcr.io/org/app"), which
// go-containerregistry would take for a registry host with a bad port. A
// host with a port ("localhost:5000/app") and a Docker Hub tag
// ("alpine:3") are not transports.
func checkTransport(written, s string) error {
	m := transportPrefix.FindStringSubmatch(s)
	if m == nil || (m[2] != "" && strings.Trim(m[2], "0123456789") == "") {
		return nil
	}
	if strings.Contains(m[1], ".") && m[2] != "" {
		return nil // host.example:bad/x: checkHost explains the port
	}
	if scheme := strings.ToLower(m[1]); scheme == "http" || scheme == "https" {
		return fmt.Errorf("%w %q: a reference is not a URL; drop %s://, e.g. %s", ErrInvalid, written, scheme, strings.TrimLeft(s[len(m[1])+1:], "/"))
	}
	return fmt.Errorf("%w %q: unknown transport %q; mlaudit reads %s references", ErrInvalid, written, m[1]+":", transports)
}

// looksLikePath reports whether s, read as a registry reference, is
// written as a file or directory: "./out.tar", "../out", "/tmp/out",
// "~/out", "out\\x", a name ending in .tar (.tar.gz, .tgz), or "out/" where
// out cannot be a registry host (no '.', no port, not localhost).
func looksLikePath(s string) bool {
	switch {
	case s == "." || s == ".." || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || strings.HasPrefix(s, "~"):
		return true
	case strings.HasPrefix(s, "/") && strings.Trim(s, "/") != "" && !strings.ContainsAny(s, ":@"):
		return true
	case strings.Contains(s, `\`):
		return true
	}
	lower := strings.ToLower(s)
	for _, ext := range []string{".tar", ".tar.gz", ".tgz", ".tar.zst"} {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	if host, ok := strings.CutSuffix(s, "/"); ok && host != "" && !strings.Contains(host, "/") {
		return !strings.ContainsAny(host, ".:[") && host != "localhost"
	}
	return false
}

// PathError is the error for a target written as a file or directory
// rather than a reference: it suggests the oci: form for a directory and
// the archive forms for a file. dir says which it is (or looks like).
func PathError(written string, dir bool) error {
	p := strings.TrimSpace(written)
	if dir {
		return fmt.Errorf("%w %q: it looks like a directory, not a registry reference; did you mean oci:%s (an OCI layout directory)? mlaudit never looks a path up on a registry", ErrInvalid, written, strings.TrimSuffix(filepath.Clean(p), "/"))
	}
	return fmt.Errorf("%w %q: it looks like a file, not a registry reference; did you mean oci-archive:%s (buildx --output type=oci, skopeo, ctr export) or docker-archive:%s (docker save)? mlaudit never looks a path up on a registry", ErrInvalid, written, p, p)
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
