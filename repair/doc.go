// Package repair rebuilds a correct image index for a tag from what the tag
// holds now and from other images (per-arch tags, other repositories), the
// way crane and `docker buildx imagetools create` do, and loses nothing.
//
// # How do I use this package?
//
// [Run] is the whole sequence the command line and the demo share: it
// prepares a plan, shows it, applies it when asked, and audits the result.
//
// [Prepare] fetches what a repair needs through a [Registry]
// (registry.Client is one) and calls [Build], which computes a [Plan]: one
// row per platform with what happens to it and why, the new index's bytes,
// and an audit of the result. Build writes nothing and talks to nothing, so
// plans are tested on trees built by hand.
//
// [Apply] carries out a plan through a [Writer]: it pushes the children and
// the new index by digest, checks that the tag still holds what the plan
// was made from (else [ErrChanged], and nothing moved), tags a backup of the
// old index when asked, and only then moves the tag. It never deletes.
package repair
