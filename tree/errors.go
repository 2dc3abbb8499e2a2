package tree

import (
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrMissing is wrapped by errors for content the source does not have: a
// manifest, index or config that is referenced but absent.
var ErrMissing = errors.New("not found")

// DigestMismatchError says fetched bytes do not hash to the digest they were
// asked for, or that the registry declared for them.
type DigestMismatchError struct {
	// What names the content ("manifest", "config").
	What string
	// Want is the digest that was expected.
	Want v1.Hash
	// Got is the digest of the bytes received.
	Got v1.Hash
	// Declared is true when Want came from the registry's
	// Docker-Content-Digest header rather than from a reference.
	Declared bool
}

func (e *DigestMismatchError) Error() string {
	source := "was asked for"
	if e.Declared {
		source = "the registry declared"
	}
	return fmt.Sprintf("%s bytes hash to %s, not %s that %s", e.What, e.Got, e.Want, source)
}
