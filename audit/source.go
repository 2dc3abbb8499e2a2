package audit

import (
	"context"
	"errors"

	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// What an audit reads from: the Source [Run] needs, and what else a
// source may offer (registry.Client offers all of it).

// ErrNoTags is a repository, registry or layout target that lists nothing
// to audit: an empty repository, or every tag filtered out.
var ErrNoTags = errors.New("no tags to audit")

// Source is where an audit reads from. registry.Client implements it.
type Source interface {
	// Expand turns a target into the image references it names.
	Expand(ctx context.Context, target ref.Ref) ([]ref.Ref, error)
	// Fetch reads an image reference and everything below it.
	Fetch(ctx context.Context, r ref.Ref) (*tree.Node, error)
}

// Repositories is implemented by sources that list a registry's
// repositories apart from their tags (registry.Client, through the
// catalog): a sharded audit of a whole registry then lists the tags of
// its own shard's repositories only.
type Repositories interface {
	// Repositories lists the repositories of a registry target, in name
	// order.
	Repositories(ctx context.Context, registry ref.Ref) ([]ref.Ref, error)
	// ExpandAll lists the references of every repository given, in
	// their order.
	ExpandAll(ctx context.Context, repos []ref.Ref) ([]ref.Ref, error)
}

// Coster is implemented by sources that count what an audit cost; [Run]
// copies the counts into the result's stats. registry.Client is one.
type Coster interface {
	// RequestCounts counts HTTP requests by "METHOD kind".
	RequestCounts() map[string]int64
	// CacheHits counts manifests and configs served without a GET.
	CacheHits() int64
	// RateLimitRemaining is the allowance each registry host announced.
	RateLimitRemaining() map[string]int
}

// Resolver is implemented by sources that tell whether a manifest exists
// with one cheap request (a HEAD on a registry). registry.Client is one.
// With it, [Run] reports an artifact whose subject is gone
// (missing-child).
type Resolver interface {
	// Resolve returns the digest r holds, or "" when it does not exist.
	Resolve(ctx context.Context, r ref.Ref) (string, error)
}
