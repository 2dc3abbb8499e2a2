package audit_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/treetest"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// The tests in this file are issue 13's: content that is healthy on real
// registries (artifacts and referrers, BuildKit's other reference
// entries, podman's compression variants, Docker Official Images' OCI
// indexes of Docker manifests) audits clean, and gaps show without
// configuration.

const (
	sbomType      = "application/spdx+json"
	cosignSigType = "application/vnd.dev.cosign.artifact.sig.v1+json"
)

// rehash gives n a manifest, its bytes and its digest.
func rehash(n *tree.Node, m *v1.Manifest) *tree.Node {
	n.Manifest, n.Descriptor = m, v1.Descriptor{}
	return treetest.Rehashed(n)
}

// artifact is an OCI 1.1 artifact manifest: artifactType set, the empty
// config, one layer of that type, attached to subject (nil for none). Its
// config is what the walk leaves of a config that is not an image's.
func artifact(name, artifactType string, subject *tree.Node) *tree.Node {
	m := &v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: artifactType,
		Config: v1.Descriptor{MediaType: types.OCIEmptyJSON, Digest: treetest.Digest("{}"), Size: 2},
		Layers: []v1.Descriptor{{MediaType: types.MediaType(artifactType), Digest: treetest.Digest("layer of " + name), Size: 42}},
	}
	if subject != nil {
		m.Subject = &v1.Descriptor{MediaType: subject.Descriptor.MediaType, Digest: subject.Descriptor.Digest, Size: subject.Descriptor.Size}
	}
	return rehash(&tree.Node{Config: &v1.ConfigFile{}}, m)
}

// signature is a cosign signature as cosign writes it to its .sig tag: an
// image manifest (no artifactType) whose config is not an image config.
func signature(name string) *tree.Node {
	m := &v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json+cosign-unused", Digest: treetest.Digest("sig config " + name), Size: 10},
		Layers: []v1.Descriptor{{MediaType: "application/vnd.dev.cosign.simplesigning.v1+json", Digest: treetest.Digest("sig " + name), Size: 200}},
	}
	return rehash(&tree.Node{Config: &v1.ConfigFile{}}, m)
}

// listedArtifact is a as a referrers index lists it: its artifactType in
// the descriptor, no platform.
func listedArtifact(a *tree.Node) *tree.Node {
	c := *a
	c.Descriptor.ArtifactType = a.Manifest.ArtifactType
	return &c
}

// compressed is img with one layer of media type mt: the same config, so
// the same image; the layer's bytes differ with its compression.
func compressed(img *tree.Node, mt types.MediaType) *tree.Node {
	c := *img
	m := *img.Manifest
	m.Layers = []v1.Descriptor{{MediaType: mt, Size: 10, Digest: treetest.Digest("layer " + string(mt) + img.Descriptor.Digest.String())}}
	return rehash(&c, &m)
}

// zstdEntry is n as containers/image lists its zstd variant.
func zstdEntry(n *tree.Node, p string) *tree.Node {
	e := entry(n, p)
	e.Descriptor.Annotations = map[string]string{tree.AnnotationZstd: "true"}
	return e
}

// reference is an entry BuildKit annotates with reference type kind.
func reference(subject *tree.Node, kind, p string) *tree.Node {
	n := treetest.Attestation(subject)
	n.Descriptor.Annotations[tree.AnnotationReferenceType] = kind
	n.Descriptor.Digest = treetest.Digest(kind + fmt.Sprint(subject))
	n.Descriptor.Platform = nil
	if p != "" {
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			panic(err)
		}
		n.Descriptor.Platform = plat
	}
	return n
}

