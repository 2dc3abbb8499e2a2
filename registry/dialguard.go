package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
)

// ErrInternalAddress is wrapped by errors for connections mlaudit refuses
// to open: to a loopback, private, link-local, unspecified or multicast
// address the user did not name.
var ErrInternalAddress = errors.New("refused connection to an internal address")

// dialGuard decides at the dialer, where every connection passes
// (registries, redirects, next pages, token realms, blob storage), whether
// an address may be dialled. Judging URLs as written is not enough: a host
// spelt with a byte-order mark, full-width digits or an IPv6 zone, or a
// name that resolves to a private address, reaches the same sockets. So
// the address is checked after name resolution, right before connect
// (net.Dialer's Control), and refused when it is internal, unless the host
// is one the user named (a registry at 127.0.0.1 or 10.0.0.5 is theirs to
// audit) or the proxy their environment names.
//
// Written here because neither net/http nor go-containerregistry offers
// such a policy; it is the pattern of Go's own SSRF guards (a Control
// hook on the dialer).
type dialGuard struct {
	dialer *net.Dialer

	mu    sync.RWMutex
	named map[string]bool // hosts (lower case, no port) the user named
}

func newDialGuard() *dialGuard {
	g := &dialGuard{dialer: &net.Dialer{Timeout: DefaultTimeout, KeepAlive: DefaultTimeout}, named: map[string]bool{}}
	// The proxies net/http's ProxyFromEnvironment reads: a proxy at a
	// private address is the environment's choice, not a registry's.
	for _, v := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		p := os.Getenv(v)
		if u, err := url.Parse(p); err == nil && u.Host != "" {
			g.name(u.Host)
		} else if p != "" {
			g.name(p) // "host:port" without a scheme
		}
	}
	return g
}

// name records a host the user named (as "host" or "host:port").
func (g *dialGuard) name(hostport string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.named[strings.ToLower(hostOnly(hostport))] = true
}

func (g *dialGuard) isNamed(host string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.named[strings.ToLower(host)]
}

// dial is an http.Transport's DialContext.
func (g *dialGuard) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not host:port", ErrInternalAddress, addr)
	}
	if g.isNamed(host) {
		return g.dialer.DialContext(ctx, network, addr)
	}
	d := *g.dialer
	d.Control = func(_, address string, _ syscall.RawConn) error {
		ip, _, err := net.SplitHostPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrInternalAddress, address)
		}
		// A zone ("fe80::1%eth0") is cut off: the address is what counts.
		if i := strings.IndexByte(ip, '%'); i >= 0 {
			ip = ip[:i]
		}
		if parsed := net.ParseIP(ip); parsed == nil || internalIP(parsed) {
			return &InternalAddressError{Host: host, Address: address}
		}
		return nil
	}
	return d.DialContext(ctx, network, addr)
}

// InternalAddressError says a connection was refused because the host
// resolved to (or was) an internal address nobody named.
type InternalAddressError struct {
	// Host is the host as the URL named it; Address what it resolved to.
	Host, Address string
}

func (e *InternalAddressError) Error() string {
	return fmt.Sprintf("refusing to connect to %s (%s): it is a loopback, private, link-local, unspecified or multicast address, and only registries named on the command line or in the policy may be there", e.Host, e.Address)
}

// Unwrap lets errors.Is match ErrInternalAddress.
func (e *InternalAddressError) Unwrap() error { return ErrInternalAddress }

// internalIP reports whether ip is loopback, private, link-local,
// unspecified or multicast (IPv4-mapped IPv6 addresses included).
func internalIP(ip net.IP) bool {
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast()
}

// guarded returns t with the guard as its dialer, when t is an
// *http.Transport (a transport given with [WithTransport] that is not one
// is the caller's to guard).
func (g *dialGuard) guarded(t http.RoundTripper) http.RoundTripper {
	ht, ok := t.(*http.Transport)
	if !ok {
		return t
	}
	ht = ht.Clone()
	ht.DialContext = g.dial
	return ht
}

// cleanHost reports whether a URL's host is written plainly: ASCII letters,
// digits, dots and hyphens, or a bracketed IPv6 literal without a zone,
// with an optional numeric port. Anything else (percent-encoding, a
// byte-order mark, full-width digits, a zone) is refused where a registry
// hands mlaudit a URL to follow.
func cleanHost(u *url.URL) bool {
	host := u.Host
	if host == "" || u.User != nil {
		return false
	}
	if h, port, err := net.SplitHostPort(host); err == nil {
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return false
		}
		host = h
	} else if strings.HasPrefix(host, "[") {
		return false
	}
	if strings.Contains(host, ":") { // IPv6: a literal, no zone
		return !strings.Contains(host, "%") && net.ParseIP(host) != nil
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}
