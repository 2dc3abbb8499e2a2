package deep_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mlaudit/mlaudit/deep"
	"github.com/mlaudit/mlaudit/internal/stories"
)

// BenchmarkInspect checks a realistic image: a base layer of 400 files (40
// executables, a 16 MiB data file) and an application layer with a real Go
// binary as the entrypoint. It reports the compressed bytes read.
func BenchmarkInspect(b *testing.B) {
	var base []stories.File
	for i := 0; i < 360; i++ {
		base = append(base, stories.File{Path: fmt.Sprintf("usr/share/doc/pkg%d/README", i), Data: []byte("documentation\n"), Mode: 0o644})
	}
	for i := 0; i < 40; i++ {
		base = append(base, exe(fmt.Sprintf("usr/bin/tool%d", i), stories.ELF("arm64")))
	}
	base = append(base, stories.File{Path: "usr/share/data.bin", Data: noise(16 << 20), Mode: 0o644})
	im := &image{layers: [][]byte{
		layer(b, "gzip", base...),
		layer(b, "gzip", exe("usr/local/bin/app", goBinaries["arm64"])),
	}}
	total := 0
	for _, l := range im.layers {
		total += len(l)
	}
	cf := config("arm64", "/usr/local/bin/app")
	m := im.manifest() // hashes the layers, once
	var read int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := (&deep.Inspector{Limits: deep.DefaultLimits}).Inspect(context.Background(), m, cf, im.open)
		if err != nil || r.Mismatch {
			b.Fatalf("%v %+v", err, r)
		}
		read += r.Bytes
	}
	b.ReportMetric(float64(read)/float64(b.N), "bytes-read/op")
	b.ReportMetric(float64(total), "image-bytes")
}
