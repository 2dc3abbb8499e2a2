package ref_test

import (
	"fmt"

	"github.com/mlaudit/mlaudit/ref"
)

// A reference is parsed once; everything else is read off the value.
func ExampleParse() {
	r, err := ref.Parse("alpine:3")
	if err != nil {
		panic(err)
	}
	sibling, _ := r.WithTag("3-arm64")
	mirror, _ := ref.ParsePrefix("registry.internal/mirror")
	copy, _ := r.Rebase(mirror)
	fmt.Println(r.Written(), "is", r)
	fmt.Println(r.Registry, r.Repository, r.Tag)
	fmt.Println(sibling.Brief(r), copy)
	// Output:
	// alpine:3 is index.docker.io/library/alpine:3
	// index.docker.io library/alpine 3
	// :3-arm64 registry.internal/mirror/library/alpine:3
}

// A policy pattern is normalized as references are.
func ExampleParsePattern() {
	p, _ := ref.ParsePattern("docker.io/library/*")
	for _, s := range []string{"alpine:3", "index.docker.io/library/alpine:3", "ghcr.io/library/alpine:3"} {
		r, _ := ref.Parse(s)
		fmt.Println(s, p.Match(r))
	}
	// Output:
	// alpine:3 true
	// index.docker.io/library/alpine:3 true
	// ghcr.io/library/alpine:3 false
}
