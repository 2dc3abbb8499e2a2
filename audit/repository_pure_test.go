package audit_test

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/treetest"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// walkSource is a memSource walked as registry.Client walks a repository
// by default: signature and referrers tags (and tags in skip) are not
// named by Expand, but are in the tag list. It answers HEADs by digest
// from present (audit.Resolver), counting them, and lists referrers
// (audit.Referrers) from referrers, by digest.
type walkSource struct {
	*memSource
	skip      map[string]bool
	present   map[string]bool
	referrers map[string][]v1.Descriptor
	byDigest  map[string]*tree.Node // manifests no tag names, fetched by digest
	heads     atomic.Int64          // the audit asks from many goroutines
}

func newWalkSource() *walkSource {
	return &walkSource{memSource: newMemSource(), skip: map[string]bool{}, present: map[string]bool{}, referrers: map[string][]v1.Descriptor{}, byDigest: map[string]*tree.Node{}}
}

func (s *walkSource) Fetch(ctx context.Context, r ref.Ref) (*tree.Node, error) {
	if n, ok := s.byDigest[r.Digest]; ok && r.Tag == "" {
		return n, nil
	}
	return s.memSource.Fetch(ctx, r)
}

func (s *walkSource) Expand(ctx context.Context, target ref.Ref) ([]ref.Ref, error) {
	refs, err := s.memSource.Expand(ctx, target)
	if err != nil || target.IsImage() {
		return refs, err
	}
	var out []ref.Ref
	for _, r := range refs {
		if !ref.IsSignatureTag(r.Tag) && !ref.IsReferrersTag(r.Tag) && !s.skip[r.Tag] {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *walkSource) Resolve(_ context.Context, r ref.Ref) (string, error) {
	s.heads.Add(1)
	if s.present[r.Digest] {
		return r.Digest, nil
	}
	for key, n := range s.nodes {
		if strings.HasPrefix(key, r.Repo().String()+":") && n.Descriptor.Digest.String() == r.Digest {
			return r.Digest, nil
		}
	}
	return "", nil
}

func (s *walkSource) Referrers(_ context.Context, r ref.Ref) ([]v1.Descriptor, error) {
	return s.referrers[r.Repo().String()+"@"+r.Digest], nil
}

var (
	_ audit.Resolver  = (*walkSource)(nil)
	_ audit.Referrers = (*walkSource)(nil)
)

func hexOf(n *tree.Node) string { return n.Descriptor.Digest.Hex }

func TestPlatformDroppedPure(t *testing.T) {
	ctx := context.Background()
	const repo = "registry.example.com/app"
	amd := treetest.Image("amd", "linux/amd64")
	arm := treetest.Image("arm", "linux/arm64")
	both := treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(arm, "linux/arm64"))
	amdOnly := treetest.Index(ociIndex, entry(amd, "linux/amd64"))
	win := func(build string) *tree.Node {
		img := treetest.Image("win "+build, "windows/amd64")
		e := entry(img, "windows/amd64")
		e.Descriptor.Platform.OSVersion = "10.0.20348." + build
		return treetest.Index(ociIndex, entry(amd, "linux/amd64"), e)
	}
	for _, tt := range []struct {
		name string
		tags map[string]*tree.Node
		want []string
	}{
		{"a release that lost arm64 names the one before it", map[string]*tree.Node{"1.0.0": both, "1.1.0": amdOnly}, []string{repo + ":1.1.0 platform-dropped linux/arm64"}},
		{"version order, not tag-list order: 1.10 comes after 1.9", map[string]*tree.Node{"v1.9.0": amdOnly, "v1.10.0": both}, nil},
		{"a single image pushed over a release", map[string]*tree.Node{"2.0.0": both, "2.0.1": arm}, []string{repo + ":2.0.1 platform-dropped linux/amd64"}},
		{"a pre-release comes before its release", map[string]*tree.Node{"3.0.0-rc.1": both, "3.0.0-rc.2": both, "3.0.0": amdOnly}, []string{repo + ":3.0.0 platform-dropped linux/arm64"}},
		{"a later release that adds it back is not reported", map[string]*tree.Node{"1.0": both, "1.1": amdOnly, "1.2": both}, []string{repo + ":1.1 platform-dropped linux/arm64"}},
		{"non-version tags and per-arch tags are ignored", map[string]*tree.Node{"1.0.0": both, "latest": amdOnly, "main": amdOnly, "1.0.1-amd64": amd, "1.0.1": both}, nil},
		{"series are compared apart: flavours and precision", map[string]*tree.Node{"3.12-alpine": both, "3.13-alpine": amdOnly, "3.13": both, "3.13.1": amdOnly, "3": both}, []string{repo + ":3.13-alpine platform-dropped linux/arm64"}},
		{"a Windows os.version that changes every release is the same platform", map[string]*tree.Node{"1.0": win("2340"), "1.1": win("2402")}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := newMemSource()
			for tag, n := range tt.tags {
				src.put(t, repo+":"+tag, n)
			}
			r := audit.Run(ctx, src, []audit.Target{{Ref: mustRef(t, repo)}}, audit.Options{})
			noErrors(t, r)
			got := []string{}
			for _, f := range r.Findings {
				if f.Code == audit.PlatformDropped {
					got = append(got, located([]audit.Finding{f})...)
				}
			}
			slices.Sort(got)
			want := append([]string{}, tt.want...)
			if !slices.Equal(got, want) {
				t.Errorf("findings:\n got  %v\n want %v", got, want)
			}
		})
	}

	t.Run("the message names the platform and the tag that had it; a warning", func(t *testing.T) {
		src := newMemSource().put(t, repo+":1.0.0", both).put(t, repo+":1.1.0", amdOnly)
		r := audit.Run(ctx, src, []audit.Target{{Ref: mustRef(t, repo)}}, audit.Options{})
		f := only(t, r.Findings, audit.PlatformDropped)
		if f.Severity != audit.Warning || !strings.Contains(f.Message, "1.0.0 holds linux/arm64") || !strings.Contains(f.Message, "it has linux/amd64") {
			t.Errorf("finding = %+v", f)
		}
	})
	t.Run("only in a repository walk: tags named one by one are not compared", func(t *testing.T) {
		src := newMemSource().put(t, repo+":1.0.0", both).put(t, repo+":1.1.0", amdOnly)
		r := audit.Run(ctx, src, []audit.Target{{Ref: mustRef(t, repo+":1.0.0")}, {Ref: mustRef(t, repo+":1.1.0")}}, audit.Options{})
		if len(r.Findings) != 0 {
			t.Errorf("findings = %v, want none", located(r.Findings))
		}
	})
}

