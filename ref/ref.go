package ref

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode"

	"github.com/google/go-containerregistry/pkg/name"
)

// Scheme says where a reference's content lives. The names are skopeo's
// transport names.
type Scheme string

// The schemes.
const (
	// Registry is a registry reached over the distribution API.
	Registry Scheme = "docker"
	// Layout is an OCI image layout directory on disk.
	Layout Scheme = "oci"
	// OCIArchive is an OCI image layout in a tar file, as `buildx
	// --output type=oci,dest=out.tar`, `skopeo copy ... oci-archive:` and
	// `ctr export` write it. Path "-" is standard input.
	OCIArchive Scheme = "oci-archive"
	// DockerArchive is what `docker save` writes: the classic form
	// (manifest.json) or the containerd image store's (an OCI layout).
	// Path "-" is standard input; Tag is a Docker reference ("app:1.0").
	DockerArchive Scheme = "docker-archive"
	// DockerDaemon is an image the local Docker engine holds, read
	// through the Docker Engine API ($DOCKER_HOST or the default
	// socket). Registry, Repository, Tag and Digest are the image's
	// Docker reference, normalized as a registry reference's; a bare
	// name is name:latest, as docker reads it. Read only.
	DockerDaemon Scheme = "docker-daemon"
)

// IsFile reports whether s's content is read from a file or directory (a
// layout or an archive) rather than from a registry.
func (s Scheme) IsFile() bool { return s == Layout || s == OCIArchive || s == DockerArchive }

// IsExport reports whether r's content was exported from elsewhere to a
// file or directory (a layout or an archive), or is a local Docker
// engine's copy (which may hold some platforms only): content missing
// from it may simply not have been exported or pulled.
func (r Ref) IsExport() bool { return r.Scheme.IsFile() || r.Scheme == DockerDaemon }

// IsStdin reports whether r is read from standard input ("oci-archive:-").
func (r Ref) IsStdin() bool {
	return (r.Scheme == OCIArchive || r.Scheme == DockerArchive) && r.Path == "-"
}

// ErrInvalid is wrapped by every error about a malformed reference or
// pattern.
var ErrInvalid = errors.New("invalid reference")

// Ref is a parsed reference. The zero Ref is not valid; make one with
// [Parse] or from another Ref. Refs are comparable, but == also compares
// how each was written: compare with [Ref.Equal], and key maps by
// [Ref.String].
type Ref struct {
	// Scheme is where the content lives.
	Scheme Scheme
	// Registry is the registry host, canonical ("index.docker.io" for
	// Docker Hub); Registry and DockerDaemon schemes only.
	Registry string
	// Repository is the repository path below the registry, canonical
	// ("library/alpine"); empty for a whole registry. Registry and
	// DockerDaemon schemes only.
	Repository string
	// Path is the layout directory or archive file, cleaned; Layout,
	// OCIArchive and DockerArchive schemes only ("-" is standard input).
	Path string
	// Tag is the tag, or for a layout the entry's ref name.
	Tag string
	// Digest is the manifest digest ("sha256:..."). When set it, not Tag,
	// identifies the manifest.
	Digest string

	written string
}

// String is the canonical form: "index.docker.io/library/alpine:3",
// "ghcr.io/org/app@sha256:...", "registry.example.com/" for a whole
// registry, "oci:out:1.0" for a layout entry,
// "docker-daemon:index.docker.io/library/app:1.0" for an image in the
// Docker engine.
func (r Ref) String() string {
	var b strings.Builder
	switch r.Scheme {
	case Layout, OCIArchive, DockerArchive:
		b.WriteString(string(r.Scheme) + ":" + r.Path)
	case DockerDaemon:
		b.WriteString(string(r.Scheme) + ":" + r.Registry + "/" + r.Repository)
	default:
		b.WriteString(r.Registry + "/" + r.Repository)
	}
	if r.Tag != "" {
		b.WriteString(":" + r.Tag)
	}
	if r.Digest != "" {
		b.WriteString("@" + r.Digest)
	}
	return b.String()
}

