package tree_test

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/internal/treetest"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/tree"
)

// fanOut is an index listing the next one width times, depth levels deep,
// down to one image listed width times: the entries of one digest share
// their children, as the registry package builds them.
func fanOut(width, depth int) *tree.Node {
	child := treetest.Image("leaf", "linux/amd64")
	p := "linux/amd64"
	for range depth {
		entries := make([]*tree.Node, width)
		for i := range entries {
			entries[i] = treetest.Entry(child, p)
		}
		child, p = treetest.Index(types.OCIImageIndex, entries...), ""
	}
	return child
}

func TestWalkVisitsEachDistinctIndexOnce(t *testing.T) {
	root := fanOut(10, 6) // a million paths
	var visits []string
	root.Walk(func(parent, entry *tree.Node, again bool) {
		kind := "image"
		if entry.Index != nil {
			kind = "index"
		}
		if again {
			kind += " again"
		}
		visits = append(visits, kind)
	})
	// Each level: the first entry walked into, nine repeats.
	if len(visits) != 60 {
		t.Fatalf("%d visits, want 60", len(visits))
	}
	if got := strings.Join(visits[:11], ","); got != "index,index,index,index,index,image,image,image,image,image,image" {
		t.Errorf("first visits = %s: want depth first, an index before its entries", got)
	}
	if n := len(root.Images()); n != 10 {
		t.Errorf("Images() = %d, want 10", n)
	}
	if n := len(root.Indexes()); n != 6 {
		t.Errorf("Indexes() = %d, want 6", n)
	}
}

func TestWalkKeepsDistinctIndexes(t *testing.T) {
	amd := treetest.Image("amd", "linux/amd64")
	arm := treetest.Image("arm", "linux/arm64")
	a := treetest.Index(types.OCIImageIndex, treetest.Entry(amd, "linux/amd64"))
	b := treetest.Index(types.OCIImageIndex, treetest.Entry(arm, "linux/arm64"))
	// The same image under two distinct indexes is two entries.
	c := treetest.Index(types.OCIImageIndex, treetest.Entry(amd, "linux/amd64"), treetest.Entry(amd, "linux/amd64"))
	root := treetest.Index(types.OCIImageIndex, treetest.Entry(a, ""), treetest.Entry(b, ""), treetest.Entry(c, ""), treetest.Entry(a, ""))
	var got []string
	for _, img := range root.Images() {
		got = append(got, platform.Format(img.Claimed()))
	}
	if want := "linux/amd64 linux/arm64 linux/amd64 linux/amd64"; strings.Join(got, " ") != want {
		t.Errorf("Images() = %v, want %s", got, want)
	}
	if n := len(root.Indexes()); n != 4 {
		t.Errorf("Indexes() = %d, want root, a, b, c", n)
	}
}
