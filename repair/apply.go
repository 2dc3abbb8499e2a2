package repair

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/ref"
)

// Writer is what Apply writes through. registry.Client implements it.
type Writer interface {
	// PushManifest writes a manifest and everything it references by
	// digest to dest's repository or layout; from names where each child
	// (or, for an image, the image) can be read. No tag moves.
	PushManifest(ctx context.Context, dest ref.Ref, raw []byte, mt types.MediaType, from func(v1.Hash) ref.Ref) error
	// Resolve returns the digest r holds now, or "" when it does not
	// exist.
	Resolve(ctx context.Context, r ref.Ref) (string, error)
	// MoveTag points the tag r at the manifest raw.
	MoveTag(ctx context.Context, r ref.Ref, raw []byte, mt types.MediaType) error
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// AllowUnsigned applies a plan whose old manifest has signatures or
	// referrers that will not follow the new digest.
	AllowUnsigned bool
}

// Applied says what Apply did.
type Applied struct {
	// Moved is true when the destination was moved to the new manifest and
	// read back holding it; false when it already held it.
	Moved bool `json:"moved"`
	// OldDigest and NewDigest are what the destination held and holds.
	OldDigest string `json:"oldDigest"`
	NewDigest string `json:"newDigest"`
	// Backup is the backup tag written (and read back), if any.
	Backup *ref.Ref `json:"backup,omitempty"`
}

// Apply carries out p, and never loses a push:
//
//  1. a plan that is not OK, or that would leave signatures behind without
//     AllowUnsigned, is refused before anything is written;
//  2. the new manifest (and its children) is pushed by digest: no tag moves;
//  3. the destination is read again; if it changed since the plan, nothing
//     is tagged ([ChangedError]);
//  4. the backup tag, when the plan has one, is written only where it is
//     free or already holds the old manifest, and read back;
//  5. the destination is read again immediately before the move, moved,
//     and read back: it must hold the new manifest ([NotConfirmedError]).
//
// Nothing is ever deleted. Registries have no conditional tag write, so a
// push landing between the last read and the move cannot be seen; the
// window is one request.
func Apply(ctx context.Context, w Writer, p *Plan, opts ApplyOptions) (*Applied, error) {
	if !p.OK() {
		return nil, &refusal{ErrUnsatisfied, p.Dest.String() + "; nothing was written"}
	}
	done := &Applied{OldDigest: p.OldDigest, NewDigest: p.NewDigest}
	if !p.Changed {
		return done, nil
	}
	if p.Unsigned() && !opts.AllowUnsigned {
		return nil, &refusal{ErrUnsigned, unsignedDetail(p)}
	}
	from := map[v1.Hash]ref.Ref{}
	for _, c := range p.Children {
		from[c.Digest] = c.From
	}
	if err := w.PushManifest(ctx, p.Dest, p.Manifest, types.MediaType(p.MediaType), func(h v1.Hash) ref.Ref { return from[h] }); err != nil {
		return nil, err
	}
	if err := unchanged(ctx, w, p); err != nil {
		return nil, err
	}
	if p.Backup != nil && p.OldDigest != "" {
		if err := writeBackup(ctx, w, p); err != nil {
			return nil, err
		}
		done.Backup = p.Backup
		if err := unchanged(ctx, w, p); err != nil {
			return done, err
		}
	}
	if err := w.MoveTag(ctx, p.Dest, p.Manifest, types.MediaType(p.MediaType)); err != nil {
		return done, err
	}
	if err := confirm(ctx, w, p.Dest, p.NewDigest); err != nil {
		return done, err
	}
	done.Moved = true
	return done, nil
}

// unchanged checks that the destination still holds what p was made from.
func unchanged(ctx context.Context, w Writer, p *Plan) error {
	now, err := w.Resolve(ctx, p.Dest)
	if err != nil {
		return err
	}
	if now != p.OldDigest {
		return &ChangedError{Tag: p.Dest, Planned: p.OldDigest, Holds: now, Pushed: p.NewDigest}
	}
	return nil
}

// writeBackup tags the old manifest under p.Backup, unless the tag already
// holds it, and never over another manifest.
func writeBackup(ctx context.Context, w Writer, p *Plan) error {
	held, err := w.Resolve(ctx, *p.Backup)
	if err != nil {
		return err
	}
	switch held {
	case p.OldDigest:
		return nil
	case "":
	default:
		return &refusal{ErrBackupTag, p.Backup.String() + " already holds " + held + "; choose another template (the new manifest was pushed by digest, no tag moved)"}
	}
	if err := w.MoveTag(ctx, *p.Backup, p.OldManifest, p.OldMediaType); err != nil {
		return err
	}
	return confirm(ctx, w, *p.Backup, p.OldDigest)
}

// confirm reads tag back: it must hold want.
func confirm(ctx context.Context, w Writer, tag ref.Ref, want string) error {
	got, err := w.Resolve(ctx, tag)
	if err != nil {
		return err
	}
	if got != want {
		return &NotConfirmedError{Tag: tag, Want: want, Holds: got}
	}
	return nil
}

func unsignedDetail(p *Plan) string {
	s := p.Dest.String() + " holds " + p.OldDigest + ", which has "
	for i, sig := range p.Signatures {
		if i > 0 {
			s += ", "
		}
		s += string(sig.Kind) + " " + sig.Ref.String()
	}
	return s + "; they would not follow the new digest; nothing was written"
}

// refusal is a sentinel with the facts of one case.
type refusal struct {
	kind   error
	detail string
}

func (r *refusal) Error() string { return r.kind.Error() + ": " + r.detail }
func (r *refusal) Unwrap() error { return r.kind }
