package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"go.yaml.in/yaml/v3"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// runIn runs the binary in dir with stdin (nil for none) and env added.
func runIn(t *testing.T, dir string, stdin io.Reader, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir()), env...)
	return runBinary(t, cmd, stdin)
}

// pushTwoArch pushes a linux/amd64 + linux/arm64 index to an in-process
// registry and returns its reference.
func pushTwoArch(t *testing.T) (string, v1.ImageIndex, v1.Image) {
	t.Helper()
	e := storytest.NewEnv(t, testregistry.InProcess(t, nil))
	amd, arm := e.Image("linux/amd64", stories.OCI, "archive"), e.Image("linux/arm64", stories.OCI, "archive")
	idx := e.Index(stories.OCI, stories.Entry{Image: amd, Platform: "linux/amd64"}, stories.Entry{Image: arm, Platform: "linux/arm64"})
	return e.Push("build/app:1", idx).String(), idx, arm
}

// TestArchiveFromSkopeo: skopeo, an independent client, writes the OCI
// archive buildx would and the classic docker save form; mlaudit reads
// both in place, deep check included.
func TestArchiveFromSkopeo(t *testing.T) {
	target, _, _ := pushTwoArch(t)
	dir := t.TempDir()
	ociTar := filepath.Join(dir, "out.tar")
	skopeo(t, "copy", "--all", "--src-tls-verify=false", "docker://"+target, "oci-archive:"+ociTar+":1.0")
	saveTar := filepath.Join(dir, "save.tar")
	skopeo(t, "--override-arch", "arm64", "copy", "--src-tls-verify=false", "docker://"+target, "docker-archive:"+saveTar+":app:1.0")

	both := "linux/amd64,linux/arm64"
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--require", both, "--deep", "oci-archive:" + ociTar}, 0, "0 errors"},
		{[]string{"--require", both, "oci-archive:" + ociTar + ":1.0"}, 0, "0 errors"},
		{[]string{"--require", "linux/arm64", "--deep", "docker-archive:" + saveTar + ":app:1.0"}, 0, "0 errors"},
		{[]string{"--require", "linux/arm64", "docker-archive:" + saveTar}, 0, "0 errors"},
		{[]string{"--require", both, "docker-archive:" + saveTar + ":docker.io/library/app:1.0"}, 1, "linux/amd64"},
		{[]string{"--require", both, "oci-archive:" + ociTar + ":2.0"}, 3, "no image named"},
	} {
		r := mlaudit(t, "", append([]string{"audit"}, tc.args...)...)
		// The report wraps at 80 columns, where depends on the temporary
		// directory's name: compare words.
		words := strings.Join(strings.Fields(r.stdout+r.stderr), " ")
		if r.code != tc.code || !strings.Contains(words, tc.want) {
			t.Errorf("audit %v: exit %d, want %d saying %q\n%s%s", tc.args, r.code, tc.code, tc.want, r.stdout, r.stderr)
		}
	}
}

// TestArchiveStdin: an archive piped to oci-archive:- is read once, from a
// pipe (no seeking on standard input).
func TestArchiveStdin(t *testing.T) {
	target, _, _ := pushTwoArch(t)
	ociTar := filepath.Join(t.TempDir(), "out.tar")
	skopeo(t, "copy", "--all", "--src-tls-verify=false", "docker://"+target, "oci-archive:"+ociTar+":1.0")
	f, err := os.Open(ociTar)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pr, pw := io.Pipe()
	go func() { _, err := io.Copy(pw, f); pw.CloseWithError(err) }()
	r := runIn(t, t.TempDir(), pr, nil, "audit", "--require", "linux/amd64,linux/arm64", "--deep", "oci-archive:-")
	if r.code != 0 || !strings.Contains(r.stdout, "oci-archive:-:1.0") {
		t.Errorf("exit %d, want 0 with the entry named\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runIn(t, t.TempDir(), strings.NewReader("x"), nil, "audit", "--targets-file", "-", "oci-archive:-")
	if r.code != 2 || !strings.Contains(r.stderr, "--targets-file -") {
		t.Errorf("stdin used twice: exit %d, want 2\n%s", r.code, r.stderr)
	}
	r = runIn(t, t.TempDir(), strings.NewReader("not a tar at all, just text that is longer than a block"), nil, "audit", "oci-archive:-")
	if r.code != 2 || !strings.Contains(r.stderr, "standard input") {
		t.Errorf("garbage on stdin: exit %d, want 2\n%s", r.code, r.stderr)
	}
}

// TestArchiveContainerdStoreSave: the shape `docker save` writes with the
// containerd image store, built here as the engine writes it (an OCI
// layout: index.json pointing at the image's index, annotated with
// io.containerd.image.name and org.opencontainers.image.ref.name, and a
// manifest.json for older clients) for an engine that holds only
// linux/amd64: arm64's manifest was not exported.
func TestArchiveContainerdStoreSave(t *testing.T) {
	_, idx, arm := pushTwoArch(t)
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"io.containerd.image.name":          "docker.io/library/app:1.0",
		"org.opencontainers.image.ref.name": "1.0",
	})); err != nil {
		t.Fatal(err)
	}
	h := storytest.Digest(t, arm)
	if err := os.Remove(filepath.Join(dir, "blobs", h.Algorithm, h.Hex)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`[]`), 0o644); err != nil {
		t.Fatal(err)
	}
	save := filepath.Join(t.TempDir(), "save.tar")
	tarTree(t, dir, save)

	r := mlaudit(t, "", "audit", "--format", "json", "--require", "linux/amd64,linux/arm64", "docker-archive:"+save+":app:1.0")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	rep := decode(t, r.stdout)
	var found bool
	for _, f := range rep.Findings {
		if f.Code == "missing-child" && f.Digest == h.String() {
			found = true
		}
	}
	if !found {
		t.Errorf("want missing-child for arm64's manifest %s: %+v", h, rep.Findings)
	}
}

