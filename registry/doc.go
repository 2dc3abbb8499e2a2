// Package registry is the only part of mlaudit that talks to registries or
// reads OCI image layouts. It turns a target ("ghcr.io/org/app:1.0",
// "ghcr.io/org/app", "oci:./out") into references, and a reference into a
// [tree.Node]: the manifest, its children and their configs, with every byte
// checked against its digest.
//
// # How do I use this package?
//
//	c, err := registry.New(registry.WithTimeout(10 * time.Second))
//	refs, err := c.Expand(ctx, "localhost:5000/app")   // every tag
//	node, err := c.Fetch(ctx, refs[0])                  // the tree behind one
//	fmt.Println(c.Stats())                              // requests made
//
// Authentication uses the Docker config and its credential helpers
// (authn.DefaultKeychain), as docker, crane and skopeo do. Plain HTTP is used
// only for loopback registries and for hosts given to [WithInsecure]; every
// other registry must speak HTTPS, even on a private address (where
// go-containerregistry alone would fall back to HTTP).
//
// One authenticated transport is kept per repository, so the ping and the
// token exchange happen once per repository per run, not once per request.
package registry
