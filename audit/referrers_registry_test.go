package audit_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/registry"
)

// TestHealthyRepositoryWithReferrers: a healthy repository with an SBOM
// attached as an OCI 1.1 referrer (regctl artifact put --subject) and a
// cosign-style signature tag audits clean, walked as a repository, on a
// registry with the referrers API and on one without (where the SBOM's
// push writes the fallback tag sha256-<hex>): by default the signature and
// referrers tags are skipped; with them included they are audited as
// artifacts, integrity only, and still nothing is found. An SBOM whose
// subject is gone is missing-child.
func TestHealthyRepositoryWithReferrers(t *testing.T) {
	for _, tt := range []struct {
		name string
		host func(t *testing.T) string
		api  bool
	}{
		{"referrers API", func(t *testing.T) string { return testregistry.InProcessWithReferrers(t, nil) }, true},
		{"no referrers API (fallback tag)", func(t *testing.T) string { return testregistry.InProcess(t, nil) }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fx{storytest.NewEnv(t, tt.host(t))}
			ctx := context.Background()
			amd, arm := f.img("linux/amd64", oci), f.img("linux/arm64", oci)
			idx := f.Index(oci, e(amd, "linux/amd64"), e(arm, "linux/arm64"), f.Attest(amd), f.Attest(arm))
			target := f.Push("app:1.0", idx)
			subject := digest(t, idx).String()

			sbom := pushSBOM(t, f, target, idx)
			sigTag := ref.ReferrersTag(subject) + ".sig"
			f.Push("app:"+sigTag, cosignSignature(t, subject))

			tags, err := f.Client.Tags(ctx, target)
			if err != nil {
				t.Fatal(err)
			}
			fallback := ref.ReferrersTag(subject)
			if got := slices.Contains(tags, fallback); got == tt.api {
				t.Fatalf("tags %v: the fallback tag %s should exist only without the referrers API", tags, fallback)
			}

			repo := target.Repo()
			require := mustPlatforms(t, "linux/amd64,linux/arm64")
			clean := func(t *testing.T, c *registry.Client, wantImages []string) *audit.Result {
				t.Helper()
				r := audit.Run(ctx, c, []audit.Target{{Ref: repo, Require: require}}, audit.Options{})
				noErrors(t, r)
				if len(r.Findings) != 0 || r.Fails(audit.Warning) {
					t.Errorf("findings = %v, want none (exit 0)", located(r.Findings))
				}
				var got []string
				for _, img := range r.Images {
					got = append(got, img.Ref.Tag)
				}
				slices.Sort(got)
				slices.Sort(wantImages)
				if !slices.Equal(got, wantImages) {
					t.Errorf("audited %v, want %v", got, wantImages)
				}
				return r
			}

			t.Run("signature and referrers tags skipped by default", func(t *testing.T) {
				clean(t, f.Client, []string{"1.0"})
			})
			t.Run("with --include-signature-tags they are audited as artifacts", func(t *testing.T) {
				c := testregistry.Client(t, registry.WithTagFilter(registry.TagFilter{Signatures: true}))
				want := []string{"1.0", sigTag}
				if !tt.api {
					want = append(want, fallback)
				}
				r := clean(t, c, want)
				for _, img := range r.Images {
					if img.Artifact != (img.Ref.Tag != "1.0") {
						t.Errorf("%s: Artifact = %v", img.Ref, img.Artifact)
					}
					if img.Ref.Tag == "1.0" && len(img.Required) != 2 {
						t.Errorf("the image was not judged against --require: %v", img.Required)
					}
				}
			})
			t.Run("the SBOM audited by digest is an artifact", func(t *testing.T) {
				r := audit.Run(ctx, f.Client, []audit.Target{{Ref: target.WithDigest(sbom.String()), Require: require}}, audit.Options{})
				noErrors(t, r)
				if len(r.Findings) != 0 || len(r.Images) != 1 || !r.Images[0].Artifact {
					t.Errorf("findings %v, images %+v: want one clean artifact", located(r.Findings), r.Images)
				}
			})
			t.Run("an SBOM whose subject is not in the repository is missing-child", func(t *testing.T) {
				gone := f.Image("linux/amd64", oci, "never pushed")
				orphan := sbomOf(t, gone, "gone")
				at := f.Push("app:orphan-sbom", orphan)
				r := audit.Run(ctx, f.Client, []audit.Target{{Ref: at}}, audit.Options{})
				noErrors(t, r)
				if got, want := codes(r.Findings), []string{"missing-child"}; !slices.Equal(got, want) {
					t.Errorf("findings = %v, want %v", got, want)
				}
			})
		})
	}
}

// sbomOf is an SBOM artifact whose subject is m, as `regctl artifact put
// --subject` or `oras attach` makes one.
func sbomOf(t *testing.T, m partial.Describable, what string) v1.Image {
	t.Helper()
	d, err := partial.Descriptor(m)
	if err != nil {
		t.Fatal(err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, sbomType)
	img, err = mutate.AppendLayers(img, static.NewLayer([]byte(fmt.Sprintf(`{"spdxVersion":"SPDX-2.3","name":%q}`, what+" "+d.Digest.String())), sbomType))
	if err != nil {
		t.Fatal(err)
	}
	return mutate.Subject(img, v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}).(v1.Image)
}

// pushSBOM attaches an SBOM to m by digest in target's repository.
func pushSBOM(t *testing.T, f *fx, target ref.Ref, m partial.Describable) v1.Hash {
	t.Helper()
	art := sbomOf(t, m, "the index")
	d := digest(t, art)
	if err := f.Client.Push(context.Background(), target.WithDigest(d.String()), art); err != nil {
		t.Fatalf("attaching an SBOM: %v", err)
	}
	return d
}

// cosignSignature is shaped as cosign writes a signature to its .sig tag:
// an OCI image manifest with an image config and one simplesigning layer.
func cosignSignature(t *testing.T, subject string) v1.Image {
	t.Helper()
	payload := `{"critical":{"image":{"docker-manifest-digest":"` + subject + `"},"type":"cosign container image signature"}}`
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.Append(img, mutate.Addendum{
		Layer:       static.NewLayer([]byte(payload), "application/vnd.dev.cosign.simplesigning.v1+json"),
		Annotations: map[string]string{"dev.cosignproject.cosign/signature": "MEUCIQ" + strings.Repeat("A", 40)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return img
}
