package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// regctlKit runs the pinned regctl against one loopback registry over
// plain HTTP, with a configuration of its own (no login, no Docker config).
type regctlKit struct {
	bin  string
	host string
	env  []string
}

func newRegctl(t *testing.T, host string) *regctlKit {
	t.Helper()
	home := t.TempDir()
	env := []string{"HOME=" + home, "REGCTL_CONFIG=" + filepath.Join(home, "regctl.json"), "DOCKER_CONFIG=" + filepath.Join(home, ".docker"), "PATH=" + os.Getenv("PATH")}
	return &regctlKit{bin: tool(t, "regctl"), host: host, env: env}
}

// run runs regctl with the registry declared as plain HTTP, stdin as its
// input, and returns its standard output.
func (k *regctlKit) run(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, append([]string{"--host", "reg=" + k.host + ",tls=disabled"}, args...)...)
	cmd.Env = k.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("regctl %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// referrerTypes lists the artifact types `regctl artifact tree` shows
// below subject.
func (k *regctlKit) referrerTypes(t *testing.T, subject string) []string {
	t.Helper()
	var tree struct {
		Referrer []struct {
			ArtifactType string `json:"artifactType"`
		} `json:"referrer"`
	}
	out := k.run(t, "", "artifact", "tree", "--format", "{{json .}}", subject)
	if err := json.Unmarshal([]byte(out), &tree); err != nil {
		t.Fatalf("regctl artifact tree %s: %v\n%s", subject, err, out)
	}
	var types []string
	for _, r := range tree.Referrer {
		types = append(types, r.ArtifactType)
	}
	return types
}

// TestReferrersWithRegctl attaches an SBOM to a healthy two-arch index
// with the real regctl (`artifact put --subject`), on a registry with the
// OCI 1.1 referrers API (the in-process one with referrers on) and on two
// without it (the in-process one with referrers off, and Debian's
// docker-registry), where regctl writes the fallback tag sha256-<hex>.
// `regctl artifact tree` confirms the attachment; mlaudit then audits the
// whole repository clean, exit 0, with and without
// --include-signature-tags (the referrers tag is checked on its own, for
// integrity only). Retagging 1.0 to a new build leaves the fallback tag's
// subject unreached: orphan-referrer, a warning, exit 0.
func TestReferrersWithRegctl(t *testing.T) {
	for _, reg := range []struct {
		name  string
		start func(t *testing.T) string
		// apiType is the artifact type regctl artifact tree shows: the
		// SBOM's, read from regctl's own fallback tag, except where the
		// registry's referrers API answers. go-containerregistry's
		// in-process registry gives the config's media type there (it
		// does not read the manifest's artifactType field).
		apiType string
	}{
		{"in-process registry with the referrers API", func(t *testing.T) string { return testregistry.InProcessWithReferrers(t, nil) }, "application/vnd.oci.empty.v1+json"},
		{"in-process registry without it", func(t *testing.T) string { return testregistry.InProcess(t, nil) }, "application/spdx+json"},
		{"Debian's docker-registry", func(t *testing.T) string { return testregistry.Distribution(t) }, "application/spdx+json"},
	} {
		t.Run(reg.name, func(t *testing.T) {
			host := reg.start(t)
			env := storytest.NewEnv(t, host)
			push := func(tag, salt string) string {
				amd, arm := env.Image("linux/amd64", stories.OCI, salt), env.Image("linux/arm64", stories.OCI, salt)
				return env.Push("sbom/app:"+tag, env.Index(stories.OCI,
					stories.Entry{Image: amd, Platform: "linux/amd64"}, stories.Entry{Image: arm, Platform: "linux/arm64"})).String()
			}
			target := push("1.0", "first build")
			repo := host + "/sbom/app"
			digest := resolve(t, target)
			rc := newRegctl(t, host)
			rc.run(t, `{"spdxVersion":"SPDX-2.3","name":"app"}`, "artifact", "put",
				"--subject", repo+"@"+digest, "--artifact-type", "application/spdx+json",
				"--annotation", "org.opencontainers.image.title=sbom.spdx.json")
			if got := rc.referrerTypes(t, repo+"@"+digest); !slices.Equal(got, []string{reg.apiType}) {
				t.Fatalf("regctl artifact tree: referrers %v, want the SBOM (%s)", got, reg.apiType)
			}
			// Every registry here gets the fallback tag: the in-process
			// one answers the manifest PUT without OCI-Subject even with
			// its referrers API on, and a client then writes the tag, as
			// the distribution specification says.
			fallbackTag := "sha256-" + strings.TrimPrefix(digest, "sha256:")
			if tags := strings.Fields(rc.run(t, "", "tag", "ls", repo)); !slices.Equal(tags, []string{"1.0", fallbackTag}) {
				t.Fatalf("tags %v, want 1.0 and the fallback tag %s", tags, fallbackTag)
			}

			for _, args := range [][]string{
				{"audit", "--format", "json", "--require", "linux/amd64,linux/arm64", repo},
				{"audit", "--format", "json", "--require", "linux/amd64,linux/arm64", "--include-signature-tags", repo},
			} {
				r := mlaudit(t, "", args...)
				rep := decode(t, r.stdout)
				if r.code != 0 || len(rep.Findings) != 0 {
					t.Errorf("mlaudit %s: exit %d, findings %v; want 0, none\n%s", strings.Join(args, " "), r.code, rep.Findings, r.stderr)
				}
			}

			// A retag: 1.0 now holds another build; the SBOM's subject is
			// stored but no tag reaches it.
			push("1.0", "second build")
			r := mlaudit(t, "", "audit", "--format", "json", repo)
			var orphans []string
			for _, f := range decode(t, r.stdout).Findings {
				orphans = append(orphans, string(f.Code)+" "+f.Ref.Tag)
			}
			want := []string{"orphan-referrer " + fallbackTag}
			if r.code != 0 || !slices.Equal(orphans, want) {
				t.Errorf("after the retag: exit %d, findings %v; want 0, %v\n%s", r.code, orphans, want, r.stderr)
			}
		})
	}
}
