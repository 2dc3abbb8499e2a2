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
// learnt from one ping, and a cap on the requests in flight to it, which
// the ping and token exchanges count against too.
//
// A registry that needs no token (anonymous, or basic auth) gets one
// transport for every repository. A registry that issues bearer tokens
// gets a tokenSource (tokens.go): one token request covers many
// repositories.
type host struct {
	sem chan struct{}

	once   sync.Once
	bearer bool
	scheme string
	shared *http.Client
	tokens *tokenSource
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

// init pings the registry once, holding one of its slots, and makes what
// its repositories share: a transport, or a token source. A failed ping's
// error quotes the registry's answer only as sanitizeError leaves it.
func (h *host) init(ctx context.Context, c *Client, reg name.Registry) error {
	h.once.Do(func() {
		select {
		case h.sem <- struct{}{}:
		case <-ctx.Done():
			h.err = ctx.Err()
			return
		}
		ch, err := transport.Ping(ctx, reg, c.base)
		<-h.sem
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
			// Repositories made before now are known to the token source,
			// and Client.repo adds those made after (under c.mu as well).
			c.mu.Lock()
			h.tokens = &tokenSource{c: c, reg: reg, sem: h.sem, challenge: ch}
			for _, r := range c.repos {
				if r.repo.RegistryStr() == reg.RegistryStr() {
					h.tokens.known = append(h.tokens.known, r)
				}
			}
			c.mu.Unlock()
		case "":
			// Anonymous: requests need no header at all.
			h.shared = &http.Client{Transport: c.base, CheckRedirect: checkRedirect}
		default:
			auth, err := c.opts.keychain.Resolve(reg)
			if err != nil {
				h.err = fmt.Errorf("reading credentials for %s from the Docker config: %w", reg.RegistryStr(), err)
				return
			}
			// The ping's challenge is enough: no second ping.
			rt, err := transport.FromToken(reg, auth, c.base, ch, &transport.Token{})
			if err != nil {
				h.err = explainAuthError(reg.RegistryStr(), "", sanitizeError(err))
				return
			}
			h.shared = &http.Client{Transport: rt, CheckRedirect: checkRedirect}
		}
	})
	return h.err
}
