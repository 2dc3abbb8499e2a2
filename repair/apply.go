package repair

import (
	"context"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/ref"
)

// Writer is what Apply writes through. registry.Client implements it.
type Writer interface {
	// PushIndex writes an index and its children by digest to dest's
	// repository or layout; from names where each child can be read.
	PushIndex(ctx context.Context, dest ref.Ref, raw []byte, mt types.MediaType, from func(v1.Hash) ref.Ref) error
	// Resolve returns the digest r holds now, or "" when it does not
	// exist.
	Resolve(ctx context.Context, r ref.Ref) (string, error)
	// MoveTag points the tag r at the manifest raw.
	MoveTag(ctx context.Context, r ref.Ref, raw []byte, mt types.MediaType) error
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// BackupTag, when set, is a template for a tag that keeps the old
	// index reachable before the target moves: {tag} is the destination's
	// tag, {date} today (UTC, YYYYMMDD), {digest} the old digest's first
	// 12 hex digits.
	BackupTag string
	// Now is the time for {date}; zero means now.
	Now time.Time
}

// Applied says what Apply did.
type Applied struct {
	// Moved is false when the target already held the new index.
	Moved bool `json:"moved"`
	// OldDigest and NewDigest are what the target held and holds.
	OldDigest string `json:"oldDigest"`
	NewDigest string `json:"newDigest"`
	// Backup is the backup tag written, if any.
	Backup *ref.Ref `json:"backup,omitempty"`
}

// Apply carries out p: the new index and its children are pushed by
// digest to p.Dest's repository; then, if p.Dest still holds p.OldDigest, the old index is
// tagged as a backup (when asked) and the target is moved. If the target
// changed since the plan was made, it returns ErrChanged and moves
// nothing. A plan that is not OK is refused with ErrUnsatisfied before
// anything is written. Nothing is ever deleted.
func Apply(ctx context.Context, w Writer, p *Plan, opts ApplyOptions) (*Applied, error) {
	if !p.OK() {
		return nil, fmt.Errorf("%w: %s; nothing was written", ErrUnsatisfied, p.Dest)
	}
	done := &Applied{OldDigest: p.OldDigest, NewDigest: p.NewDigest}
	if !p.Changed {
		return done, nil
	}
	from := map[v1.Hash]ref.Ref{}
	for _, c := range p.Children {
		from[c.Digest] = c.From
	}
	if err := w.PushIndex(ctx, p.Dest, p.Index, types.MediaType(p.MediaType), func(h v1.Hash) ref.Ref { return from[h] }); err != nil {
		return nil, err
	}
	now, err := w.Resolve(ctx, p.Dest)
	if err != nil {
		return nil, err
	}
	if now != p.OldDigest {
		return nil, fmt.Errorf("%w: %s held %s when planned and holds %s now; the new index was pushed by digest (%s) but the tag was not moved: plan again", ErrChanged, p.Dest, orNone(p.OldDigest), orNone(now), p.NewDigest)
	}
	if opts.BackupTag != "" && p.OldDigest != "" {
		backup, err := p.Dest.WithTag(expandBackup(opts, p.Dest.Tag, p.OldDigest))
		if err != nil {
			return nil, fmt.Errorf("the backup tag: %w (the new index was pushed by digest, the tag was not moved)", err)
		}
		held, err := w.Resolve(ctx, backup)
		if err != nil {
			return nil, err
		}
		if held != "" && held != p.OldDigest {
			return nil, fmt.Errorf("the backup tag %s already holds %s; choose another template (the new index was pushed by digest, the tag was not moved)", backup, held)
		}
		if err := w.MoveTag(ctx, backup, p.OldIndex, p.OldMediaType); err != nil {
			return nil, err
		}
		done.Backup = &backup
	}
	if err := w.MoveTag(ctx, p.Dest, p.Index, types.MediaType(p.MediaType)); err != nil {
		return nil, err
	}
	done.Moved = true
	return done, nil
}

func expandBackup(opts ApplyOptions, tag, oldDigest string) string {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	return strings.NewReplacer("{tag}", tag, "{date}", now.UTC().Format("20060102"), "{digest}", ref.ShortHex(oldDigest)).Replace(opts.BackupTag)
}

func orNone(d string) string {
	if d == "" {
		return "nothing"
	}
	return d
}
