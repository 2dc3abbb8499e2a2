package repair_test

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/registry"
	"github.com/mlaudit/mlaudit/repair"
)

// env is one registry for a repair test.
type env struct{ *storytest.Env }

func newEnv(t *testing.T) *env {
	return &env{storytest.NewEnv(t, testregistry.InProcess(t, nil))}
}

// onBothRegistries runs test against go-containerregistry's in-process
// registry and Debian's docker-registry.
func onBothRegistries(t *testing.T, test func(t *testing.T, e *env)) {
	t.Run("in-process", func(t *testing.T) { test(t, newEnv(t)) })
	t.Run("distribution", func(t *testing.T) {
		test(t, &env{storytest.NewEnv(t, testregistry.Distribution(t))})
	})
}

func (e *env) prepare(req repair.Request) *repair.Plan {
	e.T.Helper()
	p, err := repair.Prepare(context.Background(), e.Client, req)
	if err != nil {
		e.T.Fatal(err)
	}
	return p
}

func (e *env) resolve(r ref.Ref) string {
	e.T.Helper()
	d, err := e.Client.Resolve(context.Background(), r)
	if err != nil {
		e.T.Fatal(err)
	}
	return d
}

func entry(img mutate.Appendable, p string) stories.Entry {
	return stories.Entry{Image: img, Platform: p}
}

