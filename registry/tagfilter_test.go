package registry_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/registry"
)

// TestTagFilterSkipsWhatIsNotATarget: a repository walk skips what other
// tools and mlaudit itself tag next to the images (OCI 1.1 referrers
// tags, cosign's .att and .sbom tags, a repair's backup tags) unless asked
// to keep them, and PerArch drops per-arch tags. TestTagFilter covers
// cosign's .sig tags and Include/Exclude.
func TestTagFilterSkipsWhatIsNotATarget(t *testing.T) {
	e := storytest.NewEnv(t, testregistry.InProcess(t, nil))
	img := e.Image("linux/amd64", stories.OCI, "tagfilter")
	hex := strings.Repeat("ef", 32)
	referrers, att, sbom := "sha256-"+hex, "sha256-"+hex+".att", "sha256-"+hex+".sbom"
	backup := "v1-backup-20261201"
	// Near misses, kept: a short sha256- tag is no digest's, and "backups"
	// is not the marker as a part of its own.
	short, backups := "sha256-deadbeef", "backups"
	for _, tag := range []string{"v1", "latest", "v1-amd64", "latest-aarch64", referrers, att, sbom, backup, short, backups} {
		e.Push("app:"+tag, img)
	}
	// The registry lists tags sorted, and so does every want.
	images := []string{"backups", "latest", "latest-aarch64", short, "v1", "v1-amd64"}
	tests := []struct {
		name   string
		filter registry.TagFilter
		want   []string
	}{
		{"default", registry.TagFilter{}, images},
		{"Signatures", registry.TagFilter{Signatures: true}, []string{"backups", "latest", "latest-aarch64", short, referrers, att, sbom, "v1", "v1-amd64"}},
		{"Backups", registry.TagFilter{Backups: true}, []string{"backups", "latest", "latest-aarch64", short, "v1", "v1-amd64", backup}},
		{"PerArch", registry.TagFilter{PerArch: true}, []string{"backups", "latest", short, "v1"}},
		{"all three", registry.TagFilter{Signatures: true, Backups: true, PerArch: true}, []string{"backups", "latest", short, referrers, att, sbom, "v1", backup}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refs, err := newClient(t, registry.WithTagFilter(tt.filter)).Expand(context.Background(), mustRef(t, e.Host+"/app"))
			if err != nil {
				t.Fatal(err)
			}
			want := "app:" + strings.Join(tt.want, " app:")
			if got := tagsOf(e.Host, refs); got != want {
				t.Errorf("walk with %+v\n got %s\nwant %s", tt.filter, got, want)
			}
		})
	}
}
