package registry

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// host is what a Client knows of one registry: how it authenticates,
// learnt from one ping, and a cap on the requests in flight to it.
//
// A registry that needs no token (anonymous, or basic auth) gets one
// transport for every repository, so it is pinged once per run. A registry
// that issues bearer tokens gets a transport per repository (remoteRepo),
// because its tokens are scoped to a repository: one token for all would
// grow with every repository audited.
type host struct {
	sem chan struct{}

	once   sync.Once
	bearer bool
	scheme string
	shared *http.Client
	err    error
}

func (c *Client) host(reg name.Registry) *host {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.hosts[reg.RegistryStr()]
	if !ok {
		h = &host{sem: make(chan struct{}, c.opts.jobs)}
		c.hosts[reg.RegistryStr()] = h
	}
	return h
}

// init pings the registry once and, unless it wants bearer tokens, makes
// the transport all its repositories share. A failed ping's error quotes
// the registry's answer only as sanitizeError leaves it.
func (h *host) init(ctx context.Context, c *Client, reg name.Registry) error {
	h.once.Do(func() {
		ch, err := transport.Ping(ctx, reg, c.base)
		if err != nil {
			h.err = explainAuthError(reg.RegistryStr(), "", sanitizeError(err))
			return
		}
		h.scheme = "https"
		if ch.Insecure {
			h.scheme = "http"
		}
		switch strings.ToLower(ch.Scheme) {
		case "bearer":
			h.bearer = true
		case "":
			// Anonymous: requests need no header at all.
			h.shared = &http.Client{Transport: c.base, CheckRedirect: checkRedirect}
		default:
			auth, err := c.opts.keychain.Resolve(reg)
			if err != nil {
				h.err = fmt.Errorf("reading credentials for %s from the Docker config: %w", reg.RegistryStr(), err)
				return
			}
			rt, err := transport.NewWithContext(ctx, reg, auth, c.base, nil)
			if err != nil {
				h.err = explainAuthError(reg.RegistryStr(), "", sanitizeError(err))
				return
			}
			h.shared = &http.Client{Transport: rt, CheckRedirect: checkRedirect}
		}
	})
	return h.err
}
