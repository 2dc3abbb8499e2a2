package registry

import (
	"context"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/ref"
)

// scheme is one repository's content in one kind of place: a repository on
// a registry (remoteRepo), an OCI image layout (layoutRepo), a tar
// archive of one or a docker save (archiveRepo; an OCI archive in a file is
// written by rewriting it whole), or an image in the local Docker engine
// (daemonRepo, read only). layoutRepo and archiveRepo read through one
// reader (ociLayout) over their files. The Client
// picks a reference's scheme once (Client.scheme) and every read and write
// goes through it, so a new kind of input is one more implementation, not
// a branch in every method.
//
// ids are tags (a layout's ref names) or digests. Content that does not
// exist gives errors wrapping tree.ErrMissing.
type scheme interface {
	reader
	// head resolves id to its descriptor without reading the manifest.
	head(ctx context.Context, id string) (v1.Descriptor, error)
	// tags lists the tags; a layout's unnamed entries are listed by digest.
	tags(ctx context.Context) ([]string, error)
	// openLayer streams a blob, compressed, for the deep check.
	openLayer(ctx context.Context, d v1.Hash) (io.ReadCloser, error)
	// referrers lists what refers to digest (OCI 1.1).
	referrers(ctx context.Context, digest string) ([]v1.Descriptor, error)
	// image and index give a manifest as go-containerregistry values, for
	// copying it (and what it references) elsewhere.
	image(ctx context.Context, h v1.Hash) (v1.Image, error)
	index(ctx context.Context, h v1.Hash) (v1.ImageIndex, error)

	// push writes t and everything it references, and tags it id (or,
	// for a digest id, writes it by digest: no tag, no layout entry).
	push(ctx context.Context, id string, t remote.Taggable) error
	// pushIndex writes an index and everything it references by digest;
	// no tag moves.
	pushIndex(ctx context.Context, idx v1.ImageIndex) error
	// moveTag points tag at the manifest raw, whose children are already
	// there.
	moveTag(ctx context.Context, tag string, raw []byte, mt types.MediaType) error
	// delete removes the manifest with this digest.
	delete(ctx context.Context, digest string) error
	// check reports, without a request, whether r can be read (or, with
	// write, written) at all.
	check(r ref.Ref, write bool) error
}

// reader is what walking a tree needs of a scheme.
type reader interface {
	// manifest fetches a manifest by tag or digest. The bytes are checked
	// against the digest asked for (or, for a tag, the digest the source
	// declared); on a mismatch it returns the bytes and a
	// *tree.DigestMismatchError.
	manifest(ctx context.Context, id string) (fetched, error)
	// blob fetches a blob by digest, reading at most limit bytes, and
	// checks the bytes against the digest. what names it in errors.
	blob(ctx context.Context, d v1.Hash, limit int64, what string) ([]byte, error)
	// at is the reference to id in this source.
	at(id string) ref.Ref
}

// at makes the reference to id (a tag or a digest) in repo. ids come from
// registries and layouts, so they are not re-validated as tags.
func at(repo ref.Ref, id string) ref.Ref {
	if _, err := v1.NewHash(id); err == nil {
		return repo.WithDigest(id)
	}
	out := repo.Repo()
	out.Tag = id
	return out
}
