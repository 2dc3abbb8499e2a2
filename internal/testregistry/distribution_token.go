package testregistry

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// DistributionWithTokens starts Debian's docker-registry in token mode,
// trusting tokens (a token server the test runs: Tokens, in its Mode) and
// returns the host:port to reach it by, named localhost.
//
// Three servers run: the token server, the registry, and in front of the
// registry a proxy that counts pings (tokens.Pings) and requests the
// registry refused although they carried a token (tokens.Refused). The
// registry's challenge names the token server as
// http://localhost:PORT/token: go-containerregistry refuses a realm at a
// loopback or private IP that is not the registry's own host:port, and
// mlaudit dials a loopback address only for a host the user named, so the
// registry is named localhost too.
//
// Like Distribution, it fails the test under CI=true when the registry
// cannot be started, and skips it otherwise.
func DistributionWithTokens(t testing.TB, tokens *Tokens) string {
	t.Helper()
	sgn, err := tokens.signer()
	if err != nil {
		t.Fatal(err)
	}
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/token" {
			http.NotFound(w, r)
			return
		}
		tokens.issue(w, r)
	}))
	t.Cleanup(issuer.Close)
	bundle := filepath.Join(t.TempDir(), "token-issuer.pem")
	if err := os.WriteFile(bundle, sgn.certPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`auth:
  token:
    realm: %s/token
    service: %s
    issuer: %s
    rootcertbundle: %s
`, localhost(issuer.URL), tokenService, tokenIssuer, bundle)
	addr, _ := distribution(t, config)

	target, _ := url.Parse("http://" + addr)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.StatusCode == http.StatusUnauthorized && !isPing(resp.Request) && resp.Request.Header.Get("Authorization") != "" {
			tokens.Refused.Add(1)
		}
		return nil
	}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isPing(r) {
			tokens.Pings.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return strings.TrimPrefix(localhost(front.URL), "http://")
}

// localhost is an httptest server's URL (http://127.0.0.1:PORT) with its
// host named localhost.
func localhost(u string) string {
	return strings.Replace(u, "://127.0.0.1:", "://localhost:", 1)
}
