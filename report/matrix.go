package report

import (
	"sort"

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

// newMatrix builds the grid. Columns are the required platforms first, in
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
	for _, img := range r.Images {
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
