package audit

import (
	"context"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/mlaudit/mlaudit/deep"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/tree"
)

// Layers is implemented by sources that can stream an image's layers, as
// the deep check needs. registry.Client is one.
type Layers interface {
	OpenLayer(ctx context.Context, r ref.Ref, layer v1.Descriptor) (io.ReadCloser, error)
}

// deepCheck reads the binaries of every image below root and reports
// binary-arch-mismatch; img's rows get the binaries found.
func (a *auditor) deepCheck(ctx context.Context, o *outcome, r ref.Ref, root *tree.Node, img *Image) {
	src, ok := a.src.(Layers)
	if !ok || a.inspector == nil {
		o.fail(r, fmt.Errorf("this source cannot read layers for the deep check"))
		return
	}
	for _, n := range root.Images() {
		if n.Err != nil || n.Manifest == nil || n.Config == nil {
			continue
		}
		open := func(ctx context.Context, layer v1.Descriptor) (io.ReadCloser, error) {
			return src.OpenLayer(ctx, r, layer)
		}
		res, err := a.inspector.Inspect(ctx, n.Manifest, n.Config, open)
		if res != nil {
			o.deepBytes += res.Bytes
		}
		if err != nil {
			o.fail(r, fmt.Errorf("deep check of %s: %w", ref.ShortDigest(n.Descriptor.Digest.String()), err))
			continue
		}
		for i := range img.Platforms {
			if img.Platforms[i].Digest == n.Descriptor.Digest.String() {
				img.Platforms[i].Binaries = res.Inspected
				if res.Mismatch {
					mark(&img.Platforms[i], StatusMismatch)
				}
			}
		}
		if res.Mismatch {
			o.findings = append(o.findings, binaryFinding(r, n, res))
		}
	}
}

func binaryFinding(at ref.Ref, n *tree.Node, r *deep.Result) Finding {
	p := n.ConfigPlatform()
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
		Ref: at, Digest: n.Descriptor.Digest.String(), Code: BinaryArchMismatch, Severity: info.Severity, Platform: platform.Format(p),
		Message: fmt.Sprintf("the image says %s but %s are built for another architecture: %s", platform.Format(p), what, strings.Join(files, ", ")),
		Hint:    info.Hint,
	}
}
