package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/mlaudit/mlaudit/audit"
)

// MaxJSONReport is the size of the largest JSON report [ReadJSON] reads:
// 256 MiB, some 200,000 images.
const MaxJSONReport = 256 << 20

// ErrNotReport is wrapped by every error about input that is not a JSON
// report [ReadJSON] can read.
var ErrNotReport = errors.New("not an mlaudit JSON report")

// ReadJSON reads a JSON report back into a result, as the json format
// wrote it (schema version [SchemaVersion]; fields it does not know are
// ignored, as the schema allows new ones). Each error's message is
// Message again in Err. Input that is not one report of this schema
// version, holds something after it, or is larger than [MaxJSONReport]
// is an error wrapping [ErrNotReport].
func ReadJSON(r io.Reader) (*audit.Result, error) { return readJSON(r, MaxJSONReport) }

// readJSON is ReadJSON with a size limit of readLimit bytes.
func readJSON(r io.Reader, readLimit int64) (*audit.Result, error) {
	limited := &io.LimitedReader{R: r, N: readLimit + 1}
	dec := json.NewDecoder(limited)
	var rep struct {
		SchemaVersion *int `json:"schemaVersion"`
		audit.Result
	}
	err := dec.Decode(&rep)
	if limited.N <= 0 {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrNotReport, readLimit)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotReport, err)
	}
	_, err = dec.Token()
	switch {
	case limited.N <= 0:
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrNotReport, readLimit)
	case err != io.EOF:
		return nil, fmt.Errorf("%w: something follows the report", ErrNotReport)
	}
	switch {
	case rep.SchemaVersion == nil:
		return nil, fmt.Errorf("%w: no schemaVersion", ErrNotReport)
	case *rep.SchemaVersion != SchemaVersion:
		return nil, fmt.Errorf("%w: schemaVersion %d, this mlaudit reads %d", ErrNotReport, *rep.SchemaVersion, SchemaVersion)
	}
	res := rep.Result
	if res.Images == nil {
		res.Images = []audit.Image{}
	}
	if res.Findings == nil {
		res.Findings = []audit.Finding{}
	}
	if res.Errors == nil {
		res.Errors = []audit.TargetError{}
	}
	for i, img := range res.Images {
		if img.Ref.Scheme == "" {
			return nil, fmt.Errorf("%w: image %d has no ref", ErrNotReport, i+1)
		}
	}
	for i, f := range res.Findings {
		if f.Ref.Scheme == "" || f.Code == "" || f.Severity == 0 {
			return nil, fmt.Errorf("%w: finding %d lacks its ref, code or severity", ErrNotReport, i+1)
		}
	}
	for i, e := range res.Errors {
		if e.Ref.Scheme == "" {
			return nil, fmt.Errorf("%w: error %d has no ref", ErrNotReport, i+1)
		}
		res.Errors[i].Err = errors.New(e.Message)
	}
	if s := res.Shard; s != nil && (s.Count < 1 || s.Count > audit.MaxShards || s.Index < 0 || s.Index >= s.Count) {
		return nil, fmt.Errorf("%w: shard %d of %d", ErrNotReport, s.Index, s.Count)
	}
	return &res, nil
}
