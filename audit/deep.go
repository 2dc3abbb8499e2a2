package audit

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mlaudit/mlaudit/deep"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/tree"
)

// Layers is implemented by sources that can stream an image's layers, as
// the deep check needs. registry.Client is one.
type Layers interface {
	OpenLayer(ctx context.Context, ref string, layer v1.Descriptor) (io.ReadCloser, error)
}

// deepCheck reads the binaries of every image below root and reports
// binary-arch-mismatch; img's rows get the binaries found.
func (a *auditor) deepCheck(ctx context.Context, o *outcome, ref string, root *tree.Node, img *Image) {
	src, ok := a.src.(Layers)
	if !ok || a.inspector == nil {
		o.fail(ref, fmt.Errorf("this source cannot read layers for --deep"))
		return
	}
	for _, n := range root.Images() {
		if n.Err != nil || n.Manifest == nil || n.Config == nil {
			continue
		}
		open := func(ctx context.Context, layer v1.Descriptor) (io.ReadCloser, error) {
			return src.OpenLayer(ctx, ref, layer)
		}
		r, err := a.inspector.Inspect(ctx, n.Manifest, n.Config, open)
		if r != nil {
			atomic.AddInt64(&a.deepBytes, r.Bytes)
		}
		if err != nil {
			o.fail(ref, fmt.Errorf("deep check of %s: %w", shortDigest(n.Descriptor.Digest.String()), err))
			continue
		}
		for i := range img.Platforms {
			if img.Platforms[i].Digest == n.Descriptor.Digest.String() {
				img.Platforms[i].Binaries = r.Inspected
				if r.Mismatch {
					mark(&img.Platforms[i], StatusMismatch)
				}
			}
		}
		if r.Mismatch {
			o.findings = append(o.findings, binaryFinding(ref, n, r))
		}
	}
}

func binaryFinding(ref string, n *tree.Node, r *deep.Result) Finding {
	p := &specs.Platform{OS: n.Config.OS, Architecture: n.Config.Architecture, Variant: n.Config.Variant, OSVersion: n.Config.OSVersion}
	var files []string
	for i, b := range r.Mismatched {
		if i == 3 {
			files = append(files, fmt.Sprintf("and %d more", len(r.Mismatched)-3))
			break
		}
		files = append(files, fmt.Sprintf("%s (%s %s)", b.Path, b.Format, b.Arch))
	}
	what := fmt.Sprintf("%d of %d executables read", len(r.Mismatched), len(r.Inspected))
	if r.Entrypoint != "" {
		what += ", the entrypoint " + r.Entrypoint + " among them,"
	}
	info := BinaryArchMismatch.Info()
	return Finding{
		Ref: ref, Digest: n.Descriptor.Digest.String(), Code: BinaryArchMismatch, Severity: info.Severity, Platform: platform.Format(p),
		Message: fmt.Sprintf("the image says %s but %s are built for another architecture: %s", platform.Format(p), what, strings.Join(files, ", ")),
		Hint:    info.Hint,
	}
}
