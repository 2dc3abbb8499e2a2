package audit

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// platform-dropped, a repository check (repository.go): a release tag that
// lacks a platform the release before it in its series holds.

// release is a tag read as a version: "1.2.3", "v2.0.0-rc.1",
// "3.12-alpine"; at least two numeric parts, so that "1", a build number
// or a date is not taken for one. Tags are compared only within a series: the same number
// of numeric parts and the same flavour (the suffix that is not a
// pre-release: "alpine", "slim"), so "3.12" is never the release before
// "3.12.1", nor "3.12-alpine" before "3.13".
type release struct {
	tag    string
	nums   []int
	series string
	// pre is the pre-release ("rc.1"), "" for a release; preRank and
	// preNum order pre-releases: dev < alpha < beta < pre < rc.
	pre     string
	preRank int
	preNum  int
}

var (
	versionTag    = regexp.MustCompile(`^[vV]?(\d+(?:\.\d+){1,3})(?:[-_+](.+))?$`)
	preReleaseTag = regexp.MustCompile(`^(?i)(dev|alpha|a|beta|b|pre|preview|rc)[.\-_]?(\d*)$`)
	preRanks      = map[string]int{"dev": 1, "alpha": 2, "a": 2, "beta": 3, "b": 3, "pre": 4, "preview": 4, "rc": 5}
)

// parseRelease reads tag as a version, or false when it is none (latest,
// main, a per-arch tag, a signature tag).
func parseRelease(tag string) (release, bool) {
	if tag == "" || platform.NamesArch(tag) || ref.IsSignatureTag(tag) || ref.IsReferrersTag(tag) || ref.IsBackupTag(tag) {
		return release{}, false
	}
	m := versionTag.FindStringSubmatch(tag)
	if m == nil {
		return release{}, false
	}
	r := release{tag: tag}
	for _, s := range strings.Split(m[1], ".") {
		n, err := strconv.Atoi(s)
		if err != nil {
			return release{}, false
		}
		r.nums = append(r.nums, n)
	}
	r.series = strconv.Itoa(len(r.nums))
	if suffix := m[2]; suffix != "" {
		if p := preReleaseTag.FindStringSubmatch(suffix); p != nil {
			r.pre, r.preRank = suffix, preRanks[strings.ToLower(p[1])]
			r.preNum, _ = strconv.Atoi(p[2])
		} else {
			r.series += "-" + suffix
		}
	}
	return r, true
}

// compareReleases orders two releases of one series: by number, then a
// pre-release before its release.
func compareReleases(a, b release) int {
	if c := slices.Compare(a.nums, b.nums); c != 0 {
		return c
	}
	switch {
	case a.pre == "" && b.pre == "":
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	return cmp.Or(cmp.Compare(a.preRank, b.preRank), cmp.Compare(a.preNum, b.preNum), strings.Compare(a.pre, b.pre))
}

// platformsDropped reports each version tag that lacks a platform the
// release before it (in version order, within its series) holds
// (platform-dropped). Tags that are not versions, and trees that could
// not be read or are artifacts, are left out.
func platformsDropped(refs []ref.Ref, trees map[string]*summary) []Finding {
	series := map[string][]release{}
	at := map[string]ref.Ref{}
	for _, r := range refs {
		rel, ok := parseRelease(r.Tag)
		if !ok || r.Digest != "" {
			continue
		}
		n := trees[r.String()]
		if n == nil || !n.release {
			continue
		}
		series[rel.series] = append(series[rel.series], rel)
		at[rel.tag] = r
	}
	names := make([]string, 0, len(series))
	for s := range series {
		names = append(names, s)
	}
	slices.Sort(names)
	var out []Finding
	info := PlatformDropped.Info()
	for _, s := range names {
		rels := series[s]
		slices.SortFunc(rels, compareReleases)
		for k := 1; k < len(rels); k++ {
			prev, cur := at[rels[k-1].tag], at[rels[k].tag]
			prevTree, curTree := trees[prev.String()], trees[cur.String()]
			have, had := curTree.platforms, prevTree.platforms
			haveNames := have
			if len(haveNames) == 0 {
				haveNames = []string{"no platforms"}
			}
			for _, key := range had {
				if slices.Contains(have, key) {
					continue
				}
				holds := "has no entry for it (it has " + strings.Join(haveNames, ", ") + ")"
				if curTree.single {
					holds = "holds a single " + strings.Join(haveNames, ", ") + " image"
				}
				out = append(out, Finding{
					Ref: cur, Digest: curTree.digest, Code: PlatformDropped, Severity: info.Severity, Platform: key,
					Message: fmt.Sprintf("%s holds %s, but %s, the next release in version order, %s", prev.Tag, key, cur.Tag, holds),
					Hint:    info.Hint,
				})
			}
		}
	}
	return out
}

// releasePlatforms lists the platforms a tag holds, each once, by OS,
// architecture and variant (a Windows os.version changes with every
// release and is not compared).
func releasePlatforms(n *tree.Node) (keys []string) {
	for _, img := range n.Images() {
		p := claimedOrConfig(img)
		if p == nil {
			continue
		}
		q := platform.Normalize(*p)
		q.OSVersion, q.OSFeatures = "", nil
		key := platform.Format(&q)
		if !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	return keys
}
