package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// Repairs written to OCI archives (--to oci-archive:FILE:TAG), read back
// with skopeo, an independent client, and audited again.

// TestRepairToNewArchive: --to an archive that does not exist yet creates
// it, whole, with no temporary file or directory left beside it; skopeo
// reads and copies it, and it audits clean. Standard input and docker
// saves are refused before any plan.
func TestRepairToNewArchive(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	env := storytest.NewEnv(t, host)
	target := env.Push("app:1", env.Image("linux/amd64", stories.OCI, "new archive"))
	arm := env.Push("app:1-arm64", env.Image("linux/arm64", stories.OCI, "new archive"))
	dir := t.TempDir()
	file := filepath.Join(dir, "out.tar")
	to := "oci-archive:" + file + ":1.0"
	both := "linux/amd64,linux/arm64"
	r := mlaudit(t, "", "repair", "--apply", "--to", to, "--require", both, "--from", arm.String(), target.String())
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	raw := string(skopeo(t, "inspect", "--raw", to))
	for _, want := range []string{`"architecture":"amd64"`, `"architecture":"arm64"`} {
		if !strings.Contains(raw, want) {
			t.Errorf("skopeo reads no %s in the archive's index:\n%s", want, raw)
		}
	}
	skopeo(t, "copy", "--all", to, "oci:"+filepath.Join(t.TempDir(), "copy")+":1.0")
	if a := mlaudit(t, "", "audit", "--require", both, to); a.code != 0 {
		t.Errorf("audit of the new archive: exit %d\n%s%s", a.code, a.stdout, a.stderr)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("beside the archive: %v (%v), want only out.tar", entries, err)
	}
	after := mlaudit(t, "", "audit", "--format", "json", target.String())
	if rep := decode(t, after.stdout); rep.Images[0].MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("--to must leave the target alone; it holds %s", rep.Images[0].MediaType)
	}

	for dest, want := range map[string]string{
		"oci-archive:-:1.0":                   "standard input",
		"docker-archive:" + file + ":app:1.0": "oci-archive:",
	} {
		r := mlaudit(t, "", "repair", "--apply", "--to", dest, "--require", both, "--from", arm.String(), target.String())
		if r.code != 2 || !strings.Contains(r.stderr, "--to") || !strings.Contains(r.stderr, want) || r.stdout != "" {
			t.Errorf("--to %s should be refused before any plan, exit 2 saying %q: exit %d\n%s%s", dest, want, r.code, r.stdout, r.stderr)
		}
	}
}

// TestRepairIntoExistingArchive: a repair written into an archive that
// exists keeps its other entries, backs the old tag up inside it, and
// moves the tag; skopeo reads every tag.
func TestRepairIntoExistingArchive(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	env := storytest.NewEnv(t, host)
	amd := env.Push("app:1", env.Image("linux/amd64", stories.OCI, "existing archive"))
	arm := env.Push("app:1-arm64", env.Image("linux/arm64", stories.OCI, "existing archive"))
	other := env.Push("other:1", env.Image("linux/s390x", stories.OCI, "existing archive"))
	file := filepath.Join(t.TempDir(), "out.tar")
	skopeo(t, "copy", "--src-tls-verify=false", "docker://"+amd.String(), "oci-archive:"+file+":1.0")
	// skopeo replaces an archive it writes to: add the other entry with
	// mlaudit, which keeps what is there.
	if r := mlaudit(t, "", "repair", "--apply", "--to", "oci-archive:"+file+":other", "--from", other.String(), "--require", "linux/s390x", other.String()); r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	to := "oci-archive:" + file + ":1.0"
	both := "linux/amd64,linux/arm64"
	r := mlaudit(t, "", "repair", "--apply", "--backup-tag", "{tag}-backup", "--require", both, "--from", arm.String(), to)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if a := mlaudit(t, "", "audit", "--require", both, to); a.code != 0 {
		t.Errorf("audit of the repaired tag: exit %d\n%s%s", a.code, a.stdout, a.stderr)
	}
	for tag, want := range map[string]string{"1.0": `"architecture":"arm64"`, "1.0-backup": `"layers"`, "other": `"layers"`} {
		if raw := string(skopeo(t, "inspect", "--raw", "oci-archive:"+file+":"+tag)); !strings.Contains(raw, want) {
			t.Errorf("skopeo reads %s as:\n%s", tag, raw)
		}
	}
	if a := mlaudit(t, "", "audit", "--require", "linux/s390x", "oci-archive:"+file+":other"); a.code != 0 {
		t.Errorf("the other entry was not kept whole: exit %d\n%s%s", a.code, a.stdout, a.stderr)
	}
}
