// Package ref is mlaudit's image reference: one value, parsed once where a
// user's text enters (a command line, a targets file, a policy), that says
// where content lives (a registry or an OCI layout), which repository, and
// which tag or digest. Every other package takes a [Ref] and never splits a
// string on ':' again.
//
// # How do I use this package?
//
// Parse what a user wrote with [Parse]:
//
//	r, err := ref.Parse("alpine:3")
//	r.String()     // "index.docker.io/library/alpine:3", the canonical form
//	r.Written()    // "alpine:3", as the user wrote it
//	r.Repo()       // index.docker.io/library/alpine, without tag or digest
//	r.WithTag("3-arm64")
//
// The accepted forms are:
//
//	registry/repo:tag          one tag          (Scheme Registry)
//	registry/repo@sha256:...   one digest
//	registry/repo              every tag of a repository
//	registry/                  every repository of a registry (its catalog)
//	docker://registry/repo:tag skopeo's spelling of the same
//	oci:DIR                    every entry of an OCI layout (Scheme Layout)
//	oci:DIR:NAME               the entry whose org.opencontainers.image.ref.name is NAME
//	oci:DIR@sha256:...         a manifest in the layout, by digest
//	oci-archive:FILE[:NAME]    the same, in a tar file (Scheme OCIArchive); FILE - is standard input
//	docker-archive:FILE[:REF]  what docker save wrote (Scheme DockerArchive), REF as saved ("app:1.0")
//	docker-daemon:REF          an image the local Docker engine holds (Scheme DockerDaemon); REF as
//	                           docker names it ("app:1.0", "ghcr.io/org/app@sha256:..."), a bare name is :latest
//
// A target written as a path ("./out.tar", "out/", "/tmp/out", a name
// ending in .tar) is refused with a suggestion of the oci:, oci-archive: or
// docker-archive: form, and so is a transport mlaudit does not read
// ("foo:bar/baz", "https://..."): neither is ever looked up on a registry.
//
// Registry references are normalized as docker and go-containerregistry
// normalize them: "alpine", "library/alpine", "docker.io/library/alpine" and
// "index.docker.io/library/alpine" are one repository. A layout reference is
// split at its first ':' after "oci:", as skopeo splits it, so a ref name may
// hold colons and slashes ("oci:out:docker.io/library/app:1.0").
//
// Policies match repositories with a [Pattern], normalized the same way, so a
// rule written for docker.io/library/* applies to "alpine:3".
//
// Errors wrap [ErrInvalid] and name the input; they never name a flag.
package ref
