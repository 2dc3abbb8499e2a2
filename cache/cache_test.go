package cache

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func hashOf(t *testing.T, b []byte) v1.Hash {
	h, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestPutGet(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !d.Empty() {
		t.Fatal("a new cache is empty")
	}
	b := []byte(`{"schemaVersion":2}`)
	h := hashOf(t, b)
	if _, ok := d.Get(h); ok {
		t.Fatal("nothing is cached yet")
	}
	if err := d.Put(h, b); err != nil {
		t.Fatal(err)
	}
	got, ok := d.Get(h)
	if !ok || string(got) != string(b) || d.Empty() {
		t.Fatalf("Get = %q, %v; empty %v", got, ok, d.Empty())
	}
}

func TestDamagedEntryIsDropped(t *testing.T) {
	d, _ := Open(t.TempDir())
	b := []byte("config bytes")
	h := hashOf(t, b)
	if err := d.Put(h, b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.path(h), []byte("flipped bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Get(h); ok {
		t.Fatal("bytes that no longer hash to their digest must not be served")
	}
	if _, err := os.Stat(d.path(h)); !os.IsNotExist(err) {
		t.Error("a damaged entry should be removed")
	}
}

func TestNilAndBadDigests(t *testing.T) {
	var d *Dir
	if _, ok := d.Get(v1.Hash{Algorithm: "sha256", Hex: "00"}); ok || d.Put(v1.Hash{}, nil) != nil || !d.Empty() {
		t.Error("a nil cache caches nothing and fails nothing")
	}
	root := t.TempDir()
	real, _ := Open(filepath.Join(root, "cache"))
	climb := "../../" + strings.Repeat("a", 58) // 64 characters, not hex
	if err := real.Put(v1.Hash{Algorithm: "sha256", Hex: climb}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(real.root, "sha256", climb)); err == nil {
		t.Error("a digest that is not 64 hex digits must not name a file")
	}
}

func TestUnmakeableDirIsAnError(t *testing.T) {
	if _, err := Open("/proc/mlaudit-cannot-be-here"); err == nil || !strings.Contains(err.Error(), "/proc/mlaudit-cannot-be-here") {
		t.Fatalf("a cache directory that cannot be made should be an error naming it, got %v", err)
	}
}
