package repair

import (
	"fmt"
	"strings"
	"time"

	"github.com/mlaudit/mlaudit/ref"
)

// The placeholders a backup tag template may use.
var backupPlaceholders = []string{"{tag}", "{date}", "{digest}"}

// CheckBackupTemplate reports whether a backup tag template can be used:
// only known placeholders, and the word ref.BackupMarker as a part of its
// own ("{tag}-backup-{date}"), so later audits and walks know the tag for
// a backup and skip it. Whether the expanded tag is valid is checked per
// destination, when the plan is made.
func CheckBackupTemplate(template string) error {
	neutral := template
	for _, p := range backupPlaceholders {
		neutral = strings.ReplaceAll(neutral, p, "x")
	}
	switch {
	case template == "":
		return fmt.Errorf("%w: empty template; write e.g. {tag}-%s-{date}", ErrBackupTag, ref.BackupMarker)
	case strings.ContainsAny(neutral, "{}"):
		return fmt.Errorf("%w %q: only %s may be used", ErrBackupTag, template, strings.Join(backupPlaceholders, ", "))
	case !ref.IsBackupTag(neutral):
		return fmt.Errorf("%w %q: it must hold the word %q as a part of its own, e.g. {tag}-%s-{date}, so later audits know it for a backup and skip it",
			ErrBackupTag, template, ref.BackupMarker, ref.BackupMarker)
	}
	return nil
}

// BackupTag expands template for dest, whose old manifest is oldDigest,
// on day now (UTC), and checks the result is a tag other than dest.
func BackupTag(template string, dest ref.Ref, oldDigest string, now time.Time) (ref.Ref, error) {
	if err := CheckBackupTemplate(template); err != nil {
		return ref.Ref{}, err
	}
	tag := strings.NewReplacer("{tag}", dest.Tag, "{date}", now.UTC().Format("20060102"), "{digest}", ref.ShortHex(oldDigest)).Replace(template)
	b, err := dest.WithTag(tag)
	if err != nil {
		return ref.Ref{}, fmt.Errorf("%w %q for %s: %v", ErrBackupTag, template, dest, err)
	}
	if b.Equal(dest) {
		return ref.Ref{}, fmt.Errorf("%w %q: it names %s, the tag being moved", ErrBackupTag, template, dest)
	}
	return b, nil
}
