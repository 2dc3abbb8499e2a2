package report_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/report"
)

// TestReadJSONRoundTrip reads back what the json format writes: the same
// report again, byte for byte.
func TestReadJSONRoundTrip(t *testing.T) {
	in := sample()
	in.Shard = &audit.Shard{Index: 1, Count: 3}
	in.Images[0].Platforms[0].Binaries = nil
	var first bytes.Buffer
	if err := report.Render(&first, report.JSON, in); err != nil {
		t.Fatal(err)
	}
	got, err := report.ReadJSON(bytes.NewReader(first.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got.Errors[0].Err == nil || got.Errors[0].Err.Error() != in.Errors[0].Message {
		t.Errorf("an error read back should carry its message as Err: %v", got.Errors[0].Err)
	}
	var second bytes.Buffer
	if err := report.Render(&second, report.JSON, got); err != nil {
		t.Fatal(err)
	}
	if first.String() != second.String() {
		t.Errorf("the report read back renders differently:\n%s\n%s", first.String(), second.String())
	}
}

// TestReadJSONRefusesWhatIsNotAReport: every bad input is an error
// wrapping ErrNotReport that says what is wrong, never a panic.
func TestReadJSONRefusesWhatIsNotAReport(t *testing.T) {
	valid := `{"schemaVersion":1,"images":[],"findings":[],"errors":[],"stats":{}}`
	tests := []struct{ name, in, want string }{
		{"empty", "", "EOF"},
		{"not JSON", "mlaudit: 3 images audited", "invalid character"},
		{"truncated", valid[:30], "unexpected EOF"},
		{"null", "null", "no schemaVersion"},
		{"an array", "[]", "cannot unmarshal array"},
		{"no schema version", `{"images":[]}`, "no schemaVersion"},
		{"another schema version", `{"schemaVersion":2,"images":[]}`, "schemaVersion 2"},
		{"two reports", valid + valid, "something follows"},
		{"a bad reference", `{"schemaVersion":1,"images":[{"ref":"Not A Ref"}]}`, "Not A Ref"},
		{"an image without a reference", `{"schemaVersion":1,"images":[{"digest":"sha256:00"}]}`, "image 1 has no ref"},
		{"a finding without severity", `{"schemaVersion":1,"findings":[{"ref":"r.example.com/a:1","code":"missing-platform"}]}`, "finding 1"},
		{"an unknown severity", `{"schemaVersion":1,"findings":[{"ref":"r.example.com/a:1","code":"x","severity":"fatal"}]}`, "fatal"},
		{"an error without a reference", `{"schemaVersion":1,"errors":[{"message":"x"}]}`, "error 1 has no ref"},
		{"a shard out of range", `{"schemaVersion":1,"shard":{"index":3,"count":3}}`, "shard 3 of 3"},
		{"a shard of too many", `{"schemaVersion":1,"shard":{"index":0,"count":1099511627776}}`, "shard 0 of 1099511627776"},
		{"too large", `{"schemaVersion":1,"images":[],"x":"` + strings.Repeat("a", 2<<10) + `"}`, "larger than 1024 bytes"},
		{"too large after the report", valid + strings.Repeat(" ", 2<<10) + "{}", "larger than 1024 bytes"},
	}
	for _, tt := range tests {
		r, err := report.ReadJSONLimit(strings.NewReader(tt.in), 1<<10)
		if !errors.Is(err, report.ErrNotReport) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v (result %v); want ErrNotReport saying %q", tt.name, err, r, tt.want)
		}
	}
	r, err := report.ReadJSON(strings.NewReader(valid + "\n"))
	if err != nil || r.Images == nil || r.Findings == nil || r.Errors == nil {
		t.Errorf("a valid report: %v, %+v", err, r)
	}
	// An endless stream stops at the limit.
	_, err = report.ReadJSONLimit(io.MultiReader(strings.NewReader(`{"schemaVersion":1,"x":"`), endless{}), 1<<10)
	if !errors.Is(err, report.ErrNotReport) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("an endless report: %v", err)
	}
}

// endless reads 'a' forever.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}