func TestOrphanReferrerPure(t *testing.T) {
	ctx := context.Background()
	const repo = "registry.example.com/app"
	amd := treetest.Image("amd", "linux/amd64")
	arm := treetest.Image("arm", "linux/arm64")
	current := treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(arm, "linux/arm64"))
	old := treetest.Index(ociIndex, entry(treetest.Image("old amd", "linux/amd64"), "linux/amd64"))
	retagged := treetest.Index(ociIndex, entry(treetest.Image("retagged", "linux/amd64"), "linux/amd64"))
	sbom := artifact("sbom", sbomType, current)

	// seed stores the repository; with referrers, the index has an SBOM
	// listed in its fallback referrers tag, and the SBOM a signature.
	seed := func(t *testing.T, referrers bool) *walkSource {
		s := newWalkSource()
		s.put(t, repo+":1.0", current).
			put(t, repo+":sha256-"+hexOf(current)+".sig", signature("current")).     // the index's signature
			put(t, repo+":sha256-"+hexOf(arm)+".att", signature("arm attestation")). // a child's attestation
			put(t, repo+":sha256-"+hexOf(old)+".sig", signature("old")).             // subject deleted
			put(t, repo+":sha256-"+hexOf(retagged), treetest.Index(ociIndex, listedArtifact(artifact("r", sbomType, retagged))))
		s.present[retagged.Descriptor.Digest.String()] = true // still stored, untagged
		if referrers {
			s.put(t, repo+":sha256-"+hexOf(current), treetest.Index(ociIndex, listedArtifact(sbom))).
				put(t, repo+":sha256-"+hexOf(sbom)+".sig", signature("the sbom's"))
			s.present[sbom.Descriptor.Digest.String()] = true
		}
		return s
	}
	orphans := func(r *audit.Result) []string {
		got := []string{}
		for _, f := range r.Findings {
			if f.Code == audit.OrphanReferrer {
				got = append(got, located([]audit.Finding{f})...)
			}
		}
		slices.Sort(got)
		return got
	}
	deleted, untagged := repo+":sha256-"+hexOf(old)+".sig orphan-referrer", repo+":sha256-"+hexOf(retagged)+" orphan-referrer"

	t.Run("a deleted subject and an untagged one; reached subjects are not", func(t *testing.T) {
		s := seed(t, false)
		r := audit.Run(ctx, s, []audit.Target{{Ref: mustRef(t, repo)}}, audit.Options{})
		noErrors(t, r)
		if got, want := orphans(r), []string{deleted, untagged}; !slices.Equal(got, want) || len(r.Findings) != 2 {
			t.Errorf("findings:\n got  %v\n want %v", located(r.Findings), want)
		}
		if s.heads.Load() > 2 {
			t.Errorf("%d HEADs, want at most one per orphan candidate (2)", s.heads.Load())
		}
		for _, f := range r.Findings {
			if f.Severity != audit.Warning {
				t.Errorf("%s: severity %s", f.Ref, f.Severity)
			}
			switch f.Ref.Tag {
			case "sha256-" + hexOf(old) + ".sig":
				if !strings.Contains(f.Message, "no longer has") {
					t.Errorf("deleted subject: %q", f.Message)
				}
			case "sha256-" + hexOf(retagged):
				if !strings.Contains(f.Message, "no tag of") {
					t.Errorf("untagged subject: %q", f.Message)
				}
			}
		}
	})

	t.Run("an unread referrers tag may list a stored subject: only the deleted one is reported", func(t *testing.T) {
		s := seed(t, true)
		r := audit.Run(ctx, s, []audit.Target{{Ref: mustRef(t, repo)}}, audit.Options{})
		noErrors(t, r)
		if got, want := orphans(r), []string{deleted}; !slices.Equal(got, want) {
			t.Errorf("findings:\n got  %v\n want %v", got, want)
		}
	})

	t.Run("with the referrers tags read, an SBOM's signature is reached through them", func(t *testing.T) {
		s := seed(t, true)
		r := audit.Run(ctx, &includeAll{s}, []audit.Target{{Ref: mustRef(t, repo)}}, audit.Options{})
		noErrors(t, r)
		if got, want := orphans(r), []string{deleted, untagged}; !slices.Equal(got, want) {
			t.Errorf("findings:\n got  %v\n want %v", got, want)
		}
	})

	t.Run("an SBOM attached through the referrers API only: its signature is not an orphan", func(t *testing.T) {
		s := seed(t, false)
		s.byDigest[sbom.Descriptor.Digest.String()] = sbom
		s.present[sbom.Descriptor.Digest.String()] = true
		s.referrers[repo+"@"+current.Descriptor.Digest.String()] = []v1.Descriptor{listedArtifact(sbom).Descriptor}
		s.put(t, repo+":sha256-"+hexOf(sbom)+".sig", signature("the sbom's"))
		r := audit.Run(ctx, s, []audit.Target{{Ref: mustRef(t, repo)}}, audit.Options{})
		noErrors(t, r)
		if got, want := orphans(r), []string{deleted, untagged}; !slices.Equal(got, want) {
			t.Errorf("findings:\n got  %v\n want %v", got, want)
		}
	})

	t.Run("an artifact attached to a deleted subject does not reach: its signature is an orphan", func(t *testing.T) {
		s := seed(t, false)
		lost := artifact("lost sbom", sbomType, old)
		s.byDigest[lost.Descriptor.Digest.String()] = lost
		s.present[lost.Descriptor.Digest.String()] = true
		s.put(t, repo+":sha256-"+hexOf(lost)+".sig", signature("the lost sbom's"))
		r := audit.Run(ctx, s, []audit.Target{{Ref: mustRef(t, repo)}}, audit.Options{})
		noErrors(t, r)
		if !slices.Contains(orphans(r), repo+":sha256-"+hexOf(lost)+".sig orphan-referrer") {
			t.Errorf("findings: %v, want the lost SBOM's signature among the orphans", orphans(r))
		}
	})

	t.Run("a tag left out of the walk may reach an untagged subject: only a deleted one is reported", func(t *testing.T) {
		s := seed(t, false)
		s.put(t, repo+":1.0-backup-1", retagged)
		s.skip["1.0-backup-1"] = true
		r := audit.Run(ctx, s, []audit.Target{{Ref: mustRef(t, repo)}}, audit.Options{})
		noErrors(t, r)
		for _, f := range r.Findings {
			if f.Ref.Tag == "sha256-"+hexOf(retagged) {
				t.Errorf("reported although a tag left out may reach it: %s", f)
			}
		}
		if !slices.Contains(located(r.Findings), repo+":sha256-"+hexOf(old)+".sig orphan-referrer") {
			t.Errorf("the deleted subject's signature should still be reported: %v", located(r.Findings))
		}
	})

	t.Run("only in a repository walk", func(t *testing.T) {
		s := seed(t, true)
		r := audit.Run(ctx, s, []audit.Target{{Ref: mustRef(t, repo+":1.0")}}, audit.Options{})
		noErrors(t, r)
		if len(r.Findings) != 0 || s.heads.Load() != 0 {
			t.Errorf("findings %v, %d HEADs: want none", located(r.Findings), s.heads.Load())
		}
	})
}

