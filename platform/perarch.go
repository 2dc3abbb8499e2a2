package platform

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidTemplate is wrapped by the errors of [CheckTemplate].
var ErrInvalidTemplate = errors.New("invalid per-arch template")

// CheckTemplate reports whether a per-arch template is usable: it must
// hold {arch}, and no placeholder but {tag} and {arch}.
func CheckTemplate(t string) error {
	if !strings.Contains(t, "{arch}") {
		return fmt.Errorf("%w %q: it needs {arch}, e.g. {tag}-{arch} or {arch}-{tag}", ErrInvalidTemplate, t)
	}
	rest := strings.NewReplacer("{tag}", "", "{arch}", "").Replace(t)
	if strings.ContainsAny(rest, "{}") {
		return fmt.Errorf("%w %q: only {tag} and {arch} may be used", ErrInvalidTemplate, t)
	}
	return nil
}

// PerArchTags fills each template with tag and every architecture
// spelling mlaudit knows, and returns the names found among existing, in
// template order, without duplicates.
func PerArchTags(tag string, templates, existing []string) ([]string, error) {
	have := map[string]bool{}
	for _, e := range existing {
		have[e] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, t := range templates {
		if err := CheckTemplate(t); err != nil {
			return nil, err
		}
		for _, arch := range ArchTokens() {
			name := strings.NewReplacer("{tag}", tag, "{arch}", arch).Replace(t)
			if have[name] && !seen[name] && name != tag {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	return out, nil
}
