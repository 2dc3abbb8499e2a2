// Package platform is mlaudit's view of OCI platforms: parsing what users
// type, comparing what an index claims with what an image config says, and
// reading an architecture out of a tag name such as "latest-aarch64".
//
// # How do I use this package?
//
// Parse user input with [Parse] or [ParseList]; they insist on an explicit
// OS/ARCH so that a platform never silently depends on the host, unlike
// containerd's platforms.Parse, which fills a missing OS from the machine it
// runs on.
//
// Compare with [Same] (an index entry against a required platform, or two
// entries) and [Agrees] (an index entry against its image config, where a
// config that omits the ARM variant or the Windows os.version is not taken
// as a disagreement). Both compare after containerd's normalization, so
// aarch64 equals arm64, arm64/v8 equals arm64, and arm equals arm/v7.
//
// [FromTag] infers the architecture named by a tag, and [Noncanonical]
// explains why a platform is spelled unusually.
package platform
