package audit

// assembly puts outcomes into the result in target order.
type assembly struct {
	result    *Result
	planned   map[string]bool // references the targets name
	reported  map[string]bool // references reported
	extra     map[string]bool // siblings reported on the side
	deepBytes int64
}

// add appends o to the result. A per-arch sibling audited on the side is
// reported with the first reference (in report order) that found it,
// unless a target names it.
func (asm *assembly) add(o *outcome) {
	r := asm.result
	var images, findings, errs int
	for _, s := range o.sides {
		r.Images = append(r.Images, o.images[images:s.images]...)
		r.Findings = append(r.Findings, o.findings[findings:s.findings]...)
		r.Errors = append(r.Errors, o.errs[errs:s.errs]...)
		images, findings, errs = s.images, s.findings, s.errs
		if key := s.ref.String(); !asm.planned[key] && !asm.extra[key] {
			asm.extra[key] = true
			r.Images = append(r.Images, s.audit.images...)
			r.Findings = append(r.Findings, s.audit.findings...)
			r.Errors = append(r.Errors, s.audit.errs...)
		}
	}
	r.Images = append(r.Images, o.images[images:]...)
	r.Findings = append(r.Findings, o.findings[findings:]...)
	r.Errors = append(r.Errors, o.errs[errs:]...)
	asm.deepBytes += o.deepBytes
}
