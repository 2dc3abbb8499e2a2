package audit_test

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// Check works on trees built by hand as well as fetched ones: here an index
// that lists an amd64 image as linux/arm64 and lacks linux/amd64.
func ExampleCheck() {
	image := &tree.Node{
		Descriptor: v1.Descriptor{
			MediaType: types.OCIManifestSchema1,
			Digest:    v1.Hash{Algorithm: "sha256", Hex: "1111111111111111111111111111111111111111111111111111111111111111"},
			Platform:  &v1.Platform{OS: "linux", Architecture: "arm64"},
		},
		Manifest: &v1.Manifest{},
		Config:   &v1.ConfigFile{OS: "linux", Architecture: "amd64"},
	}
	root := &tree.Node{
		Descriptor: v1.Descriptor{MediaType: types.OCIImageIndex},
		Index:      &v1.IndexManifest{MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{image.Descriptor}},
		Children:   []*tree.Node{image},
	}
	require := []specs.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
	at, err := ref.Parse("registry.example.com/app:1.0")
	if err != nil {
		panic(err)
	}
	_, findings, _ := audit.Check(at, root, require)
	for _, f := range findings {
		fmt.Println(f)
	}
	// Output:
	// error platform-mismatch registry.example.com/app:1.0 linux/arm64: the index lists sha256:111111111111 as linux/arm64 but its config says linux/amd64
	// error missing-platform registry.example.com/app:1.0 linux/amd64: linux/amd64 is required but the index has no entry for it (it has linux/arm64)
}
