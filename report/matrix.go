package report

import (
	"sort"
	"strings"

	"github.com/mlaudit/mlaudit/audit"
)

// Cell states of the image-by-platform matrix.
const (
	cellPresent  = "present"
	cellMismatch = "mismatch"
	cellMissing  = "missing"
	cellBroken   = "broken"
	cellWarning  = "warning"
	cellNone     = ""
)

// matrix is the audit as a grid: one row per image, one column per
// platform seen or required anywhere in the result.
type matrix struct {
	Platforms []string
	Rows      []matrixRow
	// Others are findings about references with no image row: mirror
	// copies, which are compared, not audited.
	Others []audit.Finding
}

type matrixRow struct {
	Image    audit.Image
	Cells    []string // one state per platform
	Findings []audit.Finding
}

// newMatrix builds the grid, its rows in the order of [sortedImages]. Columns are the required platforms first, in
// the order given, then the others sorted; attestations and entries without
// a platform have no column.
func newMatrix(r *audit.Result) matrix {
	var m matrix
	seen := map[string]bool{}
	add := func(p string) {
		if p != "" && p != "unknown" && !seen[p] {
			seen[p] = true
			m.Platforms = append(m.Platforms, p)
		}
	}
	for _, img := range r.Images {
		for _, p := range img.Required {
			add(p)
		}
	}
	required := len(m.Platforms)
	for _, img := range r.Images {
		for _, p := range img.Platforms {
			if !p.Attestation {
				add(p.Platform)
			}
		}
	}
	sort.Strings(m.Platforms[required:])

	byRef := findingsByRef(r.Findings)
	imaged := map[string]bool{}
	for _, img := range r.Images {
		imaged[img.Ref.String()] = true
	}
	for _, f := range r.Findings {
		if !imaged[f.Ref.String()] {
			m.Others = append(m.Others, f)
		}
	}
	for _, img := range sortedImages(r) {
		row := matrixRow{Image: img, Cells: make([]string, len(m.Platforms)), Findings: byRef[img.Ref.String()]}
		for i, col := range m.Platforms {
			row.Cells[i] = cellOf(img, col)
		}
		m.Rows = append(m.Rows, row)
	}
	return m
}

// cellOf is the state of one platform in one image: the worst of its rows.
func cellOf(img audit.Image, platform string) string {
	state := cellNone
	for _, p := range img.Platforms {
		if p.Attestation || p.Platform != platform {
			continue
		}
		if s := cellState(p.Status); rank(s) > rank(state) {
			state = s
		}
	}
	return state
}

func cellState(status string) string {
	switch status {
	case audit.StatusOK:
		return cellPresent
	case audit.StatusMismatch:
		return cellMismatch
	case audit.StatusMissing:
		return cellMissing
	case audit.StatusDuplicate:
		return cellWarning
	default:
		return cellBroken
	}
}

func rank(state string) int {
	switch state {
	case cellPresent:
		return 1
	case cellWarning:
		return 2
	case cellMismatch:
		return 3
	case cellMissing, cellBroken:
		return 4
	}
	return 0
}

// findingsByRef groups findings by the canonical form of their reference.
func findingsByRef(findings []audit.Finding) map[string][]audit.Finding {
	by := map[string][]audit.Finding{}
	for _, f := range findings {
		by[f.Ref.String()] = append(by[f.Ref.String()], f)
	}
	return by
}

// Verdicts of an image, worst first: the order reports list images in.
const (
	verdictFailing = iota // an error-level finding
	verdictWarning        // warnings only
	verdictPassing        // no finding
)

// verdict is how an image with these findings fares.
func verdict(findings []audit.Finding) int {
	v := verdictPassing
	for _, f := range findings {
		if f.Severity == audit.Error {
			return verdictFailing
		}
		v = verdictWarning
	}
	return v
}

// sortedImages is the order every report lists images in: failing images
// first, then those with warnings only, then the passing ones; within
// each, by repository, then tag (digits compared as numbers, so 1.10
// follows 1.9), then digest. At a thousand tags the few that fail are
// what a reader looks for, so they come first in every format.
func sortedImages(r *audit.Result) []audit.Image {
	byRef := findingsByRef(r.Findings)
	type keyed struct {
		img     audit.Image
		verdict int
		repo    string
		id      string
	}
	all := make([]keyed, len(r.Images))
	for i, img := range r.Images {
		all[i] = keyed{img, verdict(byRef[img.Ref.String()]), img.Ref.Repo().String(), img.Ref.Tag + "@" + img.Ref.Digest}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.verdict != b.verdict {
			return a.verdict < b.verdict
		}
		if a.repo != b.repo {
			return naturalLess(a.repo, b.repo)
		}
		return naturalLess(a.id, b.id)
	})
	out := make([]audit.Image, len(all))
	for i, k := range all {
		out[i] = k.img
	}
	return out
}

// failingRefs lists, in report order, the references with an error-level
// finding: audited images, then compared copies (mirrors).
func failingRefs(r *audit.Result) []string {
	byRef := findingsByRef(r.Findings)
	var out []string
	seen := map[string]bool{}
	for _, img := range sortedImages(r) {
		s := img.Ref.String()
		seen[s] = true
		if verdict(byRef[s]) == verdictFailing {
			out = append(out, s)
		}
	}
	var others []string
	for _, f := range r.Findings {
		s := f.Ref.String()
		if !seen[s] && f.Severity == audit.Error {
			seen[s] = true
			others = append(others, s)
		}
	}
	sort.Slice(others, func(i, j int) bool { return naturalLess(others[i], others[j]) })
	return append(out, others...)
}

// naturalLess orders strings as people sort versions: runs of digits
// compare as numbers ("v1.9" < "v1.10"), everything else byte by byte.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			if da != db { // equal values: fewer leading zeros first
				return da < db
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitRun(s string) int {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}
