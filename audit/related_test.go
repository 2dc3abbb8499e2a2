package audit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/ref"
)

func TestMirrorDrift(t *testing.T) {
	tests := []struct {
		name   string
		mirror func(f *fx, amd, arm, other v1.Image) // pushes mirror/app:1, or not
		want   string
	}{
		{"the same index", func(f *fx, amd, arm, _ v1.Image) {
			f.Push("mirror/app:1", f.Index(oci, e(amd, "linux/amd64"), e(arm, "linux/arm64")))
		}, ""},
		{"converted to a Docker list with the same images", func(f *fx, amd, arm, _ v1.Image) {
			f.Push("mirror/app:1", f.Index(docker, e(amd, "linux/amd64"), e(arm, "linux/arm64")))
		}, ""},
		{"no such tag in the mirror", func(*fx, v1.Image, v1.Image, v1.Image) {}, "mirror-drift"},
		{"another arm64 image", func(f *fx, amd, _, other v1.Image) {
			f.Push("mirror/app:1", f.Index(oci, e(amd, "linux/amd64"), e(other, "linux/arm64")))
		}, "mirror-drift linux/arm64"},
		{"only the host's platform copied", func(f *fx, amd, _, _ v1.Image) {
			f.Push("mirror/app:1", amd)
		}, "mirror-drift linux/arm64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fx{storytest.NewEnv(t, testregistry.InProcess(t, nil))}
			amd, arm, other := f.img("linux/amd64", oci), f.img("linux/arm64", oci), f.Image("linux/arm64", oci, "another build")
			at := f.Push("app:1", f.Index(oci, e(amd, "linux/amd64"), e(arm, "linux/arm64")))
			tt.mirror(f, amd, arm, other)
			mirror, err := ref.ParsePrefix(f.Host + "/mirror")
			if err != nil {
				t.Fatal(err)
			}
			r := audit.Run(context.Background(), newClient(t), []audit.Target{{Ref: at, Mirrors: []ref.Ref{mirror}}}, audit.Options{})
			got := strings.Join(auditCodes(t, at, "", r), ", ")
			if !strings.HasPrefix(got, tt.want) || (tt.want == "" && got != "") {
				t.Errorf("findings = %q, want %q", got, tt.want)
			}
			for _, fd := range r.Findings {
				if fd.Code == audit.MirrorDrift && fd.Ref.Repository != "mirror/app" {
					t.Errorf("mirror-drift belongs to the mirror's reference, not %s", fd.Ref)
				}
			}
		})
	}
}

func TestPerArchSiblings(t *testing.T) {
	f := &fx{storytest.NewEnv(t, testregistry.InProcess(t, nil))}
	amd, arm := f.img("linux/amd64", oci), f.img("linux/arm64", oci)
	at := f.Push("app:2.0", f.Index(oci, e(amd, "linux/amd64"), e(arm, "linux/arm64")))
	f.Push("app:2.0-amd64", f.Index(oci, e(amd, "linux/amd64")))                      // a per-arch index, current
	f.Push("app:arm64v8-2.0", f.Image("linux/arm64", oci, "rebuilt alone"))           // stale
	f.Push("app:2.0-s390x", f.Image("linux/amd64", oci, "built on the wrong runner")) // wrong arch
	f.Push("app:3.0-amd64", f.Image("linux/amd64", oci, "another release"))           // not a sibling of 2.0

	r := audit.Run(context.Background(), newClient(t), []audit.Target{{Ref: at, PerArch: []string{"{tag}-{arch}", "{arch}-{tag}"}}}, audit.Options{})
	got := map[string][]string{}
	for _, fd := range r.Findings {
		k := fd.Ref.Tag
		got[k] = append(got[k], string(fd.Code)+" "+fd.Platform)
	}
	want := map[string][]string{
		"arm64v8-2.0": {"stale-arch-tag linux/arm64"},
		"2.0-s390x":   {"tag-platform-mismatch linux/amd64"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("findings = %v, want %v", got, want)
	}
	if len(r.Images) != 4 || len(r.Errors) != 0 {
		t.Errorf("want the tag and its three siblings audited: %d images, errors %v", len(r.Images), r.Errors)
	}
}
