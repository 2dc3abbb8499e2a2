package report_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/report"
)

// TestJSONStreamsAsEncodingJSONWould: the JSON report, written image by
// image and finding by finding, is byte for byte what encoding/json
// writes for the whole report (two-space indent, no HTML escaping), with
// no images, with images and no findings, and with both.
func TestJSONStreamsAsEncodingJSONWould(t *testing.T) {
	var images []audit.Image
	var findings []audit.Finding
	for i := range 3 {
		r := storytest.Parse(t, fmt.Sprintf("registry.example.com/app:%d", i))
		images = append(images, audit.Image{Ref: r, Digest: "sha256:abc", MediaType: "application/vnd.oci.image.index.v1+json",
			Platforms: []audit.PlatformEntry{{Platform: "linux/amd64", Status: audit.StatusOK}, {Platform: "linux/arm64", Status: "missing"}}})
		findings = append(findings, audit.Finding{Ref: r, Code: audit.MissingPlatform, Severity: audit.Error, Platform: "linux/arm64",
			Message: "registry text <script>&\"quoted\"</script>", Hint: "fix it"})
	}
	cases := map[string]*audit.Result{
		"nothing":            {Images: []audit.Image{}, Findings: []audit.Finding{}, Errors: []audit.TargetError{}},
		"images, no finding": {Images: images, Findings: []audit.Finding{}, Errors: []audit.TargetError{}, CompletenessNotChecked: "not checked"},
		"both, and a shard": {Images: images, Findings: findings, Errors: []audit.TargetError{{Ref: images[0].Ref, Message: "<b>gone</b>"}},
			Shard: &audit.Shard{Index: 1, Count: 3}},
	}
	for name, r := range cases {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(struct {
			SchemaVersion int `json:"schemaVersion"`
			*audit.Result
		}{report.SchemaVersion, r}); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := report.RenderWith(&got, report.JSON, r, report.Options{}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%s: the streamed report differs from encoding/json's:\n got  %s\n want %s", name, got.String(), want.String())
		}
	}
}