// includeAll walks every tag, signature and referrers tags included, as
// --include-signature-tags does.
type includeAll struct{ *walkSource }

func (s *includeAll) Expand(ctx context.Context, target ref.Ref) ([]ref.Ref, error) {
	return s.memSource.Expand(ctx, target)
}

func TestRequireSignaturesPure(t *testing.T) {
	ctx := context.Background()
	const repo = "registry.example.com/app"
	amd := treetest.Image("amd", "linux/amd64")
	arm := treetest.Image("arm", "linux/arm64")
	s390 := treetest.Image("s390x", "linux/s390x")
	index := treetest.Index(ociIndex, entry(amd, "linux/amd64"), entry(arm, "linux/arm64"), entry(s390, "linux/s390x"), treetest.Attestation(amd))
	single := treetest.Image("single", "linux/amd64")

	s := newWalkSource()
	s.put(t, repo+":1.0", index).
		put(t, repo+":solo", single).
		put(t, repo+":sha256-"+hexOf(index)+".sig", signature("index")) // cosign's tag scheme
	at := func(n *tree.Node) string { return repo + "@" + n.Descriptor.Digest.String() }
	s.referrers[at(amd)] = []v1.Descriptor{{MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: audit.CosignSignatureType, Digest: treetest.Digest("sig amd")}}
	s.referrers[at(arm)] = []v1.Descriptor{{MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: audit.NotarySignatureType, Digest: treetest.Digest("sig arm")}}
	s.referrers[at(s390)] = []v1.Descriptor{{MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: sbomType, Digest: treetest.Digest("sbom s390x")}}

	for _, tt := range []struct {
		want audit.Signatures
		tag  string
		find []string
	}{
		{audit.SignIndex, "1.0", nil},
		{audit.SignChildren, "1.0", []string{"unsigned linux/s390x"}},
		{audit.SignAll, "1.0", []string{"unsigned linux/s390x"}},
		{audit.SignIndex, "solo", []string{"unsigned"}},
		{audit.SignChildren, "solo", []string{"unsigned"}},
		{0, "solo", []string{}},
	} {
		t.Run(tt.want.String()+" "+tt.tag, func(t *testing.T) {
			r := audit.Run(ctx, s, []audit.Target{{Ref: mustRef(t, repo+":"+tt.tag), RequireSignatures: tt.want}}, audit.Options{})
			noErrors(t, r)
			want := tt.find
			if want == nil {
				want = []string{}
			}
			if got := codes(r.Findings); !slices.Equal(got, want) {
				t.Errorf("findings = %v, want %v", got, want)
			}
			for _, f := range r.Findings {
				if f.Severity != audit.Error || !strings.Contains(f.Message, "--require-signatures "+tt.want.String()) {
					t.Errorf("finding = %+v", f)
				}
			}
		})
	}

	t.Run("an unsigned index", func(t *testing.T) {
		s := newWalkSource()
		s.put(t, repo+":1.0", index)
		r := audit.Run(ctx, s, []audit.Target{{Ref: mustRef(t, repo+":1.0"), RequireSignatures: audit.SignIndex}}, audit.Options{})
		f := only(t, r.Findings, audit.Unsigned)
		if f.Digest != index.Descriptor.Digest.String() || f.Platform != "" || !strings.Contains(f.Message, "sha256-"+hexOf(index)+".sig") {
			t.Errorf("finding = %+v", f)
		}
	})

	t.Run("parse", func(t *testing.T) {
		for in, want := range map[string]audit.Signatures{"index": audit.SignIndex, "Children": audit.SignChildren, "all": audit.SignAll, "": 0, "none": 0} {
			if got, err := audit.ParseSignatures(in); err != nil || got != want {
				t.Errorf("ParseSignatures(%q) = %v, %v; want %v", in, got, err, want)
			}
		}
		if _, err := audit.ParseSignatures("both"); err == nil || !strings.Contains(err.Error(), "index, children or all") {
			t.Errorf("ParseSignatures(both) = %v", err)
		}
	})
}

