// Command gen rebuilds testdata/layout, the committed reference OCI layout,
// deterministically (fixed contents, zero timestamps):
//
//	go run ./testdata/gen testdata/layout
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/registry"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./testdata/gen DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c, err := registry.New()
	if err == nil {
		err = stories.WriteReference(context.Background(), c, dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