func require(t testing.TB, s string) []specs.Platform {
	t.Helper()
	p, err := platform.ParseList(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// rows writes a plan's rows as "action platform", sorted, attestations as
// "action attestation".
func rows(p *repair.Plan) string {
	var out []string
	for _, r := range p.Rows {
		if r.Attestation {
			out = append(out, string(r.Action)+" attestation")
		} else {
			out = append(out, string(r.Action)+" "+r.Platform)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func codes(fs []audit.Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, string(f.Code))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// auditClean audits ref as it is now and fails on any finding or error.
func (e *env) auditClean(at ref.Ref, req string) *audit.Result {
	e.T.Helper()
	r := audit.Run(context.Background(), testregistry.Client(e.T), []audit.Target{{Ref: at, Require: require(e.T, req)}}, audit.Options{})
	if len(r.Errors) > 0 || len(r.Findings) > 0 {
		e.T.Fatalf("%s is not clean after the repair: errors %v, findings %v", at, r.Errors, r.Findings)
	}
	return r
}

// TestAIBrixFromPerArchTags: the arm64 job overwrote the list; the per-arch
// tags rebuild it, the old index is kept under a backup tag and by digest.
func TestAIBrixFromPerArchTags(t *testing.T) { onBothRegistries(t, testAIBrix) }

func testAIBrix(t *testing.T, e *env) {
	amd, arm := e.Image("linux/amd64", stories.Docker, "rt"), e.Image("linux/arm64", stories.Docker, "rt")
	e.Push("runtime:v1-amd64", amd)
	e.Push("runtime:v1-arm64", arm)
	target := e.Push("runtime:v1", e.Index(stories.Docker, entry(arm, "linux/arm64")))
	old := e.resolve(target)

	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	p := e.prepare(repair.Request{Target: target, PerArch: []string{"{tag}-{arch}"}, Require: require(t, "linux/amd64,linux/arm64"), Backup: "{tag}-backup-{date}", Now: now})
	if got, want := rows(p), "add linux/amd64, keep linux/arm64"; got != want {
		t.Fatalf("rows = %s, want %s", got, want)
	}
	if !p.OK() || !p.Changed || p.MediaType != string(types.DockerManifestList) {
		t.Fatalf("plan: ok=%v changed=%v mediaType=%s findings=%v", p.OK(), p.Changed, p.MediaType, p.Findings)
	}
	if e.resolve(target) != old {
		t.Fatal("Prepare must write nothing")
	}
	applied, err := repair.Apply(context.Background(), e.Client, p, repair.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !applied.Moved || e.resolve(target) != p.NewDigest {
		t.Fatalf("the tag should hold the new index %s, holds %s", p.NewDigest, e.resolve(target))
	}
	if applied.Backup == nil || applied.Backup.String() != e.Host+"/runtime:v1-backup-20261123" || e.resolve(*applied.Backup) != old {
		t.Errorf("backup %s should hold the old index %s", applied.Backup, old)
	}
	if _, err := e.Client.Fetch(context.Background(), target.WithDigest(old)); err != nil {
		t.Errorf("the old index must stay fetchable by digest: %v", err)
	}
	e.auditClean(target, "linux/amd64,linux/arm64")
}

// TestKomodoWrongSourceIsRejected: latest-aarch64 holds amd64, so it is
// never used as the arm64 image.
func TestKomodoWrongSourceIsRejected(t *testing.T) {
	e := newEnv(t)
	amd := e.Image("linux/amd64", stories.OCI, "periphery")
	source := e.Push("periphery:latest-aarch64", e.Image("linux/amd64", stories.OCI, "built on amd64"))
	target := e.Push("periphery:latest", e.Index(stories.OCI, entry(amd, "linux/amd64")))
	p := e.prepare(repair.Request{Target: target, From: []ref.Ref{source}, Require: require(t, "linux/amd64,linux/arm64")})
	if got, want := rows(p), "keep linux/amd64, reject linux/amd64"; got != want {
		t.Fatalf("rows = %s, want %s", got, want)
	}
	if p.OK() || codes(p.Findings) != "missing-platform" {
		t.Fatalf("without an arm64 image the plan must be refused: %v", p.Findings)
	}
	for _, r := range p.Rows {
		if r.Action == repair.Reject && !strings.Contains(r.Reason, "tag-platform-mismatch") {
			t.Errorf("the rejection should say why: %q", r.Reason)
		}
	}
	before := e.resolve(target)
	if _, err := repair.Apply(context.Background(), e.Client, p, repair.ApplyOptions{}); !errors.Is(err, repair.ErrUnsatisfied) {
		t.Fatalf("Apply of a refused plan: err = %v, want ErrUnsatisfied", err)
	}
	if e.resolve(target) != before {
		t.Fatal("a refused repair must leave the tag as it was")
	}
}

func TestWrongEntries(t *testing.T) {
	tests := []struct {
		name     string
		fix      bool
		from     bool // add a correct arm64 source with an attestation
		wantRows string
		wantOK   bool
	}{
		{name: "replaced by a source", from: true, wantRows: "add attestation, drop attestation, keep linux/amd64, replace linux/arm64", wantOK: true},
		{name: "relabelled by --fix, then a duplicate of amd64", fix: true, wantRows: "drop attestation, drop linux/arm64, keep linux/amd64", wantOK: false},
		{name: "left as they are", wantRows: "keep attestation, keep linux/amd64, keep linux/arm64", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			amd := e.Image("linux/amd64", stories.OCI, "app")
			fake := e.Image("linux/amd64", stories.OCI, "app built FROM amd64")
			target := e.Push("app:1", e.Index(stories.OCI, entry(amd, "linux/amd64"), entry(fake, "linux/arm64"), e.Attest(fake)))
			req := repair.Request{Target: target, Fix: tt.fix, Require: require(t, "linux/amd64,linux/arm64")}
			if tt.from {
				arm := e.Image("linux/arm64", stories.OCI, "app")
				req.From = []ref.Ref{e.Push("app:1-arm64", e.Index(stories.OCI, entry(arm, "linux/arm64"), e.Attest(arm)))}
			}
			p := e.prepare(req)
			if got := rows(p); got != tt.wantRows {
				t.Errorf("rows = %s, want %s", got, tt.wantRows)
			}
			if p.OK() != tt.wantOK {
				t.Errorf("OK = %v, want %v (findings %v)", p.OK(), tt.wantOK, p.Findings)
			}
		})
	}
}

func TestMissingChild(t *testing.T) {
	e := newEnv(t)
	amd, arm := e.Image("linux/amd64", stories.OCI, "b"), e.Image("linux/arm64", stories.OCI, "b")
	target := e.Push("broken:1", e.Index(stories.OCI, entry(amd, "linux/amd64"), entry(arm, "linux/arm64")))
	e.Delete("broken", arm)
	req := require(t, "linux/amd64,linux/arm64")

	p := e.prepare(repair.Request{Target: target, Fix: true, Require: req})
	if got := rows(p); got != "drop linux/arm64, keep linux/amd64" || p.OK() {
		t.Errorf("--fix alone drops the entry and is then missing arm64: rows %s, ok %v", got, p.OK())
	}
	source := e.Push("other:arm64", e.Image("linux/arm64", stories.OCI, "rebuilt"))
	p = e.prepare(repair.Request{Target: target, From: []ref.Ref{source}, Require: req})
	if got := rows(p); got != "keep linux/amd64, replace linux/arm64" || !p.OK() {
		t.Fatalf("a source replaces the missing child: rows %s, findings %v", got, p.Findings)
	}
	if _, err := repair.Apply(context.Background(), e.Client, p, repair.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	e.auditClean(target, "linux/amd64,linux/arm64")
}

func TestNewTagFromSourcesAcrossRepositories(t *testing.T) {
	e := newEnv(t)
	amd, arm := e.Image("linux/amd64", stories.Docker, "legacy"), e.Image("linux/arm/v7", stories.Docker, "legacy")
	sources := []ref.Ref{e.Push("legacy/app:amd64-1.0", amd), e.Push("legacy/app:arm32v7-1.0", arm)}
	target := e.Ref("new/app:1.0")
	p := e.prepare(repair.Request{Target: target, From: sources, Require: require(t, "linux/amd64,linux/arm/v7"), Backup: "{tag}-backup"})
	if p.OldDigest != "" || rows(p) != "add linux/amd64, add linux/arm/v7" || p.MediaType != string(types.DockerManifestList) || p.Backup != nil {
		t.Fatalf("plan: old %q rows %s type %s backup %v", p.OldDigest, rows(p), p.MediaType, p.Backup)
	}
	if _, err := repair.Apply(context.Background(), e.Client, p, repair.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	e.auditClean(target, "linux/amd64,linux/arm/v7")
	if d := e.resolve(e.Ref("new/app:1.0-backup")); d != "" {
		t.Errorf("no backup is made of a tag that did not exist, got %s", d)
	}
}

func TestToLayoutAndSingleImageTarget(t *testing.T) {
	e := newEnv(t)
	target := e.Push("single:1", e.Image("linux/amd64", stories.OCI, "single"))
	source := e.Push("single:1-arm64", e.Image("linux/arm64", stories.OCI, "single"))
	dest := storytest.Parse(t, "oci:"+filepath.Join(t.TempDir(), "out")+":1")
	p := e.prepare(repair.Request{Target: target, From: []ref.Ref{source}, To: dest, Require: require(t, "linux/amd64,linux/arm64")})
	if rows(p) != "add linux/arm64, keep linux/amd64" || !p.Dest.Equal(dest) {
		t.Fatalf("rows %s dest %s", rows(p), p.Dest)
	}
	if _, err := repair.Apply(context.Background(), e.Client, p, repair.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	e.auditClean(dest, "linux/amd64,linux/arm64")
	if d := e.resolve(target); d == p.NewDigest {
		t.Error("--to must leave the target alone")
	}
}

func TestAnnotationsPreferSourcesAndSignatureNotes(t *testing.T) {
	e := newEnv(t)
	amd, arm := e.Image("linux/amd64", stories.OCI, "a"), e.Image("linux/arm64", stories.OCI, "a")
	idx := mutate.Annotations(e.Index(stories.OCI, entry(amd, "linux/amd64"), entry(arm, "linux/arm64")), map[string]string{"org.opencontainers.image.version": "1.0"}).(v1.ImageIndex)
	target := e.Push("app:1", idx)
	old := e.resolve(target)
	oldHash, _ := v1.NewHash(old)
	e.Push("app:sha256-"+oldHash.Hex+".sig", e.Image("linux/amd64", stories.OCI, "a signature stand-in"))
	newer := e.Push("app:1-amd64", e.Image("linux/amd64", stories.OCI, "newer build"))

	p := e.prepare(repair.Request{Target: target, PerArch: []string{"{tag}-{arch}"}})
	if p.Changed || rows(p) != "keep linux/amd64, keep linux/arm64, skip linux/amd64" {
		t.Errorf("a correct entry is kept over a source: changed %v rows %s", p.Changed, rows(p))
	}
	p = e.prepare(repair.Request{Target: target, From: []ref.Ref{newer}, PreferSources: true})
	if rows(p) != "keep linux/arm64, replace linux/amd64" {
		t.Errorf("--prefer-sources replaces it: rows %s", rows(p))
	}
	if !strings.Contains(string(p.Manifest), `"org.opencontainers.image.version":"1.0"`) {
		t.Errorf("index annotations must be kept: %s", p.Manifest)
	}
	if len(p.Signatures) != 1 || p.Signatures[0].Ref.Tag != "sha256-"+oldHash.Hex+".sig" || !p.Unsigned() {
		t.Errorf("the signature tag of the old digest should be listed: %v", p.Signatures)
	}
}

// movingWriter moves the target to another image right after the new
// index is pushed: another job won the race.
type movingWriter struct {
	*registry.Client
	target ref.Ref
	other  v1.Image
}

func (m *movingWriter) PushManifest(ctx context.Context, dest ref.Ref, raw []byte, mt types.MediaType, from func(v1.Hash) ref.Ref) error {
	if err := m.Client.PushManifest(ctx, dest, raw, mt, from); err != nil {
		return err
	}
	return m.Client.Push(ctx, m.target, m.other)
}

func TestConcurrentTagMoveIsDetected(t *testing.T) { onBothRegistries(t, testConcurrentMove) }

func testConcurrentMove(t *testing.T, e *env) {
	arm := e.Image("linux/arm64", stories.OCI, "race")
	e.Push("race:1-amd64", e.Image("linux/amd64", stories.OCI, "race"))
	target := e.Push("race:1", e.Index(stories.OCI, entry(arm, "linux/arm64")))
	p := e.prepare(repair.Request{Target: target, PerArch: []string{"{tag}-{arch}"}, Backup: "{tag}-backup"})
	other := e.Image("linux/s390x", stories.OCI, "the other job's push")
	w := &movingWriter{Client: e.Client, target: target, other: other}
	_, err := repair.Apply(context.Background(), w, p, repair.ApplyOptions{})
	if !errors.Is(err, repair.ErrChanged) {
		t.Fatalf("err = %v, want ErrChanged", err)
	}
	otherDigest, _ := other.Digest()
	if got := e.resolve(target); got != otherDigest.String() {
		t.Errorf("the tag must keep the other job's push %s, holds %s", otherDigest, got)
	}
	if got := e.resolve(e.Ref("race:1-backup")); got != "" {
		t.Errorf("no backup tag is written when the tag changed, got %s", got)
	}
	if _, err := e.Client.Fetch(context.Background(), target.WithDigest(p.NewDigest)); err != nil {
		t.Errorf("the new index is pushed by digest before the check: %v", err)
	}
}

func TestBackupTagNeverOverwritesAnotherManifest(t *testing.T) {
	e := newEnv(t)
	arm := e.Image("linux/arm64", stories.OCI, "bak")
	e.Push("bak:1-amd64", e.Image("linux/amd64", stories.OCI, "bak"))
	target := e.Push("bak:1", e.Index(stories.OCI, entry(arm, "linux/arm64")))
	taken := e.Push("bak:1-backup", e.Image("linux/s390x", stories.OCI, "something else"))
	held := e.resolve(taken)
	old := e.resolve(target)
	p := e.prepare(repair.Request{Target: target, PerArch: []string{"{tag}-{arch}"}, Backup: "{tag}-backup"})
	_, err := repair.Apply(context.Background(), e.Client, p, repair.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "already holds") {
		t.Fatalf("err = %v, want a refusal to overwrite the backup tag", err)
	}
	if e.resolve(taken) != held || e.resolve(target) != old {
		t.Error("neither the backup tag nor the target may move")
	}
}

// TestAcrossRegistries builds a list on Debian's registry from images that
// live only on another registry: children are copied, layers included.
func TestAcrossRegistries(t *testing.T) {
	src := newEnv(t)
	amd := src.Push("team/app:amd64", src.Image("linux/amd64", stories.OCI, "across"))
	arm := src.Push("team/app:arm64", src.Image("linux/arm64", stories.OCI, "across"))
	dst := &env{storytest.NewEnv(t, testregistry.Distribution(t))}
	target := dst.Ref("mirror/app:1")
	p := dst.prepare(repair.Request{Target: target, From: []ref.Ref{amd, arm}, Require: require(t, "linux/amd64,linux/arm64")})
	if _, err := repair.Apply(context.Background(), dst.Client, p, repair.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	dst.auditClean(target, "linux/amd64,linux/arm64")
	// The layers came along: the image can be read whole from the new home.
	img, err := remote.Image(ggcrRef(t, dst.Host+"/mirror/app@"+p.Children[0].Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) == 0 {
		t.Fatalf("layers: %v, %v", layers, err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatalf("the layer was not copied: %v", err)
	}
	rc.Close()
}

// ggcrRef is a reference as go-containerregistry names it, to read what a
// repair wrote with another client than mlaudit's.
func ggcrRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
