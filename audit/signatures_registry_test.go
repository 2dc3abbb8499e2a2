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

// signatureReferrer is a signature attached as an OCI 1.1 referrer of m,
// of artifact type kind (cosign's or notation's).
func signatureReferrer(t *testing.T, m partial.Describable, kind string) v1.Image {
	t.Helper()
	d, err := partial.Descriptor(m)
	if err != nil {
		t.Fatal(err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.MediaType(kind))
	img, err = mutate.AppendLayers(img, static.NewLayer([]byte("signature of "+d.Digest.String()), "application/vnd.dev.cosign.simplesigning.v1+json"))
	if err != nil {
		t.Fatal(err)
	}
	return mutate.Subject(img, v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}).(v1.Image)
}

// pushByDigest pushes m by its digest into target's repository; a
// manifest with a subject also gets the fallback referrers tag where the
// registry has no referrers API.
func pushByDigest(t *testing.T, f *fx, target ref.Ref, m v1.Image) {
	t.Helper()
	if err := f.Client.Push(context.Background(), target.WithDigest(digest(t, m).String()), m); err != nil {
		t.Fatal(err)
	}
}

// TestRepositoryChecksOnRegistry runs platform-dropped, orphan-referrer,
// --require-signatures and the mirror's signatures on
// go-containerregistry's registry, with the referrers API and without it
// (where every referrer is listed in a fallback tag sha256-<hex>).
func TestRepositoryChecksOnRegistry(t *testing.T) {
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
			both := f.Index(oci, e(amd, "linux/amd64"), e(arm, "linux/arm64"))
			f.Push("app:1.0.0", both)
			target := f.Push("app:1.1.0", f.Index(oci, e(amd, "linux/amd64")))
			f.Push("app:latest", both)
			// 1.0.0 is signed: the index with cosign's tag, amd64 with a
			// cosign referrer, arm64 with a notation referrer.
			idx := digest(t, both).String()
			f.Push("app:"+ref.ReferrersTag(idx)+".sig", cosignSignature(t, idx))
			pushByDigest(t, f, target, signatureReferrer(t, amd, audit.CosignSignatureType))
			pushByDigest(t, f, target, signatureReferrer(t, arm, audit.NotarySignatureType))
			// 2.0.0 was signed, then rebuilt: its old index is untagged.
			old := f.Index(oci, e(f.Image("linux/amd64", oci, "2.0.0 before the rebuild"), "linux/amd64"), e(arm, "linux/arm64"))
			f.Push("app:2.0.0", old)
			oldSig := ref.ReferrersTag(digest(t, old).String()) + ".sig"
			f.Push("app:"+oldSig, cosignSignature(t, digest(t, old).String()))
			f.Push("app:2.0.0", both)
			// 3.0.0 was signed, retagged, and its old index deleted.
			gone := f.Index(oci, e(f.Image("linux/arm64", oci, "3.0.0 before the retag"), "linux/arm64"), e(amd, "linux/amd64"))
			f.Push("app:3.0.0", gone)
			goneSig := ref.ReferrersTag(digest(t, gone).String()) + ".sig"
			f.Push("app:"+goneSig, cosignSignature(t, digest(t, gone).String()))
			f.Push("app:3.0.0", both)
			if err := f.Client.Delete(ctx, target.WithDigest(digest(t, gone).String())); err != nil {
				t.Fatal(err)
			}
			repo := target.Repo()
			host := f.Host

			t.Run("repository walk: platform-dropped and orphan-referrer", func(t *testing.T) {
				r := audit.Run(ctx, f.Client, []audit.Target{{Ref: repo}}, audit.Options{})
				noErrors(t, r)
				want := []string{
					host + "/app:1.1.0 platform-dropped linux/arm64",
					host + "/app:" + goneSig + " orphan-referrer",
				}
				if tt.api {
					// Without fallback tags, every referrer of a reached
					// subject was seen: an untagged subject is an orphan.
					want = append(want, host+"/app:"+oldSig+" orphan-referrer")
				}
				slices.Sort(want)
				if got := located(r.Findings); !slices.Equal(got, want) {
					t.Errorf("findings:\n got  %v\n want %v", got, want)
				}
			})
			t.Run("with the referrers tags read, the untagged subject's signature is an orphan too", func(t *testing.T) {
				c := testregistry.Client(t, registry.WithTagFilter(registry.TagFilter{Signatures: true}))
				r := audit.Run(ctx, c, []audit.Target{{Ref: repo}}, audit.Options{})
				noErrors(t, r)
				var got []string
				for _, f := range r.Findings {
					if f.Code == audit.OrphanReferrer {
						got = append(got, f.Ref.Tag)
					}
				}
				slices.Sort(got)
				want := []string{oldSig, goneSig}
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("orphans %v, want %v", got, want)
				}
			})
			t.Run("--require-signatures", func(t *testing.T) {
				signed, unsigned := f.Ref("app:1.0.0"), f.Ref("app:1.1.0")
				for _, c := range []struct {
					at   ref.Ref
					want audit.Signatures
					find []string
				}{
					{signed, audit.SignAll, []string{}},
					{unsigned, audit.SignIndex, []string{"unsigned"}},
					{unsigned, audit.SignChildren, []string{}}, // its one child is 1.0.0's signed amd64
					{unsigned, audit.SignAll, []string{"unsigned"}},
				} {
					r := audit.Run(ctx, f.Client, []audit.Target{{Ref: c.at, RequireSignatures: c.want}}, audit.Options{})
					noErrors(t, r)
					if got := codes(r.Findings); !slices.Equal(got, c.find) {
						t.Errorf("%s, %s: findings %v, want %v", c.at.Tag, c.want, got, c.find)
					}
				}
			})
			t.Run("--compare: a mirror that lost the signatures", func(t *testing.T) {
				f.Push("mirror/app:1.0.0", both)
				r := audit.Run(ctx, f.Client, []audit.Target{{Ref: f.Ref("app:1.0.0"), Mirrors: []ref.Ref{mustPrefix(t, host+"/mirror")}}}, audit.Options{})
				noErrors(t, r)
				var msgs []string
				for _, x := range r.Findings {
					if x.Code != audit.MirrorDrift || x.Ref.Repository != "mirror/app" {
						t.Errorf("unexpected %s", x)
					}
					msgs = append(msgs, x.Message)
				}
				all := strings.Join(msgs, "\n")
				if len(msgs) != 3 || !strings.Contains(all, "cosign tag "+ref.ReferrersTag(idx)+".sig") || strings.Count(all, "lacks the referrer") != 2 {
					t.Errorf("want the lost cosign tag and two lost referrers, got:\n%s", all)
				}
				// Copied with its signatures, the mirror matches.
				f.Push("mirror/app:"+ref.ReferrersTag(idx)+".sig", cosignSignature(t, idx))
				mirror := f.Ref("mirror/app:1.0.0")
				pushByDigest(t, f, mirror, signatureReferrer(t, amd, audit.CosignSignatureType))
				pushByDigest(t, f, mirror, signatureReferrer(t, arm, audit.NotarySignatureType))
				c := testregistry.Client(t)
				r = audit.Run(ctx, c, []audit.Target{{Ref: f.Ref("app:1.0.0"), Mirrors: []ref.Ref{mustPrefix(t, host+"/mirror")}}}, audit.Options{})
				noErrors(t, r)
				if len(r.Findings) != 0 {
					t.Errorf("findings %v, want none", fmt.Sprint(located(r.Findings)))
				}
			})
		})
	}
}
