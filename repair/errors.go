package repair

import (
	"errors"
	"fmt"

	"github.com/mlaudit/mlaudit/ref"
)

// Errors a repair returns, for errors.Is.
var (
	// ErrUnsatisfied is returned when the plan cannot satisfy the
	// requirements, or would leave an error-level finding; nothing was
	// written.
	ErrUnsatisfied = errors.New("the repaired index would still be wrong")
	// ErrUnsigned is returned when applying would leave the signatures or
	// referrers of the old manifest behind and that was not allowed;
	// nothing was written.
	ErrUnsigned = errors.New("the new manifest would be unsigned")
	// ErrChanged is returned when the tag changed after the plan was made;
	// the tag was not moved. The error is a *ChangedError.
	ErrChanged = errors.New("the tag changed since the plan was made")
	// ErrNotConfirmed is returned when a tag written does not hold what was
	// written when read back. The error is a *NotConfirmedError.
	ErrNotConfirmed = errors.New("the registry does not hold what was written")
	// ErrNoSources is returned when the target does not exist and nothing
	// was given to build it from.
	ErrNoSources = errors.New("nothing to build from")
	// ErrNotATag is returned when a repair's target or destination is not
	// a tag: a tag is what moves.
	ErrNotATag = errors.New("not a tag")
	// ErrBackupTag is returned when a backup tag template cannot be used:
	// a bad placeholder or tag, or a backup that would land on a tag the
	// repair moves.
	ErrBackupTag = errors.New("invalid backup tag")
)

// ChangedError says the tag held something else than the plan was made
// from, when it was about to move; it was not moved.
type ChangedError struct {
	// Tag is the tag; Planned what it held when planned ("" for nothing),
	// Holds what it holds now.
	Tag            ref.Ref
	Planned, Holds string
	// Pushed is the new manifest's digest, pushed by digest and not
	// tagged.
	Pushed string
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("%s held %s when planned and holds %s now (another push?); it was not moved, and the new manifest is at %s: plan again",
		e.Tag, orNone(e.Planned), orNone(e.Holds), e.Tag.WithDigest(e.Pushed))
}

// Unwrap lets errors.Is match ErrChanged.
func (e *ChangedError) Unwrap() error { return ErrChanged }

// NotConfirmedError says a tag read back after a write does not hold what
// was written: the registry dropped or changed the write, or another push
// came right after it.
type NotConfirmedError struct {
	// Tag is the tag written; Want what was written; Holds what it holds
	// ("" for nothing).
	Tag         ref.Ref
	Want, Holds string
}

func (e *NotConfirmedError) Error() string {
	return fmt.Sprintf("%s was written with %s but holds %s when read back; the new manifest is at %s",
		e.Tag, e.Want, orNone(e.Holds), e.Tag.WithDigest(e.Want))
}

// Unwrap lets errors.Is match ErrNotConfirmed.
func (e *NotConfirmedError) Unwrap() error { return ErrNotConfirmed }

func orNone(d string) string {
	if d == "" {
		return "nothing"
	}
	return d
}