func TestArtifactsAndVariantsPure(t *testing.T) {
	amd := treetest.Image("amd", "linux/amd64")
	arm := treetest.Image("arm", "linux/arm64")
	idx := treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(arm, "linux/arm64"))
	sbom := artifact("sbom", sbomType, idx)
	sig := artifact("sig", cosignSigType, idx)
	gz, zst := compressed(amd, types.OCILayer), compressed(amd, types.OCILayerZStd)
	dockerGz := compressed(treetest.DockerImage("win", "windows/amd64:10.0.20348.2227"), types.DockerLayer)

	unparsedConfig := artifact("odd config", "application/vnd.cncf.helm.config.v1+json", nil)
	unparsedConfig.Config = nil
	unparsedConfig.Err = fmt.Errorf("config %s of manifest %s does not parse: invalid character", unparsedConfig.Manifest.Config.Digest, unparsedConfig.Descriptor.Digest)
	missingConfig := artifact("config gone", sbomType, nil)
	missingConfig.Config = nil
	missingConfig.Err = fmt.Errorf("%w: config blob", tree.ErrMissing)

	tests := []struct {
		name     string
		ref      string
		require  string
		root     *tree.Node
		want     []string
		status   []string
		artifact bool
		problems int
	}{
		{
			name: "an SBOM artifact audited on its own (a tag naming it): no platform findings, even with --require",
			ref:  "registry.example.com/app:sbom", require: "linux/amd64,linux/arm64",
			root: sbom, status: []string{audit.StatusArtifact}, artifact: true,
		},
		{
			name: "a cosign signature (.sig tag): an image manifest with a non-image config is an artifact",
			ref:  "registry.example.com/app:sha256-abc.sig", require: "linux/amd64",
			root: signature("sig"), status: []string{audit.StatusArtifact}, artifact: true,
		},
		{
			name: "an artifact whose config is not an image config and does not parse as one is not a problem",
			ref:  "registry.example.com/chart:1", root: unparsedConfig,
			status: []string{audit.StatusArtifact}, artifact: true,
		},
		{
			name: "an artifact whose config is missing is missing-child: integrity is still checked",
			ref:  "registry.example.com/app:sbom", root: missingConfig,
			want: []string{"missing-child"}, status: []string{audit.StatusMissingChild}, artifact: true,
		},
		{
			name: "an altered artifact is digest-mismatch",
			ref:  "registry.example.com/app:sbom", root: treetest.Altered(sbom),
			want: []string{"digest-mismatch"},
		},
		{
			name: "the fallback referrers index (sha256-<hex>) is not judged for platforms",
			ref:  "registry.example.com/app:sha256-" + strings.Repeat("a", 64), require: "linux/amd64,linux/arm64",
			root:   treetest.Index(ociIndex, listedArtifact(sbom), listedArtifact(sig)),
			status: []string{audit.StatusArtifact, audit.StatusArtifact}, artifact: true,
		},
		{
			name: "a referrers index whose artifact is missing is missing-child",
			ref:  "registry.example.com/app:sha256-" + strings.Repeat("a", 64),
			root: treetest.Index(ociIndex, listedArtifact(sbom), treetest.Missing(listedArtifact(sig))),
			want: []string{"missing-child"}, status: []string{audit.StatusArtifact, audit.StatusMissingChild}, artifact: true,
		},
		{
			name: "an artifact entry in an image index is not a platform (no missing-platform-field)",
			ref:  "registry.example.com/app:1", require: "linux/amd64,linux/arm64",
			root:   treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(arm, "linux/arm64"), listedArtifact(artifact("inline", sbomType, amd))),
			status: []string{audit.StatusOK, audit.StatusOK, audit.StatusArtifact},
		},
		{
			name: "an index whose image entries are missing platforms is still judged, artifacts beside them or not",
			ref:  "registry.example.com/app:1", require: "linux/amd64,linux/arm64",
			root:   treetest.Index(ociIndex, entry(amd, "linux/amd64"), listedArtifact(sbom)),
			want:   []string{"missing-platform linux/arm64"},
			status: []string{audit.StatusOK, audit.StatusArtifact, audit.StatusMissing},
		},
		{
			name: "unknown/unknown entries of other reference types are not platforms: no duplicate-platform",
			ref:  "registry.example.com/app:1", require: "linux/amd64,linux/arm64",
			root: treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(arm, "linux/arm64"),
				reference(amd, "sbom-manifest", "unknown/unknown"), reference(arm, "provenance-manifest", "unknown/unknown"), treetest.Attestation(arm)),
			status: []string{audit.StatusOK, audit.StatusOK, audit.StatusAttestation, audit.StatusAttestation, audit.StatusAttestation},
		},
		{
			name: "a reference entry of another type without a subject or a platform is not an orphan",
			ref:  "registry.example.com/app:1",
			root: treetest.Index(ociIndex, entry(amd, "linux/amd64"), func() *tree.Node {
				n := reference(amd, "cache-manifest", "")
				delete(n.Descriptor.Annotations, tree.AnnotationReferenceDigest)
				return n
			}()),
			status: []string{audit.StatusOK, audit.StatusAttestation},
		},
		{
			name: "a reference annotation on an entry with a real platform does not hide an image",
			ref:  "registry.example.com/app:1",
			root: treetest.Index(ociIndex, entry(amd, "linux/amd64"), func() *tree.Node {
				n := entry(treetest.Image("amd again", "linux/amd64"), "linux/amd64")
				n.Descriptor.Annotations = map[string]string{tree.AnnotationReferenceType: "something-else"}
				return n
			}()),
			want:   []string{"duplicate-platform linux/amd64"},
			status: []string{audit.StatusOK, audit.StatusDuplicate},
		},
		{
			name: "podman's gzip and zstd entries of one image are not duplicates",
			ref:  "registry.example.com/app:1", require: "linux/amd64,linux/arm64",
			root:   treetest.Index(ociIndex, entry(gz, "linux/amd64"), zstdEntry(zst, "linux/amd64"), entry(arm, "linux/arm64")),
			status: []string{audit.StatusOK, audit.StatusOK, audit.StatusOK},
		},
		{
			name: "a zstd entry of another build is a duplicate",
			ref:  "registry.example.com/app:1",
			root: treetest.Index(ociIndex, entry(gz, "linux/amd64"),
				zstdEntry(compressed(treetest.Image("amd rebuilt", "linux/amd64"), types.OCILayerZStd), "linux/amd64")),
			want:   []string{"duplicate-platform linux/amd64"},
			status: []string{audit.StatusOK, audit.StatusDuplicate},
		},
		{
			name: "two gzip entries of one config but other layers are duplicates, not variants",
			ref:  "registry.example.com/app:1",
			root: treetest.Index(ociIndex, entry(gz, "linux/amd64"), entry(func() *tree.Node {
				c := *gz
				m := *gz.Manifest
				m.Layers = []v1.Descriptor{{MediaType: types.OCILayer, Size: 11, Digest: treetest.Digest("recompressed")}}
				return rehash(&c, &m)
			}(), "linux/amd64")),
			want:   []string{"duplicate-platform linux/amd64"},
			status: []string{audit.StatusOK, audit.StatusDuplicate},
		},
		{
			name: "an OCI index with Linux OCI entries, Windows Docker entries and attestations (Docker Official Images) is clean",
			ref:  "docker.io/library/hello-world:latest", require: "linux/amd64,windows/amd64",
			root: treetest.Index(ociIndex, entry(amd, "linux/amd64"), treetest.Attestation(amd),
				entry(dockerGz, "windows/amd64:10.0.20348.2227")),
			status: []string{audit.StatusOK, audit.StatusAttestation, audit.StatusOK},
		},
		{
			name: "a Docker manifest list holding an OCI manifest is still mixed-media-types",
			ref:  "registry.example.com/app:1",
			root: treetest.Index(dockerList, entry(dockerGz, "windows/amd64:10.0.20348.2227"), entry(amd, "linux/amd64")),
			want: []string{"mixed-media-types"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, findings, problems := audit.Check(mustRef(t, tt.ref), tt.root, mustPlatforms(t, tt.require))
			if got := codes(findings); !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("findings:\n got  %v\n want %v", got, tt.want)
			}
			if tt.status != nil {
				if got := statuses(img); !slices.Equal(got, tt.status) {
					t.Errorf("row statuses:\n got  %v\n want %v", got, tt.status)
				}
			}
			if img.Artifact != tt.artifact {
				t.Errorf("Image.Artifact = %v, want %v", img.Artifact, tt.artifact)
			}
			if tt.artifact && len(img.Required) > 0 {
				t.Errorf("an artifact is required nothing: %v", img.Required)
			}
			if len(problems) != tt.problems {
				t.Errorf("problems = %v, want %d", problems, tt.problems)
			}
		})
	}
}

