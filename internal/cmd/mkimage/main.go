// Command mkimage builds mlaudit's own multi-arch container image into an
// OCI layout, with go-containerregistry and no container runtime: for each
// platform it cross-compiles ./cmd/mlaudit (CGO_ENABLED=0), puts the binary
// at /mlaudit in a one-layer image over an empty (scratch) base, and writes
// an OCI index of those images, each labelled with its platform, under a
// ref name:
//
//	go run ./internal/cmd/mkimage -o bin/image -tag latest
//	mlaudit audit --deep --require linux/amd64,linux/arm64 oci:bin/image:latest
//
// Run it from inside the module (make image does). The output is
// reproducible for a given Go toolchain and source: the layer's files and
// the configs carry no timestamps, and binaries are built with -trimpath
// and without VCS stamping.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// defaultPlatforms are the Linux platforms goreleaser also builds for.
const defaultPlatforms = "linux/amd64,linux/arm64,linux/arm/v7,linux/ppc64le,linux/s390x,linux/riscv64"

// pkg is what goes in the image.
const pkg = "github.com/mlaudit/mlaudit/cmd/mlaudit"

func main() {
	platforms := flag.String("platforms", defaultPlatforms, "comma-separated `os/arch[/variant]` list to build")
	out := flag.String("o", "bin/image", "OCI layout `dir` to write (created; an existing index.json is replaced)")
	tag := flag.String("tag", "latest", "org.opencontainers.image.ref.name of the index in the layout")
	version := flag.String("version", "", "set main.version in the binaries (default: none, mlaudit says (devel))")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "mkimage: no arguments expected; see -h")
		os.Exit(2)
	}
	if err := run(*platforms, *out, *tag, *version); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(platformList, out, tag, version string) error {
	var plats []v1.Platform
	for _, s := range strings.Split(platformList, ",") {
		p, err := parsePlatform(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		plats = append(plats, p)
	}
	work, err := os.MkdirTemp("", "mkimage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range plats {
		bin := filepath.Join(work, strings.ReplaceAll(p.String(), "/", "-"))
		if err := build(p, bin, version); err != nil {
			return err
		}
		img, err := image(p, bin)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		plat := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &plat},
		})
		fmt.Fprintf(os.Stderr, "mkimage: built %s\n", p)
	}

	l, err := layout.Write(out, empty.Index)
	if err != nil {
		return err
	}
	if err := l.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag,
	})); err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "mkimage: wrote oci:%s:%s (%s)\n", out, tag, d)
	return nil
}

// parsePlatform reads "linux/arm/v7". Only Linux is accepted: the image
// has no OS of its own, and a Windows image needs a Windows base.
func parsePlatform(s string) (v1.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch or os/arch/variant", s)
	}
	if parts[0] != "linux" {
		return v1.Platform{}, fmt.Errorf("platform %q: only linux images can be built over scratch", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	if p.Architecture == "arm" && p.Variant == "" {
		p.Variant = "v7" // what containerd assumes for plain arm
	}
	if p.Architecture == "arm" && !(p.Variant == "v5" || p.Variant == "v6" || p.Variant == "v7") {
		return v1.Platform{}, fmt.Errorf("platform %q: arm variant must be v5, v6 or v7", s)
	}
	if p.Architecture != "arm" && p.Variant != "" {
		return v1.Platform{}, fmt.Errorf("platform %q: mkimage sets a variant only for arm", s)
	}
	return p, nil
}

// build cross-compiles mlaudit for p into bin.
func build(p v1.Platform, bin, version string) error {
	ldflags := "-s -w"
	if version != "" {
		ldflags += " -X main.version=" + version
	}
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	if p.Architecture == "arm" {
		cmd.Env = append(cmd.Env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build for %s: %w", p, err)
	}
	return nil
}

// image is scratch plus one layer holding bin at /mlaudit, with a config
// that names p and runs /mlaudit.
func image(p v1.Platform, bin string) (v1.Image, error) {
	tarBytes, err := layerTar(bin)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Config.Entrypoint = []string{"/mlaudit"}
	cf.Config.Cmd = nil
	cf.History = nil // mutate.AppendLayers records one with a timestamp
	return mutate.ConfigFile(img, cf)
}

// layerTar is a tar stream with one file, /mlaudit, executable, owned by
// root, with no timestamp.
func layerTar(bin string) ([]byte, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     "mlaudit",
		Mode:     0o755,
		Size:     int64(len(data)),
		Format:   tar.FormatPAX,
	}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() == 0 {
		return nil, errors.New("empty layer")
	}
	return buf.Bytes(), nil
}
