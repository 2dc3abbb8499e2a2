// Command gen rebuilds the committed fixtures deterministically (fixed
// contents, zero timestamps): testdata/layout, the reference OCI layout,
// and testdata/shapes, the shapes of real exports and repositories
// (internal/stories/shapes.go):
//
//	go run ./testdata/gen testdata
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/registry"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./testdata/gen DIR (the repository's testdata)")
		os.Exit(2)
	}
	if err := generate(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func generate(dir string) error {
	layoutDir, shapesDir := filepath.Join(dir, "layout"), filepath.Join(dir, "shapes")
	for _, d := range []string{layoutDir, shapesDir} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	c, err := registry.New()
	if err != nil {
		return err
	}
	if err := stories.WriteReference(context.Background(), c, layoutDir); err != nil {
		return err
	}
	return stories.WriteShapes(shapesDir)
}
