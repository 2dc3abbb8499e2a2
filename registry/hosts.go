package registry

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
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

	// capped is the base transport with a slot of sem held for every
	// request (transport.go), and go-containerregistry's retries and user
	// agent: what its reads and writes (remote_write.go) are sent over.
	capped http.RoundTripper
	// plain is capped with the registry's authentication, for a registry
	// that needs no token; nil for one that does. plainErr is why it could
	// not be made: the registry's reads and writes through
	// go-containerregistry fail with it rather than go out without the
	// scheme policy, counter and cap.
	plain    http.RoundTripper
	plainErr error
	// challenge is the ping's answer.
	challenge *transport.Challenge
}

// retryStatus is what go-containerregistry's remote retries by default
// (remote/options.go); its reads and writes keep those retries over
// mlaudit's transport.
var retryStatus = []int{
	http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
	http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
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
		h.challenge = ch
		h.capped = transport.NewUserAgent(
			transport.NewRetry(&capped{host: reg.RegistryStr(), sem: h.sem, next: c.base}, transport.WithRetryStatusCodes(retryStatus...)),
			c.opts.userAgent)
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
			h.plain, h.plainErr = transport.FromToken(reg, authn.Anonymous, h.capped, ch, &transport.Token{})
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
			h.plain, h.plainErr = transport.FromToken(reg, auth, h.capped, ch, &transport.Token{})
		}
	})
	return h.err
}
