package report_test

import (
	"os"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/report"
)

// A Windows list whose newer entry's config names the older os.version.
func ExampleRender() {
	agent, err := ref.Parse("registry.example.com/tools/agent:2.0")
	if err != nil {
		panic(err)
	}
	r := &audit.Result{
		Images: []audit.Image{{
			Ref:       agent,
			Digest:    "sha256:5f1d0c2a9e8b7f6a5d4c3b2a19080706050403020100ffeeddccbbaa99887766",
			MediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
			Platforms: []audit.PlatformEntry{
				{Platform: "windows(10.0.17763.5458)/amd64", ConfigPlatform: "windows(10.0.17763.5458)/amd64", Digest: "sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9", Status: audit.StatusOK},
				{Platform: "windows(10.0.20348.2227)/amd64", ConfigPlatform: "windows(10.0.17763.5458)/amd64", Digest: "sha256:9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0", Status: audit.StatusMismatch},
			},
		}},
		Findings: []audit.Finding{{
			Ref: agent, Code: audit.PlatformMismatch, Severity: audit.Error,
			Platform: "windows(10.0.20348.2227)/amd64",
			Message:  "the index lists sha256:9f8e7d6c5b4a as windows(10.0.20348.2227)/amd64 but its config says windows(10.0.17763.5458)/amd64",
			Hint:     audit.PlatformMismatch.Info().Hint,
		}},
	}
	_ = report.Render(os.Stdout, report.Table, r)
	// Output:
	// registry.example.com/tools/agent:2.0
	// Docker manifest list sha256:5f1d0c2a9e8b
	// +-------------------+-------------------+--------------+----------+
	// | PLATFORM          | CONFIG            | DIGEST       | STATUS   |
	// +-------------------+-------------------+--------------+----------+
	// | windows/amd64     | windows/amd64     | 0a1b2c3d4e5f | OK       |
	// | (10.0.17763.5458) | (10.0.17763.5458) |              |          |
	// | windows/amd64     | windows/amd64     | 9f8e7d6c5b4a | MISMATCH |
	// | (10.0.20348.2227) | (10.0.17763.5458) |              |          |
	// +-------------------+-------------------+--------------+----------+
	// ERROR   platform-mismatch  windows(10.0.20348.2227)/amd64  .../tools/agent:2.0
	//         the index lists sha256:9f8e7d6c5b4a as windows(10.0.20348.2227)/amd64
	//         but its config says windows(10.0.17763.5458)/amd64
	//         fix: Rebuild the image for the platform the index claims, or re-create
	//              the index with the platform from the image config (`mlaudit repair
	//              --fix`).
	//
	// FAILING (1 of 1 image)
	//   registry.example.com/tools/agent:2.0
	//
	// 1 image audited: 1 error, 0 warnings.
}
