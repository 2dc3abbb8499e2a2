// Package audit checks multi-arch images: what each index claims against
// what each image really is, and what the user requires against what is
// there. It reads trees (package tree) and returns findings; it never talks
// to a registry itself.
//
// # How do I use this package?
//
// For one tree already fetched, call [Check]. For many targets, give [Run] a
// [Source] (registry.Client is one) and the targets; it fetches them
// concurrently and returns a [Result] with every image, finding and error,
// in the order the targets were given. One target failing never hides the
// results of the others.
//
// Finding codes ([Code]) are a stable contract: scripts match on them. Each
// code has one default severity and a hint that says how to fix it; see
// [Codes].
package audit
