// Package cache is a content-addressed store on disk for manifests and
// image configs: bytes filed under their digest, checked against it on
// every read. Content never changes under a digest, so entries never go
// stale; a repeat audit of unchanged tags reads them instead of the
// registry. The registry package uses it; nothing here talks to a network.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/internal/atomicfile"
)

// Dir is a cache rooted at a directory. The zero value, or a nil *Dir,
// caches nothing.
type Dir struct {
	root string
}

// Open returns the cache in dir, creating it if needed.
func Open(dir string) (*Dir, error) {
	if err := os.MkdirAll(filepath.Join(dir, "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("opening the cache %s: %w", dir, err)
	}
	return &Dir{root: dir}, nil
}

// DefaultDir is where the CLI keeps its cache: the user's cache directory
// ($XDG_CACHE_HOME or ~/.cache on Linux) under "mlaudit".
func DefaultDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "mlaudit"), nil
}

// usable reports whether h can name a file: sha256 and 64 hex digits, so a
// digest from a hostile manifest cannot climb out of the cache.
func (d *Dir) usable(h v1.Hash) bool {
	if d == nil || d.root == "" || h.Algorithm != "sha256" || len(h.Hex) != 64 {
		return false
	}
	_, err := hex.DecodeString(h.Hex)
	return err == nil
}

func (d *Dir) path(h v1.Hash) string {
	return filepath.Join(d.root, h.Algorithm, h.Hex)
}

// Get returns the bytes filed under h, if the cache has them and they still
// hash to h (a damaged file is removed and reported as absent).
func (d *Dir) Get(h v1.Hash) ([]byte, bool) {
	if !d.usable(h) {
		return nil, false
	}
	b, err := os.ReadFile(d.path(h))
	if err != nil {
		return nil, false
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != h.Hex {
		_ = os.Remove(d.path(h))
		return nil, false
	}
	return b, true
}

// Put files b under h. The caller has checked that b hashes to h. Writes
// go through a temporary file and a rename, so readers in other processes
// never see half an entry.
func (d *Dir) Put(h v1.Hash, b []byte) error {
	if !d.usable(h) {
		return nil
	}
	target := d.path(h)
	if _, err := os.Stat(target); err == nil {
		return nil
	}
	return atomicfile.WriteBytes(target, 0o644, b)
}

// Empty reports whether the cache holds nothing yet: a first run, where
// resolving tags with HEAD before fetching would only add requests.
func (d *Dir) Empty() bool {
	if d == nil || d.root == "" {
		return true
	}
	entries, err := os.ReadDir(filepath.Join(d.root, "sha256"))
	if errors.Is(err, fs.ErrNotExist) || err != nil {
		return true
	}
	for _, e := range entries {
		if !e.IsDir() && e.Name()[0] != '.' {
			return false
		}
	}
	return true
}

// GetNote returns a note filed under key: a small derived fact (a layer's
// deep-check summary) that is not content and is not checked against a
// digest here, so it is trusted as written: callers file only facts
// derived from content they checked against its digest, and change the
// key when what they file changes meaning. key must be a plain file name.
func (d *Dir) GetNote(key string) ([]byte, bool) {
	if d == nil || d.root == "" || !plainName(key) {
		return nil, false
	}
	b, err := os.ReadFile(filepath.Join(d.root, "notes", key))
	return b, err == nil
}

// PutNote files a note under key, atomically.
func (d *Dir) PutNote(key string, b []byte) error {
	if d == nil || d.root == "" || !plainName(key) {
		return nil
	}
	dir := filepath.Join(d.root, "notes")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, key), 0o644, b)
}

func plainName(key string) bool {
	return key != "" && !strings.ContainsAny(key, "/\\") && !strings.HasPrefix(key, ".")
}