// Written is the reference as the user wrote it, or [Ref.String] for one
// that was derived from another.
func (r Ref) Written() string {
	if r.written != "" {
		return r.written
	}
	return r.String()
}

// MarshalText writes the canonical form, so a Ref is a string in JSON.
func (r Ref) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses a reference, as [Parse] does.
func (r *Ref) UnmarshalText(b []byte) error {
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// Equal reports whether r and o name the same thing, however each was
// written.
func (r Ref) Equal(o Ref) bool {
	r.written, o.written = "", ""
	return r == o
}

// IsImage reports whether r names one manifest: it has a tag or a digest.
func (r Ref) IsImage() bool { return r.Tag != "" || r.Digest != "" }

// IsRegistry reports whether r names a whole registry ("registry/").
func (r Ref) IsRegistry() bool { return r.Scheme == Registry && r.Repository == "" }

// Identifier is what names the manifest within its repository: the digest
// when there is one, else the tag.
func (r Ref) Identifier() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// Repo is r without its tag and digest: the repository, or the whole
// layout.
func (r Ref) Repo() Ref {
	return Ref{Scheme: r.Scheme, Registry: r.Registry, Repository: r.Repository, Path: r.Path}
}

// SameRepository reports whether r and o are in the same repository (or
// the same layout).
func (r Ref) SameRepository(o Ref) bool { return r.Repo() == o.Repo() }

// Brief names r for a message about another reference of the same
// repository: ":tag" or "@sha256:0123456789ab", else the whole reference.
func (r Ref) Brief(within Ref) string {
	if !r.SameRepository(within) {
		return r.String()
	}
	if r.Digest != "" {
		return "@" + ShortDigest(r.Digest)
	}
	return ":" + r.Tag
}

// WithTag returns a reference to tag in r's repository or layout, or an
// error if tag is not a valid tag (a layout's ref names are freer).
func (r Ref) WithTag(tag string) (Ref, error) {
	if err := checkTag(r.Scheme, tag); err != nil {
		return Ref{}, err
	}
	out := r.Repo()
	out.Tag = tag
	return out, nil
}

// WithDigest returns a reference to digest in r's repository or layout.
func (r Ref) WithDigest(digest string) Ref {
	out := r.Repo()
	out.Digest = digest
	return out
}

// Rebase returns r as a mirror under prefix lays it out: the same
// repository path and tag or digest below prefix's registry and path. With
// the prefix registry.internal/mirror, ghcr.io/org/app:1.0 becomes
// registry.internal/mirror/org/app:1.0.
func (r Ref) Rebase(prefix Ref) (Ref, error) {
	if r.Scheme != Registry || prefix.Scheme != Registry {
		return Ref{}, fmt.Errorf("%w %q: only registry references have copies in a mirror", ErrInvalid, r.Written())
	}
	out := r
	out.written = ""
	out.Registry = prefix.Registry
	out.Repository = path.Join(prefix.Repository, r.Repository)
	return out, nil
}

func checkTag(s Scheme, tag string) error {
	if s.IsFile() {
		if tag == "" || strings.IndexFunc(tag, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) }) >= 0 {
			return fmt.Errorf("%w: layout ref name %q: give a name without spaces, e.g. latest", ErrInvalid, tag)
		}
		return nil
	}
	if _, err := name.NewTag("example.com/x:" + tag); err != nil || tag == "" {
		return fmt.Errorf("%w: tag %q: a tag is 1 to 128 letters, digits, '_', '.' and '-'", ErrInvalid, tag)
	}
	return nil
}

// ShortDigest abbreviates a digest for people, as docker does: the
// algorithm and the first 12 hex digits ("sha256:0123456789ab").
func ShortDigest(d string) string {
	if i := strings.Index(d, ":"); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}

// ShortHex is [ShortDigest] without the algorithm, for narrow table
// columns ("0123456789ab").
func ShortHex(d string) string {
	s := ShortDigest(d)
	return s[strings.Index(s, ":")+1:]
}
