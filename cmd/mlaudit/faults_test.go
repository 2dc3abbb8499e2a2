package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// faultTargets are audited together; the faults break only the first.
var faultTargets = []string{"neko/firefox:latest", "komodo/periphery:latest", "aibrix/metadata-service:v0.3.0-rc.2"}

const brokenRepo = "/v2/neko/firefox/"

// TestFaultsOnOneTarget puts Debian's registry behind a proxy that breaks
// requests for one repository in each way registries, proxies and networks
// fail, and checks what mlaudit does: transient faults are retried away;
// lasting ones are a clear error for that target only, exit 3, and the
// other targets are still audited; nothing panics.
func TestFaultsOnOneTarget(t *testing.T) {
	upstream := testregistry.Distribution(t)
	seedStories(t, upstream)
	huge := bytes.Repeat([]byte(" "), 5<<20)
	manyEntries := thousandsOfEntries(12000)
	stalled := make(chan struct{})
	t.Cleanup(func() { close(stalled) })
	soon := time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)

	tests := []struct {
		name     string
		match    func(*http.Request) bool
		times    int
		fault    testregistry.Fault
		wantCode int
		want     string // in the broken target's errors, or its finding's code
	}{
		{"5xx once", testregistry.Path("GET", brokenRepo+"manifests/"), 1, testregistry.Status(503), 0, ""},
		{"5xx always", testregistry.Path("GET", brokenRepo+"manifests/"), 0, testregistry.Status(502), 3, "502 Bad Gateway"},
		{"connection reset once", testregistry.Path("GET", brokenRepo), 1, testregistry.Reset(), 0, ""},
		{"connection reset always", testregistry.Path("GET", brokenRepo), 0, testregistry.Reset(), 3, "EOF"},
		{"429 without Retry-After", testregistry.Path("GET", brokenRepo+"manifests/"), 2, testregistry.Status(429), 0, ""},
		{"429 with Retry-After as a date", testregistry.Path("GET", brokenRepo+"manifests/"), 1, testregistry.Status(429, "Retry-After", soon), 0, ""},
		{"429 asking to wait too long", testregistry.Path("GET", brokenRepo+"manifests/"), 0, testregistry.Status(429, "Retry-After", "3600"), 3, "asks to wait 1h0m0s"},
		{"stall", testregistry.Path("GET", brokenRepo+"manifests/"), 0, testregistry.Stall(stalled), 3, "did not answer within"},
		{"truncated body", testregistry.Path("GET", brokenRepo+"manifests/"), 0, testregistry.Truncate(40), 3, "unexpected EOF"},
		{"Content-Length short of the body", testregistry.Path("GET", brokenRepo+"manifests/latest"), 0, testregistry.ShortLength(30), 1, "digest-mismatch"},
		{"invalid JSON", testregistry.Path("GET", brokenRepo+"manifests/latest"), 0, testregistry.Body("application/vnd.oci.image.index.v1+json", []byte(`{"schemaVersion":2,"manifests":[`)), 3, "not valid JSON"},
		{"HTML instead of a manifest", testregistry.Path("GET", brokenRepo+"manifests/latest"), 0, testregistry.Body("text/html", []byte("<html>proxy login</html>")), 3, "is this a registry"},
		{"manifest over 4 MiB", testregistry.Path("GET", brokenRepo+"manifests/latest"), 0, testregistry.Body("application/vnd.oci.image.index.v1+json", huge), 3, "larger than 4194304 bytes"},
		{"config over the cap", testregistry.Path("GET", brokenRepo+"blobs/"), 0, testregistry.Body("application/octet-stream", bytes.Repeat([]byte("x"), 9<<20)), 3, "larger than 8388608 bytes"},
		{"an index of 12,000 entries", testregistry.Path("GET", brokenRepo+"manifests/latest"), 0, testregistry.Body("application/vnd.oci.image.index.v1+json", manyEntries), 3, "12000 entries, more than the 10000"},
		{"401", testregistry.Path("", brokenRepo), 0, testregistry.Status(401, "Content-Type", "application/json"), 3, "docker login"},
		{"403", testregistry.Path("", brokenRepo), 0, testregistry.Status(403), 3, "may not read this repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			faults := (&testregistry.Faults{}).Add(tt.match, tt.times, tt.fault)
			host := faults.Proxy(t, upstream)
			args := []string{"audit", "--format", "json", "--no-cache", "--retries", "2", "--timeout", "1s"}
			for _, target := range faultTargets {
				args = append(args, host+"/"+target)
			}
			r := mlaudit(t, "", args...)
			rep := decode(t, r.stdout)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d\nerrors: %v", r.code, tt.wantCode, rep.Errors)
			}
			audited := map[string]bool{}
			for _, img := range rep.Images {
				audited[strings.TrimPrefix(img.Ref.String(), host+"/")] = true
			}
			for _, other := range faultTargets[1:] {
				if !audited[other] {
					t.Errorf("%s was not audited: one failing target must not hide the others", other)
				}
			}
			switch tt.wantCode {
			case 3:
				// One error per unreadable piece (an index's three configs
				// are three errors), all about the broken target.
				if len(rep.Errors) == 0 {
					t.Errorf("no error reported; want one for neko/firefox saying %q", tt.want)
				}
				for _, e := range rep.Errors {
					if !strings.Contains(e.Ref.String(), "neko/firefox") || !strings.Contains(e.Message, tt.want) {
						t.Errorf("error %v; want it about neko/firefox saying %q", e, tt.want)
					}
				}
			case 1:
				if len(rep.Findings) == 0 || string(rep.Findings[0].Code) != tt.want || !strings.Contains(rep.Findings[0].Ref.String(), "neko/firefox") {
					t.Errorf("findings = %v; want %s for neko/firefox", rep.Findings, tt.want)
				}
			default:
				if len(rep.Errors) != 0 {
					t.Errorf("a transient fault should be retried away: %v", rep.Errors)
				}
			}
		})
	}
}

// thousandsOfEntries is an index listing n (absent) images.
func thousandsOfEntries(n int) []byte {
	type desc struct {
		MediaType string            `json:"mediaType"`
		Size      int               `json:"size"`
		Digest    string            `json:"digest"`
		Platform  map[string]string `json:"platform"`
	}
	idx := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Manifests     []desc `json:"manifests"`
	}{2, "application/vnd.oci.image.index.v1+json", nil}
	for i := 0; i < n; i++ {
		idx.Manifests = append(idx.Manifests, desc{"application/vnd.oci.image.manifest.v1+json", 500, fmt.Sprintf("sha256:%064x", i), map[string]string{"os": "linux", "architecture": "amd64"}})
	}
	b, _ := json.Marshal(idx)
	return b
}
