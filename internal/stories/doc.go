// Package stories builds the real failures mlaudit exists for (see
// shared/STORIES.md) as images and indexes, and pushes them to a registry or
// an OCI layout. `mlaudit demo` seeds them into an in-process registry and
// audits them; the tests seed them into go-containerregistry's registry and
// Debian's docker-registry and check what the audit finds.
//
// Every image is built deterministically (fixed layer contents, zero
// timestamps), so the same story always has the same digests.
package stories
