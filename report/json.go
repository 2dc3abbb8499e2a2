package report

import (
	"encoding/json"
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

func renderJSON(w io.Writer, r *audit.Result, _ Options) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(jsonReport{SchemaVersion: SchemaVersion, Result: r})
}
