package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/cache"
)

// TestContentMemoryBounded fills the per-run content store past its
// memory budget: with a disk cache, memory keeps only the most recently
// used bytes and what it dropped comes back from the disk as a hit, with
// no fetch; without one, everything stays in memory, so that nothing is
// fetched twice either.
func TestContentMemoryBounded(t *testing.T) {
	const n, size = 40, 1000
	blobs := make([][]byte, n)
	hashes := make([]v1.Hash, n)
	for i := range blobs {
		blobs[i] = bytes.Repeat([]byte(fmt.Sprintf("%03d", i)), size/3)
		sum := sha256.Sum256(blobs[i])
		hashes[i] = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	}
	disk, err := cache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		disk     *cache.Dir
		maxBytes int
	}{
		{"with a disk cache", disk, 10 * size},
		{"without", nil, n * size},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newContent(tt.disk)
			c.budget = 10 * size
			fetches := 0
			for round := range 2 {
				for i, h := range hashes {
					b, stored, err := c.get(h, func() ([]byte, error) { fetches++; return blobs[i], nil })
					if err != nil || !bytes.Equal(b, blobs[i]) {
						t.Fatalf("round %d, blob %d: %v", round, i, err)
					}
					if want := round > 0; stored != want {
						t.Errorf("round %d, blob %d: stored %v, want %v", round, i, stored, want)
					}
				}
			}
			if fetches != n {
				t.Errorf("%d fetches for %d digests, want one each", fetches, n)
			}
			held := 0
			for _, f := range c.mem {
				held += len(f.b)
			}
			if held > tt.maxBytes {
				t.Errorf("memory holds %d bytes, want at most %d", held, tt.maxBytes)
			}
			if hits := c.hits.Load(); hits != n {
				t.Errorf("%d hits, want %d (the second round)", hits, n)
			}
		})
	}
}
