package registry

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// maxRedirects bounds a redirect chain.
const maxRedirects = 10

// ErrRedirect is wrapped by errors for redirects mlaudit refuses to follow.
var ErrRedirect = errors.New("refused redirect")

// checkRedirect lets a registry send blob reads elsewhere (storage buckets,
// CDNs: that is how Docker Hub and GHCR serve them), but not to a
// private, loopback or link-local address it was not itself reached on: a
// hostile registry must not turn mlaudit into a probe of the network it
// runs in (cloud metadata endpoints among them). Host names are judged as
// written here; what they resolve to is judged at the dialer (dialGuard).
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("%w: more than %d redirects, from %s", ErrRedirect, maxRedirects, via[0].URL.Host)
	}
	from := via[0].URL.Host
	to := req.URL.Host
	if !cleanHost(req.URL) {
		return fmt.Errorf("%w: %s sent a request on to a URL whose host is not written plainly (%q); mlaudit follows only plain host names and IP literals", ErrRedirect, from, to)
	}
	if strings.EqualFold(hostOnly(from), hostOnly(to)) {
		return nil
	}
	if internal(hostOnly(to)) {
		return fmt.Errorf("%w: %s sent a request on to %s, a private or local address; mlaudit follows redirects only to public hosts", ErrRedirect, from, to)
	}
	return nil
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return strings.Trim(h, "[]")
	}
	return strings.Trim(hostport, "[]")
}

// internal reports whether host is localhost or an IP literal that is
// loopback, private, link-local, unspecified or multicast.
func internal(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast())
}