func TestMirrorSignaturesPure(t *testing.T) {
	ctx := context.Background()
	const repo, mirror = "registry.example.com/app", "registry.internal/mirror/app"
	amd := treetest.Image("amd", "linux/amd64")
	index := treetest.Index(ociIndex, entry(amd, "linux/amd64"))
	sbomDesc := v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: sbomType, Digest: treetest.Digest("sbom")}
	s := newWalkSource()
	s.put(t, repo+":1.0", index).put(t, mirror+":1.0", index).
		put(t, repo+":sha256-"+hexOf(index)+".sig", signature("index")).
		put(t, repo+":sha256-"+hexOf(amd)+".sig", signature("amd")).
		put(t, mirror+":sha256-"+hexOf(amd)+".sig", signature("amd"))
	s.referrers[repo+"@"+amd.Descriptor.Digest.String()] = []v1.Descriptor{sbomDesc}

	r := audit.Run(ctx, s, []audit.Target{{Ref: mustRef(t, repo+":1.0"), Mirrors: []ref.Ref{mustPrefix(t, "registry.internal/mirror")}}}, audit.Options{})
	noErrors(t, r)
	want := []string{mirror + ":1.0 mirror-drift", mirror + ":1.0 mirror-drift"}
	if got := located(r.Findings); !slices.Equal(got, want) {
		t.Fatalf("findings:\n got  %v\n want %v", got, want)
	}
	var msgs []string
	for _, f := range r.Findings {
		msgs = append(msgs, f.Message)
	}
	all := strings.Join(msgs, "\n")
	if !strings.Contains(all, "cosign tag sha256-"+hexOf(index)+".sig") || !strings.Contains(all, "referrer "+ref.ShortDigest(sbomDesc.Digest.String())) {
		t.Errorf("messages should name the lost signature tag and referrer:\n%s", all)
	}

	s.referrers[mirror+"@"+amd.Descriptor.Digest.String()] = []v1.Descriptor{sbomDesc}
	s.put(t, mirror+":sha256-"+hexOf(index)+".sig", signature("index"))
	r = audit.Run(ctx, s, []audit.Target{{Ref: mustRef(t, repo+":1.0"), Mirrors: []ref.Ref{mustPrefix(t, "registry.internal/mirror")}}}, audit.Options{})
	noErrors(t, r)
	if len(r.Findings) != 0 {
		t.Errorf("a mirror with every signature and referrer: findings %v", located(r.Findings))
	}
}
