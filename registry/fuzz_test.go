package registry

import (
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// fuzzSource serves fuzzed bytes: root for the tag, child for any manifest
// by digest, config for any blob. Digests are not checked, so the bytes
// reach the decoders whatever they are.
type fuzzSource struct{ root, child, config []byte }

func (s fuzzSource) manifest(_ context.Context, id string) (fetched, error) {
	if strings.HasPrefix(id, "sha256:") {
		return fetched{raw: s.child}, nil
	}
	return fetched{raw: s.root}, nil
}

func (s fuzzSource) blob(context.Context, v1.Hash, int64, string) ([]byte, error) {
	return s.config, nil
}

func (fuzzSource) at(id string) ref.Ref { return at(fuzzRef, id) }

var fuzzRef = ref.Ref{Scheme: ref.Registry, Registry: "registry.example.com", Repository: "fuzz/app", Tag: "latest"}

// FuzzWalkAndCheck feeds arbitrary manifest, index and config bytes
// through the walk and the audit: errors and findings, never a panic.
func FuzzWalkAndCheck(f *testing.F) {
	index := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":10,"digest":"sha256:` + strings.Repeat("a", 64) + `","platform":{"os":"linux","architecture":"arm64"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":10,"digest":"sha256:` + strings.Repeat("b", 64) + `","platform":{"os":"unknown","architecture":"unknown"},"annotations":{"vnd.docker.reference.type":"attestation-manifest","vnd.docker.reference.digest":"sha256:00"}}]}`
	image := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:` + strings.Repeat("c", 64) + `"},"layers":[]}`
	config := `{"architecture":"amd64","os":"linux","variant":"","rootfs":{"type":"layers","diff_ids":[]}}`
	f.Add([]byte(index), []byte(image), []byte(config))
	f.Add([]byte(image), []byte(index), []byte(config))
	f.Add([]byte(`{"schemaVersion":1}`), []byte(`{}`), []byte(`[]`))
	f.Add([]byte(`{"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:`+strings.Repeat("d", 64)+`"}]}`), []byte(index), []byte(`null`))
	require, _ := platform.ParseList("linux/amd64,linux/arm64")
	f.Fuzz(func(t *testing.T, root, child, config []byte) {
		n, err := walk(context.Background(), fuzzSource{root, child, config}, "latest")
		if err != nil {
			return
		}
		if n.Index == nil && n.Manifest == nil && n.Err == nil {
			t.Fatal("an unreadable root must carry its error")
		}
		_, findings, problems := audit.Check(fuzzRef, n, require)
		for _, p := range problems {
			if p == nil {
				t.Fatal("a nil problem")
			}
		}
		for _, fd := range findings {
			if fd.Code == "" || fd.Message == "" {
				t.Fatalf("a finding without code or message: %+v", fd)
			}
		}
		_ = errors.Is(n.Err, tree.ErrMissing)
	})
}