// TestPathLikeTargets: a target written as a path, or naming a file or
// directory that exists, is exit 2 with the reference it probably meant,
// and makes no network request at all (every connection would go through
// the counting proxy).
func TestPathLikeTargets(t *testing.T) {
	proxy, connections := connectionCounter(t)
	env := []string{"NO_PROXY=", "no_proxy=", "HTTPS_PROXY=http://" + proxy, "https_proxy=http://" + proxy, "HTTP_PROXY=http://" + proxy, "http_proxy=http://" + proxy}
	cwd := t.TempDir()
	if err := os.Mkdir(filepath.Join(cwd, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cwd, "image"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"audit", "./out.tar"}, "oci-archive:./out.tar"},
		{[]string{"audit", "out.tar"}, "docker-archive:out.tar"},
		{[]string{"audit", "out/"}, "oci:out"},
		{[]string{"audit", "out"}, "did you mean oci:out"},
		{[]string{"audit", "image"}, "did you mean oci-archive:image"},
		{[]string{"audit", "../build"}, "oci:../build"},
		{[]string{"audit", "/tmp/out"}, "oci:/tmp/out"},
		{[]string{"audit", "foo:bar/baz"}, `unknown transport "foo:"`},
		{[]string{"audit", "https://ghcr.io/org/app:1"}, "drop https://"},
		{[]string{"audit", "-"}, "did you mean oci-archive:- ("},
		{[]string{"audit", "oci-archive:missing.tar"}, "does not exist"},
		{[]string{"repair", "--require", "linux/amd64", "./out.tar"}, "oci-archive:./out.tar"},
		{[]string{"policy", "explain", "out"}, "oci:out"},
	} {
		connections.Store(0)
		r := runIn(t, cwd, nil, env, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 saying %q\n%s%s", tc.args, r.code, tc.want, r.stdout, r.stderr)
		}
		if n := connections.Load(); n != 0 {
			t.Errorf("%v: %d connections through the proxy", tc.args, n)
		}
	}
	if err := os.WriteFile(filepath.Join(cwd, "targets.txt"), []byte("out\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runIn(t, cwd, nil, env, "audit", "--targets-file", "targets.txt"); r.code != 2 || !strings.Contains(r.stderr, "targets.txt:1") || !strings.Contains(r.stderr, "oci:out") {
		t.Errorf("a path in a targets file: exit %d\n%s", r.code, r.stderr)
	}
}

// tarTree tars the files below dir into out.
func tarTree(t *testing.T, dir, out string) { storytest.TarDir(t, dir, "", out) }

// TestBuildxArchiveExample: the buildx workflow builds both platforms into
// an OCI archive without loading or pushing, audits the archive with
// --deep and --require, and pushes only after the audit step (a failing
// step stops the job).
func TestBuildxArchiveExample(t *testing.T) {
	raw, err := os.ReadFile(examples + "github-actions/buildx-archive.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Env  map[string]string
		Jobs map[string]struct {
			Steps []struct {
				Name, Uses, Run, If string
				With                map[string]any
			}
		}
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	if wf.Env["REQUIRE"] != "linux/amd64,linux/arm64" {
		t.Errorf("REQUIRE = %q", wf.Env["REQUIRE"])
	}
	steps := wf.Jobs["build-audit-push"].Steps
	build, audit, push := -1, -1, -1
	for i, s := range steps {
		switch {
		case strings.HasPrefix(s.Uses, "docker/build-push-action"):
			build = i
			if s.With["outputs"] != "type=oci,dest=out.tar" || s.With["push"] != false || s.With["platforms"] != "linux/amd64,linux/arm64" || s.With["load"] != nil {
				t.Errorf("the build should write both platforms to out.tar, no load, no push: %v", s.With)
			}
		case strings.Contains(s.Run, "mlaudit audit"):
			audit = i
			for _, want := range []string{"--deep", `--require "$REQUIRE"`, "oci-archive:out.tar", `exit "$status"`} {
				if !strings.Contains(s.Run, want) {
					t.Errorf("the audit step should have %s: %s", want, s.Run)
				}
			}
			if s.If != "" {
				t.Errorf("the audit step must always run: if %q", s.If)
			}
		case strings.Contains(s.Run, "skopeo copy --all oci-archive:out.tar"):
			push = i
			if s.If != "" {
				t.Errorf("the push must run only when every step before it passed: if %q", s.If)
			}
		}
	}
	if build < 0 || audit < build || push < audit {
		t.Errorf("want build, then audit, then push: steps %d, %d, %d", build, audit, push)
	}
	if strings.Contains(string(raw), "--load") && !strings.Contains(string(raw), "`--load` cannot") {
		t.Error("the workflow must not --load")
	}
}
