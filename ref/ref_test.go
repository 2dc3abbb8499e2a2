package ref_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/ref"
)

var digest = "sha256:" + strings.Repeat("a", 64)

func TestParse(t *testing.T) {
	tests := []struct {
		in         string
		canonical  string
		scheme     ref.Scheme
		registry   string
		repository string
		path       string
		tag        string
		digest     string
	}{
		{in: "alpine:3", canonical: "index.docker.io/library/alpine:3", registry: "index.docker.io", repository: "library/alpine", tag: "3"},
		{in: "library/alpine:3", canonical: "index.docker.io/library/alpine:3", registry: "index.docker.io", repository: "library/alpine", tag: "3"},
		{in: "docker.io/library/alpine:3", canonical: "index.docker.io/library/alpine:3", registry: "index.docker.io", repository: "library/alpine", tag: "3"},
		{in: "index.docker.io/library/alpine:3", canonical: "index.docker.io/library/alpine:3", registry: "index.docker.io", repository: "library/alpine", tag: "3"},
		{in: "docker://alpine:3", canonical: "index.docker.io/library/alpine:3", registry: "index.docker.io", repository: "library/alpine", tag: "3"},
		{in: "  ghcr.io/org/app:1.0 ", canonical: "ghcr.io/org/app:1.0", registry: "ghcr.io", repository: "org/app", tag: "1.0"},
		{in: "localhost:5000/app:1.0", canonical: "localhost:5000/app:1.0", registry: "localhost:5000", repository: "app", tag: "1.0"},
		{in: "localhost/app:1.0", canonical: "localhost/app:1.0", registry: "localhost", repository: "app", tag: "1.0"},
		{in: "127.0.0.1:5000/org/app", canonical: "127.0.0.1:5000/org/app", registry: "127.0.0.1:5000", repository: "org/app"},
		{in: "ghcr.io/org/app@" + digest, canonical: "ghcr.io/org/app@" + digest, registry: "ghcr.io", repository: "org/app", digest: digest},
		{in: "ghcr.io/org/app:1.0@" + digest, canonical: "ghcr.io/org/app:1.0@" + digest, registry: "ghcr.io", repository: "org/app", tag: "1.0", digest: digest},
		{in: "alpine", canonical: "index.docker.io/library/alpine", registry: "index.docker.io", repository: "library/alpine"},
		{in: "registry.example.com/", canonical: "registry.example.com/", registry: "registry.example.com"},
		{in: "docker.io/", canonical: "index.docker.io/", registry: "index.docker.io"},
		{in: "oci:./out", canonical: "oci:out", scheme: ref.Layout, path: "out"},
		{in: "oci:/tmp/out/", canonical: "oci:/tmp/out", scheme: ref.Layout, path: "/tmp/out"},
		{in: "oci:out:latest", canonical: "oci:out:latest", scheme: ref.Layout, path: "out", tag: "latest"},
		{in: "oci:out:docker.io/library/app:1.0", canonical: "oci:out:docker.io/library/app:1.0", scheme: ref.Layout, path: "out", tag: "docker.io/library/app:1.0"},
		{in: "oci:out@" + digest, canonical: "oci:out@" + digest, scheme: ref.Layout, path: "out", digest: digest},
		{in: "oci:out:@" + digest, canonical: "oci:out@" + digest, scheme: ref.Layout, path: "out", digest: digest},
		{in: "oci:out:1.0@" + digest, canonical: "oci:out:1.0@" + digest, scheme: ref.Layout, path: "out", tag: "1.0", digest: digest},
		{in: "oci-archive:out.tar", canonical: "oci-archive:out.tar", scheme: ref.OCIArchive, path: "out.tar"},
		{in: "oci-archive:./build/out.tar:1.0", canonical: "oci-archive:build/out.tar:1.0", scheme: ref.OCIArchive, path: "build/out.tar", tag: "1.0"},
		{in: "oci-archive:-", canonical: "oci-archive:-", scheme: ref.OCIArchive, path: "-"},
		{in: "oci-archive:out.tar@" + digest, canonical: "oci-archive:out.tar@" + digest, scheme: ref.OCIArchive, path: "out.tar", digest: digest},
		{in: "docker-archive:save.tar", canonical: "docker-archive:save.tar", scheme: ref.DockerArchive, path: "save.tar"},
		{in: "docker-archive:save.tar:app:1.0", canonical: "docker-archive:save.tar:app:1.0", scheme: ref.DockerArchive, path: "save.tar", tag: "app:1.0"},
		{in: "docker-archive:-:localhost:5000/app:1", canonical: "docker-archive:-:localhost:5000/app:1", scheme: ref.DockerArchive, path: "-", tag: "localhost:5000/app:1"},
		{in: "docker-daemon:app:1.0", canonical: "docker-daemon:index.docker.io/library/app:1.0", scheme: ref.DockerDaemon, registry: "index.docker.io", repository: "library/app", tag: "1.0"},
		{in: "docker-daemon:app", canonical: "docker-daemon:index.docker.io/library/app:latest", scheme: ref.DockerDaemon, registry: "index.docker.io", repository: "library/app", tag: "latest"},
		{in: "docker-daemon:localhost:5000/org/app:1", canonical: "docker-daemon:localhost:5000/org/app:1", scheme: ref.DockerDaemon, registry: "localhost:5000", repository: "org/app", tag: "1"},
		{in: "docker-daemon:ghcr.io/org/app@" + digest, canonical: "docker-daemon:ghcr.io/org/app@" + digest, scheme: ref.DockerDaemon, registry: "ghcr.io", repository: "org/app", digest: digest},
		{in: "docker-daemon:docker.io/library/app:1.0@" + digest, canonical: "docker-daemon:index.docker.io/library/app:1.0@" + digest, scheme: ref.DockerDaemon, registry: "index.docker.io", repository: "library/app", tag: "1.0", digest: digest},
		// Not paths, not transports: hosts with ports, Docker Hub tags.
		{in: "localhost:5000/", canonical: "localhost:5000/", registry: "localhost:5000"},
		{in: "localhost/", canonical: "localhost/", registry: "localhost"},
		{in: "app:tar", canonical: "index.docker.io/library/app:tar", registry: "index.docker.io", repository: "library/app", tag: "tar"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ref.Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			scheme := tt.scheme
			if scheme == "" {
				scheme = ref.Registry
			}
			got := ref.Ref{Scheme: r.Scheme, Registry: r.Registry, Repository: r.Repository, Path: r.Path, Tag: r.Tag, Digest: r.Digest}
			want := ref.Ref{Scheme: scheme, Registry: tt.registry, Repository: tt.repository, Path: tt.path, Tag: tt.tag, Digest: tt.digest}
			if got != want {
				t.Errorf("Parse(%q) = %#v, want %#v", tt.in, got, want)
			}
			if r.String() != tt.canonical {
				t.Errorf("String() = %q, want %q", r.String(), tt.canonical)
			}
			if r.Written() != tt.in {
				t.Errorf("Written() = %q, want %q", r.Written(), tt.in)
			}
			again, err := ref.Parse(r.String())
			if err != nil || !again.Equal(r) {
				t.Errorf("the canonical form does not parse back to the same reference: %v, %v", again, err)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"", "   ", "ghcr.io/Org/App:1", "ghcr.io/org/app:bad tag", "ghcr.io/org/app@sha256:short",
		"ghcr.io/org/app:", "oci:", "oci::tag", "oci:out:bad name", "/",
		"docker-daemon:", "docker-daemon:App:1", "docker-daemon:app:bad tag", "docker-daemon:localhost:5000/", "docker-daemon:./out.tar", "oci-archive:", "docker-archive::app:1", "docker-archive:save.tar:Bad/Name",
		"foo:bar/baz", "https://ghcr.io/org/app:1", "./out.tar", "out.tar", "out/", "../out", "/tmp/out", "~/out", `out\x`,
	} {
		t.Run(in, func(t *testing.T) {
			_, err := ref.Parse(in)
			if !errors.Is(err, ref.ErrInvalid) {
				t.Fatalf("Parse(%q) error = %v, want ErrInvalid", in, err)
			}
			if strings.TrimSpace(in) != "" && !strings.Contains(err.Error(), strings.TrimSpace(strings.SplitN(in, " ", 2)[0])) {
				t.Errorf("the error should name the input: %v", err)
			}
		})
	}
}

func TestUnsupportedSchemeSaysWhatToDo(t *testing.T) {
	_, err := ref.Parse("containers-storage:app:1")
	if err == nil || !strings.Contains(err.Error(), "push the image to a registry") {
		t.Fatalf("containers-storage should get a hint to push the image: %v", err)
	}
}

// TestDaemonRefs: docker-daemon: names one image, read only from the
// engine: never a registry reference, an export whose missing platforms
// were not pulled, never a file.
func TestDaemonRefs(t *testing.T) {
	r, err := ref.Parse("docker-daemon:app:1.0")
	if err != nil {
		t.Fatal(err)
	}
	if !r.IsImage() || !r.IsExport() || r.Scheme.IsFile() || r.IsStdin() || r.IsRegistry() {
		t.Errorf("IsImage %v IsExport %v IsFile %v IsStdin %v IsRegistry %v", r.IsImage(), r.IsExport(), r.Scheme.IsFile(), r.IsStdin(), r.IsRegistry())
	}
	sib, err := r.WithTag("1.0-arm64")
	if err != nil || sib.String() != "docker-daemon:index.docker.io/library/app:1.0-arm64" {
		t.Errorf("WithTag = %q, %v", sib, err)
	}
	if _, err := r.WithTag("bad tag"); !errors.Is(err, ref.ErrInvalid) {
		t.Errorf("WithTag(bad tag) = %v, want ErrInvalid: engine tags are registry tags", err)
	}
	if reg, _ := ref.Parse("app:1.0"); r.Equal(reg) || r.SameRepository(reg) {
		t.Error("docker-daemon:app:1.0 is not the registry's app:1.0")
	}
	if _, err := r.Rebase(ref.Ref{Scheme: ref.Registry, Registry: "mirror.example"}); !errors.Is(err, ref.ErrInvalid) {
		t.Errorf("Rebase = %v: an engine's image has no copy in a mirror", err)
	}
}

func TestPathLikeSaysWhatToDo(t *testing.T) {
	for in, want := range map[string]string{
		"./out.tar":                 "oci-archive:./out.tar",
		"out.tar":                   "docker-archive:out.tar",
		"out/":                      "oci:out",
		"../build":                  "oci:../build",
		"/tmp/out":                  "oci:/tmp/out",
		"foo:bar/baz":               `unknown transport "foo:"`,
		"https://ghcr.io/org/app:1": "drop https://, e.g. ghcr.io/org/app:1",
		"-":                         "did you mean oci-archive:- (",
	} {
		_, err := ref.Parse(in)
		if !errors.Is(err, ref.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error saying %q", in, err, want)
		}
	}
}

func TestArchiveRefs(t *testing.T) {
	r, err := ref.Parse("oci-archive:out.tar")
	if err != nil {
		t.Fatal(err)
	}
	tagged, err := r.WithTag("docker.io/library/app:1.0")
	if err != nil || tagged.String() != "oci-archive:out.tar:docker.io/library/app:1.0" {
		t.Errorf("WithTag = %q, %v", tagged, err)
	}
	if !r.IsExport() || r.IsStdin() {
		t.Errorf("IsExport %v IsStdin %v", r.IsExport(), r.IsStdin())
	}
	in, _ := ref.Parse("docker-archive:-")
	if !in.IsStdin() || !in.IsExport() {
		t.Errorf("docker-archive:- reads standard input")
	}
	if reg, _ := ref.Parse("alpine:3"); reg.IsExport() {
		t.Error("a registry reference is not an export")
	}
}

func TestDerived(t *testing.T) {
	r, err := ref.Parse("alpine:3")
	if err != nil {
		t.Fatal(err)
	}
	sib, err := r.WithTag("3-arm64")
	if err != nil {
		t.Fatal(err)
	}
	if sib.String() != "index.docker.io/library/alpine:3-arm64" || sib.Written() != sib.String() {
		t.Errorf("WithTag: %q (written %q)", sib, sib.Written())
	}
	if _, err := r.WithTag("bad tag"); !errors.Is(err, ref.ErrInvalid) {
		t.Errorf("WithTag(bad tag) error = %v", err)
	}
	if got := sib.Brief(r); got != ":3-arm64" {
		t.Errorf("Brief = %q", got)
	}
	if got := r.WithDigest(digest).String(); got != "index.docker.io/library/alpine@"+digest {
		t.Errorf("WithDigest = %q", got)
	}
	prefix, err := ref.Parse("registry.internal/mirror")
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Rebase(prefix)
	if err != nil || m.String() != "registry.internal/mirror/library/alpine:3" {
		t.Errorf("Rebase = %q, %v", m, err)
	}
	host, err := ref.Parse("registry.internal/")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := r.Rebase(host); err != nil || m.String() != "registry.internal/library/alpine:3" {
		t.Errorf("Rebase onto a host = %q, %v", m, err)
	}
	layout, err := ref.Parse("oci:out:1.0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := layout.Rebase(prefix); !errors.Is(err, ref.ErrInvalid) {
		t.Errorf("a layout has no mirror copy: %v", err)
	}
	if entry, err := layout.WithTag("docker.io/library/app:1.0"); err != nil || entry.String() != "oci:out:docker.io/library/app:1.0" {
		t.Errorf("layout WithTag = %q, %v", entry, err)
	}
	if r.Equal(sib) || !r.SameRepository(sib) {
		t.Error("two tags of a repository are not Equal but are in the same repository")
	}
	written, _ := ref.Parse("docker.io/library/alpine:3")
	if !written.Equal(r) || written == r {
		t.Error("two spellings of one reference are Equal but not ==")
	}
}

func TestJSON(t *testing.T) {
	r, err := ref.Parse("alpine:3")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(struct{ Ref ref.Ref }{r})
	if err != nil || string(b) != `{"Ref":"index.docker.io/library/alpine:3"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var back struct{ Ref ref.Ref }
	if err := json.Unmarshal(b, &back); err != nil || !back.Ref.Equal(r) {
		t.Fatalf("Unmarshal = %v, %v", back.Ref, err)
	}
}

func TestShortDigest(t *testing.T) {
	if got := ref.ShortDigest(digest); got != "sha256:aaaaaaaaaaaa" {
		t.Errorf("ShortDigest = %q", got)
	}
	if got := ref.ShortHex(digest); got != "aaaaaaaaaaaa" {
		t.Errorf("ShortHex = %q", got)
	}
	if ref.ShortDigest("") != "" || ref.ShortHex("") != "" {
		t.Error("an empty digest stays empty")
	}
}

func TestPattern(t *testing.T) {
	refs := []string{"alpine:3", "docker.io/library/alpine:3", "index.docker.io/library/alpine:3", "library/alpine"}
	for _, p := range []string{"docker.io/library/*", "index.docker.io/library/*", "library/*", "alpine", "docker.io/library/alpine", "docker://library/alp*"} {
		pat, err := ref.ParsePattern(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range refs {
			r, err := ref.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			if !pat.Match(r) {
				t.Errorf("pattern %q (%s) does not match %q", p, pat, s)
			}
		}
	}
	tests := []struct {
		pattern, ref string
		match        bool
	}{
		{"ghcr.io/org/*", "ghcr.io/org/app:1", true},
		{"ghcr.io/org/*", "ghcr.io/org/team/app:1", false},
		{"ghcr.io/org/*", "ghcr.io/other/app:1", false},
		{"ghcr.io/org/*", "index.docker.io/org/app:1", false},
		{"org/*", "org/app:1", true},
		{"org/*", "ghcr.io/org/app:1", false},
		{"*.dkr.ecr.eu-west-1.amazonaws.com/app", "123.dkr.ecr.eu-west-1.amazonaws.com/app:1", true},
		{"localhost:5000/*", "localhost:5000/app:1", true},
		{"oci:out*", "oci:./out-1:latest", true},
		{"oci:out*", "out:latest", false},
		{"ghcr.io/org/app", "oci:ghcr.io/org/app:1", false},
		{"ghcr.io/org/*", "docker-daemon:ghcr.io/org/app:1", true},
		{"docker.io/library/*", "docker-daemon:alpine", true},
		{"ghcr.io/org/*", "docker-daemon:app:1", false},
		{"oci:out*", "docker-daemon:out:1", false},
	}
	for _, tt := range tests {
		pat, err := ref.ParsePattern(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ref.Parse(tt.ref)
		if err != nil {
			t.Fatal(err)
		}
		if pat.Match(r) != tt.match {
			t.Errorf("ParsePattern(%q).Match(%q) = %v, want %v", tt.pattern, tt.ref, !tt.match, tt.match)
		}
	}
}

func TestPatternRejects(t *testing.T) {
	for _, p := range []string{"", "ghcr.io/org/[", "ghcr.io/Org/*", "*/org/*", "*/*", "ghcr.io/org/app:1.0", "ghcr.io/org/app@" + digest, "ghcr.io/", "oci:"} {
		if _, err := ref.ParsePattern(p); !errors.Is(err, ref.ErrInvalid) {
			t.Errorf("ParsePattern(%q) error = %v, want ErrInvalid", p, err)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"registry.internal":         "registry.internal/",
		"registry.internal/":        "registry.internal/",
		"registry.internal/mirror":  "registry.internal/mirror",
		"127.0.0.1:5000/mirror/hub": "127.0.0.1:5000/mirror/hub",
		"docker.io/myorg":           "index.docker.io/myorg",
	} {
		p, err := ref.ParsePrefix(in)
		if err != nil || p.String() != want || p.Written() != in {
			t.Errorf("ParsePrefix(%q) = %q (written %q), %v; want %q", in, p, p.Written(), err, want)
		}
	}
	for _, in := range []string{"", "/mirror", "registry.internal/mirror:1.0", "registry.internal/Mirror", "oci:out"} {
		if _, err := ref.ParsePrefix(in); !errors.Is(err, ref.ErrInvalid) {
			t.Errorf("ParsePrefix(%q) error = %v, want ErrInvalid", in, err)
		}
	}
}

func TestTagConventions(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	for tag, want := range map[string][3]bool{ // signature, referrers, backup
		"sha256-" + hex + ".sig":  {true, false, false},
		"sha256-" + hex + ".att":  {true, false, false},
		"sha256-" + hex + ".sbom": {true, false, false},
		"sha256-" + hex:           {false, true, false},
		"sha256-" + hex[:10]:      {false, false, false},
		"v1-backup-20261125":      {false, false, true},
		"v1.backup":               {false, false, true},
		"backup_v1":               {false, false, true},
		"v1-BACKUP":               {false, false, true},
		"v1-backups":              {false, false, false},
		"nobackup":                {false, false, false},
		"latest":                  {false, false, false},
	} {
		got := [3]bool{ref.IsSignatureTag(tag), ref.IsReferrersTag(tag), ref.IsBackupTag(tag)}
		if got != want {
			t.Errorf("%s: signature, referrers, backup = %v, want %v", tag, got, want)
		}
	}
	if got := ref.SignatureTags("sha256:" + hex); got[0] != "sha256-"+hex+".sig" || len(got) != 3 {
		t.Errorf("SignatureTags = %v", got)
	}
	if got := ref.ReferrersTag("sha256:" + hex); got != "sha256-"+hex {
		t.Errorf("ReferrersTag = %q", got)
	}
}
