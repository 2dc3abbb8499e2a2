package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/mlaudit/mlaudit/audit"
)

// SchemaVersion is the version of the JSON report's schema. It changes only
// when a field is removed or changes meaning; new fields may appear within
// a version.
const SchemaVersion = 1

// jsonReport is the JSON report: the audit result under a schema version.
type jsonReport struct {
	SchemaVersion int `json:"schemaVersion"`
	*audit.Result
}

// renderJSON writes the report as encoding/json would write it whole
// (two-space indent, no HTML escaping), but streams the images and
// findings one at a time: a registry-wide report of 10,000 images is tens
// of megabytes, which would otherwise be built in memory, twice over as
// its buffer grows, beside the result it is made from.
func renderJSON(w io.Writer, r *audit.Result, _ Options) error {
	// The report without images and findings gives every other field, in
	// order, as encoding/json writes them; the two arrays are written into
	// it element by element.
	rest := *r
	rest.Images, rest.Findings = []audit.Image{}, []audit.Finding{}
	var skeleton bytes.Buffer
	if err := encodeIndented(&skeleton, jsonReport{SchemaVersion: SchemaVersion, Result: &rest}, ""); err != nil {
		return err
	}
	s := skeleton.Bytes()
	images, findings := []byte(`  "images": []`), []byte(`  "findings": []`)
	i, f := bytes.Index(s, images), bytes.Index(s, findings)
	if i < 0 || f < i {
		return fmt.Errorf("writing the JSON report: unexpected layout of its fields")
	}
	bw := bufio.NewWriter(w)
	bw.Write(s[:i+len(images)-1])
	if err := writeElements(bw, r.Images); err != nil {
		return err
	}
	bw.Write(s[i+len(images)-1 : f+len(findings)-1])
	if err := writeElements(bw, r.Findings); err != nil {
		return err
	}
	bw.Write(s[f+len(findings)-1:])
	return bw.Flush()
}

// writeElements writes the elements of a JSON array at the report's
// second level, after its "[" and up to its "]", as json.Indent lays
// them out.
func writeElements[T any](w *bufio.Writer, items []T) error {
	if len(items) == 0 {
		return nil
	}
	var b bytes.Buffer
	for n, item := range items {
		b.Reset()
		if err := encodeIndented(&b, item, "    "); err != nil {
			return err
		}
		if n > 0 {
			w.WriteString(",")
		}
		w.WriteString("\n    ")
		w.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	}
	w.WriteString("\n  ")
	return nil
}

// encodeIndented writes v with encoding/json, two-space indent after
// prefix, no HTML escaping.
func encodeIndented(w io.Writer, v any, prefix string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent(prefix, "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
