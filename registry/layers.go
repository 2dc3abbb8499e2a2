package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// OpenLayer opens one layer of the image ref names (a registry or OCI
// layout reference), compressed, for streaming: the deep check reads only
// as much as it needs. The request counts against the registry's cap
// until the layer is closed.
func (c *Client) OpenLayer(ctx context.Context, ref string, layer v1.Descriptor) (io.ReadCloser, error) {
	t, err := c.ParseTargetForWrite(ref)
	if err != nil {
		return nil, err
	}
	if t.Kind == KindLayout {
		rc, err := c.layout(t.Dir).path.Blob(layer.Digest)
		if err != nil {
			return nil, fmt.Errorf("opening layer %s in %s: %w", layer.Digest, t.Dir, err)
		}
		return rc, nil
	}
	return c.repo(t).open(ctx, layer.Digest)
}

// open GETs a blob and hands its body to the caller, holding a slot of
// the registry's request cap until the body is closed.
func (r *remoteRepo) open(ctx context.Context, d v1.Hash) (io.ReadCloser, error) {
	client, err := r.httpClient(ctx)
	if err != nil {
		return nil, err
	}
	sem := r.c.host(r.repo.Registry).sem
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	release := func() { <-sem }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url(ctx, "blobs", d.String()), nil)
	if err != nil {
		release()
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		release()
		return nil, r.wrap("opening layer", d.String(), err)
	}
	if err := checkResponse(resp); err != nil {
		resp.Body.Close()
		release()
		return nil, r.wrap("opening layer", d.String(), err)
	}
	return &releasingBody{ReadCloser: resp.Body, release: release}, nil
}

type releasingBody struct {
	io.ReadCloser
	release func()
	done    bool
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	if !b.done {
		b.done = true
		b.release()
	}
	return err
}
