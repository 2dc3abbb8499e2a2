package audit

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/mlaudit/mlaudit/ref"
)

// Shard is one of Count parts of an audit, for registries that outgrow one
// job: [Run] with [Options.Shard] audits only the references whose
// repository [ShardOf] assigns to Index, so Count jobs given the same
// targets (a Kubernetes Indexed Job) audit every repository exactly once
// between them, and [Merge] puts their results together.
//
// Shards are by repository, never by tag: a repository's tags, per-arch
// siblings, release series (platform-dropped) and referrers tags
// (orphan-referrer) are always audited together. Index counts from 0, as
// Kubernetes' JOB_COMPLETION_INDEX does. The zero Shard is the whole
// audit.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// ErrShard is wrapped by every error about a malformed shard.
var ErrShard = errors.New("invalid shard")

// MaxShards is the most shards an audit is split into: far more jobs than
// any registry needs, and a bound on what a report may claim (a merge
// keeps one slot per shard).
const MaxShards = 10000

// ParseShard reads "I/N": shard I of N, 0 <= I < N.
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("%w %q: give INDEX/COUNT, e.g. 0/3 (the first of 3)", ErrShard, s)
	}
	count, err := natural(n)
	if err != nil || count < 1 {
		return Shard{}, fmt.Errorf("%w %q: the count %q is not a whole number of at least 1", ErrShard, s, n)
	}
	if count > MaxShards {
		return Shard{}, fmt.Errorf("%w %q: at most %d shards", ErrShard, s, MaxShards)
	}
	index, err := natural(i)
	if err != nil {
		return Shard{}, fmt.Errorf("%w %q: the index %q is not a whole number", ErrShard, s, i)
	}
	if index >= count {
		return Shard{}, fmt.Errorf("%w %q: the index counts from 0, so it must be below %d", ErrShard, s, count)
	}
	return Shard{Index: index, Count: count}, nil
}

// natural reads digits only: no sign, no space.
func natural(s string) (int, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	return strconv.Atoi(s)
}

// String writes the shard as ParseShard reads it ("0/3"); "" for the
// whole audit.
func (s Shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// ShardOf returns the shard, of count, that r's repository belongs to:
// the FNV-1a 64-bit hash of the repository's canonical name, modulo
// count. The name is [ref.Ref.Repo]'s canonical form: registry host,
// "/", repository ("index.docker.io/library/alpine"), or for a layout or
// archive its scheme and path as given ("oci:out"). The hash is stable
// across versions and machines: "index.docker.io/library/alpine" is in
// shard 0 of 3, "ghcr.io/org/app" (FNV-1a 0xefbbb19a00da5e4e) in shard 1.
func ShardOf(r ref.Ref, count int) int {
	if count < 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(r.Repo().String()))
	return int(h.Sum64() % uint64(count))
}

// Keeps reports whether r's repository belongs to s; the zero Shard keeps
// everything. A whole registry ("registry/") belongs to every shard: its
// repositories are sharded once listed.
func (s Shard) Keeps(r ref.Ref) bool {
	return s.Count == 0 || r.IsRegistry() || ShardOf(r, s.Count) == s.Index
}

// filter returns the references of refs that s keeps.
func (s Shard) filter(refs []ref.Ref) []ref.Ref {
	if s.Count == 0 {
		return refs
	}
	var out []ref.Ref
	for _, r := range refs {
		if s.Keeps(r) {
			out = append(out, r)
		}
	}
	return out
}
