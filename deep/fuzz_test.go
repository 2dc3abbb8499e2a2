package deep

import (
	"bytes"
	"testing"
)

// FuzzClassify: any bytes are a binary of some architecture or none.
func FuzzClassify(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00\x01\x00\x00\x00"))
	f.Add([]byte("MZ" + string(make([]byte, 58)) + "\x40\x00\x00\x00PE\x00\x00\x64\x86"))
	f.Add([]byte("#!/bin/sh\n"))
	f.Add([]byte("MZ\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, head []byte) {
		format, arch, ok := Classify(head)
		if ok && (format == "" || arch == "") {
			t.Fatalf("Classify = %q %q true", format, arch)
		}
	})
}

// FuzzScan: any layer bytes are a summary or an error, within the caps.
func FuzzScan(f *testing.F) {
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0})
	f.Add(bytes.Repeat([]byte{0}, 1024))
	f.Add([]byte("ustar"))
	lim := Limits{LayerCompressed: 1 << 20, LayerUncompressed: 4 << 20, ImageCompressed: 1 << 20, Entries: 1000, Files: 10}
	f.Fuzz(func(t *testing.T, layer []byte) {
		s, err := Scan(bytes.NewReader(layer), "", lim, lim.Files)
		if err == nil && (s == nil || len(s.Files) > lim.Files) {
			t.Fatalf("a summary past the file cap: %+v", s)
		}
	})
}
