package platform

import (
	"fmt"
	"testing"
)

func TestPerArchTags(t *testing.T) {
	got, err := PerArchTags("v1", []string{"{tag}-{arch}", "{arch}-{tag}"}, []string{"v1", "v1-amd64", "v1-aarch64", "arm32v7-v1", "v1-arm64-extra", "v2-amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[v1-aarch64 v1-amd64 arm32v7-v1]" {
		t.Errorf("PerArchTags = %v", got)
	}
	for _, bad := range []string{"{tag}-latest", "{tag}-{arch}-{date}", ""} {
		if err := CheckTemplate(bad); err == nil {
			t.Errorf("CheckTemplate(%q) should fail", bad)
		}
	}
}
