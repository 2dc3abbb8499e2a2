package deep

import (
	"bytes"
	"debug/elf"
	"debug/pe"
	"encoding/binary"
)

// headerBytes is how much of a file is read to classify it: an ELF header
// is 64 bytes; a PE header follows a DOS stub, usually within the first
// few hundred bytes.
const headerBytes = 4096

// Binary is an executable found in an image and what it is built for.
type Binary struct {
	Path string `json:"path"`
	// Format is "ELF" or "PE".
	Format string `json:"format"`
	// Arch is the Go/OCI architecture ("amd64", "arm64", "arm", ...), or
	// the machine name when mlaudit has no architecture for it.
	Arch string `json:"arch"`
}

// Classify reads a file's first bytes and says which architecture it is
// built for, or false for scripts, data and anything not ELF or PE.
//
// The headers are read here rather than with debug/elf and debug/pe, which
// need the whole file (their section tables can be anywhere in it); only
// their constants are used. ARM variants (v6, v7) cannot be told from
// e_machine alone, so an ARM binary is just "arm".
func Classify(head []byte) (format, arch string, ok bool) {
	switch {
	case len(head) >= 20 && bytes.Equal(head[:4], []byte(elf.ELFMAG)):
		return "ELF", elfArch(head), true
	case len(head) >= 64 && head[0] == 'M' && head[1] == 'Z':
		return peArch(head)
	}
	return "", "", false
}

func elfArch(h []byte) string {
	class, data := elf.Class(h[elf.EI_CLASS]), elf.Data(h[elf.EI_DATA])
	var order binary.ByteOrder = binary.LittleEndian
	if data == elf.ELFDATA2MSB {
		order = binary.BigEndian
	}
	machine := elf.Machine(order.Uint16(h[18:20]))
	switch machine {
	case elf.EM_X86_64:
		return "amd64"
	case elf.EM_AARCH64:
		return "arm64"
	case elf.EM_ARM:
		return "arm"
	case elf.EM_386:
		return "386"
	case elf.EM_PPC64:
		if data == elf.ELFDATA2LSB {
			return "ppc64le"
		}
		return "ppc64"
	case elf.EM_S390:
		if class == elf.ELFCLASS64 {
			return "s390x"
		}
		return "s390"
	case elf.EM_RISCV:
		if class == elf.ELFCLASS64 {
			return "riscv64"
		}
		return "riscv"
	case elf.EM_LOONGARCH:
		return "loong64"
	case elf.EM_MIPS:
		if class == elf.ELFCLASS64 {
			if data == elf.ELFDATA2LSB {
				return "mips64le"
			}
			return "mips64"
		}
		if data == elf.ELFDATA2LSB {
			return "mipsle"
		}
		return "mips"
	}
	return machine.String()
}

func peArch(h []byte) (string, string, bool) {
	off := int(binary.LittleEndian.Uint32(h[0x3c:0x40]))
	if off < 0 || off+6 > len(h) || !bytes.Equal(h[off:off+4], []byte("PE\x00\x00")) {
		return "", "", false
	}
	switch binary.LittleEndian.Uint16(h[off+4 : off+6]) {
	case pe.IMAGE_FILE_MACHINE_AMD64:
		return "PE", "amd64", true
	case pe.IMAGE_FILE_MACHINE_ARM64:
		return "PE", "arm64", true
	case pe.IMAGE_FILE_MACHINE_I386:
		return "PE", "386", true
	case pe.IMAGE_FILE_MACHINE_ARMNT, pe.IMAGE_FILE_MACHINE_ARM:
		return "PE", "arm", true
	case pe.IMAGE_FILE_MACHINE_RISCV64:
		return "PE", "riscv64", true
	}
	return "PE", "unknown", true
}
