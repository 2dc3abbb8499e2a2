package stories

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// elfMachines maps architectures to ELF machines, class and byte order.
var elfMachines = map[string]struct {
	machine elf.Machine
	class   elf.Class
	order   binary.ByteOrder
}{
	"amd64":   {elf.EM_X86_64, elf.ELFCLASS64, binary.LittleEndian},
	"arm64":   {elf.EM_AARCH64, elf.ELFCLASS64, binary.LittleEndian},
	"arm":     {elf.EM_ARM, elf.ELFCLASS32, binary.LittleEndian},
	"386":     {elf.EM_386, elf.ELFCLASS32, binary.LittleEndian},
	"ppc64le": {elf.EM_PPC64, elf.ELFCLASS64, binary.LittleEndian},
	"s390x":   {elf.EM_S390, elf.ELFCLASS64, binary.BigEndian},
	"riscv64": {elf.EM_RISCV, elf.ELFCLASS64, binary.LittleEndian},
}

// ELF returns the first bytes of an executable built for arch: a valid ELF
// header (what the deep check reads) followed by filler.
func ELF(arch string) []byte {
	m, ok := elfMachines[arch]
	if !ok {
		panic("stories.ELF: no machine for " + arch)
	}
	h := make([]byte, 64, 256)
	copy(h, elf.ELFMAG)
	h[elf.EI_CLASS] = byte(m.class)
	if m.order == binary.LittleEndian {
		h[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	} else {
		h[elf.EI_DATA] = byte(elf.ELFDATA2MSB)
	}
	h[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	m.order.PutUint16(h[16:], uint16(elf.ET_EXEC))
	m.order.PutUint16(h[18:], uint16(m.machine))
	m.order.PutUint32(h[20:], uint32(elf.EV_CURRENT))
	return append(h, bytes.Repeat([]byte{0x90}, 192)...)
}

// peMachines are the PE (Windows) machine types by GOARCH.
var peMachines = map[string]uint16{"amd64": 0x8664, "arm64": 0xaa64, "386": 0x14c}

// PE returns the first bytes of a Windows executable built for arch: the
// MZ header pointing at a PE header with its machine type (what the deep
// check reads), then filler.
func PE(arch string) []byte {
	machine, ok := peMachines[arch]
	if !ok {
		panic("stories.PE: no machine for " + arch)
	}
	h := make([]byte, 512)
	copy(h, "MZ")
	binary.LittleEndian.PutUint32(h[0x3c:], 0x80)
	copy(h[0x80:], "PE\x00\x00")
	binary.LittleEndian.PutUint16(h[0x84:], machine)
	return h
}

// File is one file in a layer.
type File struct {
	Path string
	Data []byte
	Mode int64
}

// Layer is a gzip'd tar of files.
func Layer(files ...File) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.Path, Mode: f.Mode, Size: int64(len(f.Data)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// ImageWithLayers builds an OCI image of layers (bottom first) whose config
// states platform p and runs entrypoint.
func ImageWithLayers(p, entrypoint string, layers ...v1.Layer) (v1.Image, error) {
	plat, err := v1.ParsePlatform(p)
	if err != nil {
		return nil, fmt.Errorf("story platform %q: %w", p, err)
	}
	img := mutate.MediaType(emptyOCI(), types.OCIManifestSchema1)
	img, err = mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, err
	}
	return withConfig(img, plat, func(c *v1.Config) { c.Entrypoint = []string{entrypoint} })
}

// BinaryImage is an image for platform p whose entrypoint and tools are
// executables built for binArch: equal to p's architecture for a correct
// image, another one for the mistake --deep finds.
func BinaryImage(p, binArch, salt string) (v1.Image, error) {
	base, err := Layer(
		File{Path: "bin/sh", Data: ELF(binArch), Mode: 0o755},
		File{Path: "usr/bin/env", Data: ELF(binArch), Mode: 0o755},
		File{Path: "etc/os-release", Data: []byte("ID=story\n"), Mode: 0o644},
	)
	if err != nil {
		return nil, err
	}
	app, err := Layer(
		File{Path: "usr/local/bin/agent", Data: append(ELF(binArch), []byte(salt)...), Mode: 0o755},
		File{Path: "usr/local/bin/agent-healthcheck", Data: []byte("#!/bin/sh\nexec agent --check\n"), Mode: 0o755},
	)
	if err != nil {
		return nil, err
	}
	return ImageWithLayers(p, "/usr/local/bin/agent", base, app)
}
