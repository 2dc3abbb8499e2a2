package main

import (
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// TestRequireSignaturesWithCosign signs an index with the real cosign
// (offline: a generated key, no transparency log), so that
// --require-signatures index passes while its unsigned children fail
// children; then signs one child as an OCI 1.1 referrer
// (--registry-referrers-mode oci-1-1) on a registry with the referrers
// API, found through it.
func TestRequireSignaturesWithCosign(t *testing.T) {
	cs := newCosign(t)
	host := testregistry.InProcessWithReferrers(t, nil)
	env := storytest.NewEnv(t, host)
	amd, arm := env.Image("linux/amd64", stories.OCI, "signed"), env.Image("linux/arm64", stories.OCI, "signed")
	target := env.Push("signed/app:1.0", env.Index(stories.OCI,
		stories.Entry{Image: amd, Platform: "linux/amd64"}, stories.Entry{Image: arm, Platform: "linux/arm64"})).String()
	repo := host + "/signed/app"
	cs.sign(t, repo+"@"+resolve(t, target))

	audit := func(scope string) (int, []string) {
		t.Helper()
		r := mlaudit(t, "", "audit", "--format", "json", "--require-signatures", scope, target)
		var got []string
		for _, f := range decode(t, r.stdout).Findings {
			got = append(got, string(f.Code)+" "+f.Platform)
		}
		return r.code, got
	}
	if code, got := audit("index"); code != 0 || len(got) != 0 {
		t.Errorf("index signed by cosign: exit %d, findings %v; want 0, none", code, got)
	}
	if code, got := audit("children"); code != 1 || strings.Join(got, ",") != "unsigned linux/amd64,unsigned linux/arm64" {
		t.Errorf("children unsigned: exit %d, findings %v; want 1, unsigned for both", code, got)
	}

	// One child signed as an OCI 1.1 referrer: only the other fails.
	amdDigest := storytest.Digest(t, amd).String()
	cs.env = append(cs.env, "COSIGN_EXPERIMENTAL=1")
	if _, err := cs.run(t, "sign", "--key", "cosign.key", "--tlog-upload=false", "--allow-http-registry", "--yes",
		"--registry-referrers-mode", "oci-1-1", repo+"@"+amdDigest); err != nil {
		t.Fatal(err)
	}
	if code, got := audit("all"); code != 1 || strings.Join(got, ",") != "unsigned linux/arm64" {
		t.Errorf("amd64 signed as a referrer: exit %d, findings %v; want 1, unsigned linux/arm64 only", code, got)
	}
}
