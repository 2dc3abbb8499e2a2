package registry

import (
	"context"
	"errors"
	"io"
	"net/http"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlaudit/mlaudit/ref"
)

// OpenLayer opens one layer of the image r names (in a registry or an OCI
// layout), compressed, for streaming: the deep check reads only as much as
// it needs, and checks the bytes against the digest itself when it reads
// them all. The layer is opened on the first Read, so a reader closed
// unread costs no request; on a registry the request counts against the
// registry's cap until the layer is closed.
//
// The reader's Location method names where the bytes come from (r's
// repository, canonical, or its layout), for keying what is learnt from
// bytes not checked against the digest (see deep.Located).
func (c *Client) OpenLayer(ctx context.Context, r ref.Ref, layer v1.Descriptor) (io.ReadCloser, error) {
	s, err := c.scheme(r)
	if err != nil {
		return nil, err
	}
	return &lazyLayer{
		location: r.Repo().String(),
		open:     func() (io.ReadCloser, error) { return s.openLayer(ctx, layer.Digest) },
	}, nil
}

// lazyLayer opens a layer on its first Read.
type lazyLayer struct {
	location string
	open     func() (io.ReadCloser, error)
	body     io.ReadCloser
	err      error
}

// errLayerClosed is a Read after Close.
var errLayerClosed = errors.New("read from a closed layer")

func (l *lazyLayer) Location() string { return l.location }

func (l *lazyLayer) Read(p []byte) (int, error) {
	if l.body == nil && l.err == nil {
		l.body, l.err = l.open()
	}
	if l.err != nil {
		return 0, l.err
	}
	return l.body.Read(p)
}

func (l *lazyLayer) Close() error {
	if l.body == nil {
		if l.err == nil {
			l.err = errLayerClosed
		}
		return nil
	}
	err := l.body.Close()
	l.body, l.err = nil, errLayerClosed
	return err
}

// openLayer GETs a blob and hands its body to the caller, holding a slot of
// the registry's request cap until the body is closed.
func (r *remoteRepo) openLayer(ctx context.Context, d v1.Hash) (io.ReadCloser, error) {
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
