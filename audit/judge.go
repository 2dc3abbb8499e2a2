package audit

// judge drops ignored findings and applies severity overrides, as
// Options say (a policy's ignore and severity).
func judge(findings []Finding, opts Options) []Finding {
	if len(opts.Ignore) == 0 && len(opts.Severity) == 0 {
		return findings
	}
	kept := findings[:0]
	for _, f := range findings {
		if opts.Ignore[f.Code] {
			continue
		}
		if s, ok := opts.Severity[f.Code]; ok {
			f.Severity = s
		}
		kept = append(kept, f)
	}
	return kept
}
