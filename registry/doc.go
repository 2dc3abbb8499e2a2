// Package registry is the only part of mlaudit that talks to registries and
// the Docker engine, or reads and writes OCI image layouts and archives. It turns a reference (a ref.Ref:
// "ghcr.io/org/app:1.0", "ghcr.io/org/app", "oci:./out") into the image
// references it names, and an image reference into a [tree.Node]: the
// manifest, its children and their configs, with every byte checked against
// its digest. It also writes: images and indexes by digest, and tags.
//
// # How do I use this package?
//
//	c, err := registry.New(registry.WithTimeout(10 * time.Second))
//	repo, err := ref.Parse("localhost:5000/app")
//	refs, err := c.Expand(ctx, repo)   // every tag
//	node, err := c.Fetch(ctx, refs[0]) // the tree behind one
//	fmt.Println(c.Stats())             // requests made
//
// Each kind of source is one implementation of an internal scheme interface
// (scheme.go): a repository on a registry (remote.go, remote_write.go), an
// OCI layout (layout.go, layout_write.go), an OCI archive or docker save
// file (archive*.go), and the local Docker engine through its Engine API
// (daemon.go, daemon_engine.go). Layouts and archives share one reader
// (ocilayout.go, layout_content.go) over their files: a directory, or a
// tar's index. The Client picks the scheme of a reference once; its
// methods never branch on the kind of source. Layout manifests are read
// and written at any depth below index.json, and a layout or OCI archive
// that does not exist yet is created on write (an archive is rewritten
// whole, archive_write.go).
//
// Authentication uses the Docker config and its credential helpers
// (authn.DefaultKeychain), as docker, crane and skopeo do. Plain HTTP is used
// only for loopback registries and for hosts given to [WithInsecure]; every
// other registry must speak HTTPS, even on a private address (where
// go-containerregistry alone would fall back to HTTP).
//
// Errors are typed ([StatusError], [TimeoutError], [PlainHTTPError],
// [OptionError], and sentinels for errors.Is) and never name a command-line
// flag: the command line adds that.
package registry
