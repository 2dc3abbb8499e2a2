package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/tree"
)

// Size caps on what is read from a source. A manifest larger than 4 MiB is
// refused by the OCI distribution spec's reference registry and by Docker
// Hub; a config of 8 MiB is already far past any real one.
const (
	maxManifestBytes = 4 << 20
	maxConfigBytes   = 8 << 20
)

// fetched is a manifest's bytes and how the source described them.
type fetched struct {
	desc v1.Descriptor
	raw  []byte
}

// readLimited reads all of r, failing if it holds more than limit bytes.
func readLimited(r io.Reader, limit int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrBadResponse, what, limit)
	}
	return b, nil
}

// sha256Of is the digest of b.
func sha256Of(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// verify checks b against want, which may use any algorithm Go's hashes
// support; only sha256 is in use by registries today.
func verify(b []byte, want v1.Hash, what string, declared bool) error {
	if want.Algorithm != "sha256" {
		return fmt.Errorf("%w: %s digest %s uses an unsupported algorithm", ErrBadResponse, what, want)
	}
	if got := sha256Of(b); got != want {
		return &tree.DigestMismatchError{What: what, Want: want, Got: got, Declared: declared}
	}
	return nil
}