// resolvingSource is a memSource that also answers HEADs (audit.Resolver),
// counting them.
type resolvingSource struct {
	*memSource
	heads atomic.Int64 // the audit asks from many goroutines
}

func (s *resolvingSource) Resolve(_ context.Context, r ref.Ref) (string, error) {
	s.heads.Add(1)
	if n, ok := s.nodes[r.String()]; ok {
		return n.Descriptor.Digest.String(), nil
	}
	return "", nil
}

var _ audit.Resolver = (*resolvingSource)(nil)

func TestRunArtifactsAndGapsPure(t *testing.T) {
	ctx := context.Background()
	const repo = "registry.example.com/app"
	amd := treetest.Image("amd", "linux/amd64")
	arm := treetest.Image("arm", "linux/arm64")
	index := treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(arm, "linux/arm64"))
	perArch := []string{"{tag}-{arch}"}

	t.Run("missing-child: an artifact whose subject is gone, one HEAD", func(t *testing.T) {
		gone := treetest.Index(ociIndex, entry(treetest.Image("old", "linux/amd64"), "linux/amd64"))
		src := &resolvingSource{memSource: newMemSource().
			put(t, repo+":1", index).
			put(t, repo+"@"+index.Descriptor.Digest.String(), index).
			put(t, repo+":sbom-live", artifact("live", sbomType, index)).
			put(t, repo+":sbom-dead", artifact("dead", sbomType, gone))}
		r := audit.Run(ctx, src, []audit.Target{{Ref: mustRef(t, repo+":sbom-live")}, {Ref: mustRef(t, repo+":sbom-dead")}, {Ref: mustRef(t, repo+":1")}}, audit.Options{})
		noErrors(t, r)
		if got, want := located(r.Findings), []string{repo + ":sbom-dead missing-child"}; !slices.Equal(got, want) {
			t.Errorf("findings:\n got  %v\n want %v", got, want)
		}
		if n := src.heads.Load(); n != 2 {
			t.Errorf("%d HEADs, want one per artifact (2), none for the image", n)
		}
		if f := only(t, r.Findings, audit.MissingChild); !strings.Contains(f.Message, "subject "+ref.ShortDigest(gone.Descriptor.Digest.String())) || !strings.Contains(f.Hint, "delete the artifact") {
			t.Errorf("missing-child = %+v, want it to name the subject, with the artifact's hint", f)
		}
	})

	t.Run("the AIBrix case: a single arm64 image over the multi-arch tag, an -amd64 sibling, no --require", func(t *testing.T) {
		src := newMemSource().put(t, repo+":v0.3.0", arm).put(t, repo+":v0.3.0-amd64", amd).put(t, repo+":v0.3.0-arm64", arm)
		r := audit.Run(ctx, src, []audit.Target{{Ref: mustRef(t, repo+":v0.3.0"), PerArch: perArch}}, audit.Options{})
		noErrors(t, r)
		if got, want := located(r.Findings), []string{repo + ":v0.3.0 missing-platform linux/amd64"}; !slices.Equal(got, want) {
			t.Fatalf("findings:\n got  %v\n want %v", got, want)
		}
		f := only(t, r.Findings, audit.MissingPlatform)
		if f.Severity != audit.Error || !strings.Contains(f.Message, "v0.3.0-amd64") || !strings.Contains(f.Message, "single linux/arm64 image") {
			t.Errorf("missing-platform = %+v, want an error naming the sibling and what the tag holds", f)
		}
		img := r.Images[0]
		if !slices.Equal(img.Inferred, []string{"linux/amd64"}) || !slices.Equal(statuses(img), []string{audit.StatusOK, audit.StatusMissing}) {
			t.Errorf("image = inferred %v, rows %v; want linux/amd64 inferred and a missing row", img.Inferred, statuses(img))
		}
		if r.CompletenessNotChecked != "" {
			t.Errorf("completeness was checked (inferred from siblings), yet: %q", r.CompletenessNotChecked)
		}
	})

	t.Run("an index lacking a sibling's platform; --require reports it once", func(t *testing.T) {
		src := newMemSource().put(t, repo+":2.0", treetest.Index(ociIndex, entry(arm, "linux/arm64"))).put(t, repo+":2.0-amd64", amd)
		for _, require := range []string{"", "linux/amd64,linux/arm64"} {
			r := audit.Run(ctx, src, []audit.Target{{Ref: mustRef(t, repo+":2.0"), PerArch: perArch, Require: mustPlatforms(t, require)}}, audit.Options{})
			noErrors(t, r)
			if got, want := located(r.Findings), []string{repo + ":2.0 missing-platform linux/amd64"}; !slices.Equal(got, want) {
				t.Errorf("require %q: findings:\n got  %v\n want %v", require, got, want)
			}
		}
	})

	t.Run("siblings the index lists, or of a platform it lists, add nothing", func(t *testing.T) {
		armV8 := treetest.Image("arm v8", "linux/arm64/v8")
		src := newMemSource().put(t, repo+":2.0", index).put(t, repo+":2.0-amd64", amd).put(t, repo+":2.0-aarch64", arm).put(t, repo+":2.0-arm64v8", armV8)
		r := audit.Run(ctx, src, []audit.Target{{Ref: mustRef(t, repo+":2.0"), PerArch: perArch}}, audit.Options{})
		noErrors(t, r)
		for _, f := range r.Findings {
			if f.Code == audit.MissingPlatform {
				t.Errorf("unexpected %s", f)
			}
		}
	})

	t.Run("a sibling holding the zstd variant of the index's entry is not stale", func(t *testing.T) {
		gz, zst := compressed(amd, types.OCILayer), compressed(amd, types.OCILayerZStd)
		withVariants := treetest.Index(ociIndex, entry(gz, "linux/amd64"), zstdEntry(zst, "linux/amd64"), entry(arm, "linux/arm64"))
		src := newMemSource().put(t, repo+":3.0", withVariants).put(t, repo+":3.0-amd64", gz).
			put(t, "registry.internal/mirror/app:3.0", treetest.Index(ociIndex, zstdEntry(zst, "linux/amd64"), entry(gz, "linux/amd64"), entry(arm, "linux/arm64")))
		mirror := mustPrefix(t, "registry.internal/mirror")
		r := audit.Run(ctx, src, []audit.Target{{Ref: mustRef(t, repo+":3.0"), PerArch: perArch, Mirrors: []ref.Ref{mirror}}}, audit.Options{})
		noErrors(t, r)
		if len(r.Findings) != 0 {
			t.Errorf("findings = %v, want none", located(r.Findings))
		}
	})

	t.Run("completeness: said not checked when nothing is required or inferred", func(t *testing.T) {
		src := newMemSource().put(t, repo+":1", index).put(t, repo+":1-arm64", arm).put(t, repo+":sbom", artifact("s", sbomType, index))
		r := audit.Run(ctx, src, []audit.Target{{Ref: mustRef(t, repo+":1")}}, audit.Options{})
		if note := r.CompletenessNotChecked; !strings.Contains(note, "not checked") || !strings.Contains(note, "--require") || !strings.Contains(note, "--per-arch") {
			t.Errorf("note = %q, want it to say completeness was not checked and how to check it", note)
		}
		r = audit.Run(ctx, src, []audit.Target{{Ref: mustRef(t, repo+":1"), Require: mustPlatforms(t, "linux/amd64")}}, audit.Options{})
		if r.CompletenessNotChecked != "" {
			t.Errorf("with --require: note = %q, want none", r.CompletenessNotChecked)
		}
		// A per-arch tag is judged by its name and an artifact is not an
		// image: there is no completeness to check.
		r = audit.Run(ctx, src, []audit.Target{{Ref: mustRef(t, repo+":1-arm64")}, {Ref: mustRef(t, repo+":sbom")}}, audit.Options{})
		if r.CompletenessNotChecked != "" {
			t.Errorf("per-arch tag and artifact only: note = %q, want none", r.CompletenessNotChecked)
		}
	})
}
