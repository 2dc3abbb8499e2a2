package registry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/registry"
)

// watched is a listener on a loopback address (127.0.0.2 unless ip says
// otherwise), standing for a service on the network mlaudit runs in: it
// counts connections, and every test asserts it saw none.
func watched(t *testing.T, ip ...string) (port string, conns *atomic.Int64) {
	t.Helper()
	addr := "127.0.0.2"
	if len(ip) > 0 {
		addr = ip[0]
	}
	l, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatalf("listening on %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	conns = &atomic.Int64{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			_ = c.Close()
		}
	}()
	_, port, _ = net.SplitHostPort(l.Addr().String())
	return port, conns
}

// TestRedirectsCannotReachInternalAddresses: a registry at 127.0.0.1 (named
// by the user, so reachable) redirects a config read to 127.0.0.2 in every
// spelling a URL allows. No spelling connects: the address is judged at
// the dialer, after resolution, and unclean hosts are refused outright.
func TestRedirectsCannotReachInternalAddresses(t *testing.T) {
	port, conns := watched(t)
	e := storytest.NewEnv(t, testregistry.InProcess(t, nil))
	img := e.Image("linux/amd64", stories.OCI, "ssrf")
	cfg, _ := img.ConfigName()
	for _, location := range []string{
		"http://127.0.0.2:" + port + "/plain",
		"http://%EF%BB%BF127.0.0.2:" + port + "/byte-order-mark",
		"http://\uff11\uff12\uff17.\uff10.\uff10.\uff12:" + port + "/full-width-digits",
		"http://[::ffff:127.0.0.2]:" + port + "/ipv4-mapped",
		"http://[::1%25lo]:" + port + "/zone",
		"http://127.0.0.2:" + port + "@127.0.0.1:1/user-info",
		"http://localhost:" + port + "/a-name-for-loopback",
	} {
		t.Run(location, func(t *testing.T) {
			reg := testregistry.InProcess(t, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+cfg.String()) {
						w.Header().Set("Location", location)
						w.WriteHeader(http.StatusTemporaryRedirect)
						return
					}
					h.ServeHTTP(w, r)
				})
			})
			target := mustRef(t, reg+"/app:1")
			if err := e.Client.Push(context.Background(), target, img); err != nil {
				t.Fatal(err)
			}
			n, err := newClient(t, registry.WithRetry(0, 0)).Fetch(context.Background(), target)
			if err != nil {
				t.Fatal(err)
			}
			if n.Err == nil || n.Config != nil {
				t.Errorf("the config was read through the redirect to %s", location)
			}
			if !errors.Is(n.Err, registry.ErrRedirect) && !errors.Is(n.Err, registry.ErrInternalAddress) {
				t.Errorf("err = %v, want a refused redirect or connection", n.Err)
			}
		})
	}
	if c := conns.Load(); c != 0 {
		t.Errorf("127.0.0.2 saw %d connection(s)", c)
	}
}

// TestNextPagesAndRealmsStayOut: a tag list whose next page is on another
// host, and a token realm at an internal address nobody named, are refused
// without a connection.
func TestNextPagesAndRealmsStayOut(t *testing.T) {
	port, conns := watched(t)
	elsewhere := "http://127.0.0.2:" + port

	t.Run("next page on another host", func(t *testing.T) {
		reg := testregistry.InProcess(t, func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/tags/list") {
					w.Header().Set("Link", `<`+elsewhere+`/v2/app/tags/list?last=a>; rel="next"`)
					_, _ = w.Write([]byte(`{"name":"app","tags":["a"]}`))
					return
				}
				h.ServeHTTP(w, r)
			})
		})
		_, err := newClient(t, registry.WithRetry(0, 0)).Expand(context.Background(), mustRef(t, reg+"/app"))
		if err == nil || !strings.Contains(err.Error(), "next page is on another host") {
			t.Errorf("err = %v, want the next page refused", err)
		}
	})

	// go-containerregistry itself refuses a realm written as a private IP
	// literal; a name that resolves to one is refused at the dialer.
	localPort, localConns := watched(t, "127.0.0.1")
	for _, realm := range []string{elsewhere + "/token", "http://localhost:" + localPort + "/token"} {
		t.Run("token realm "+realm, func(t *testing.T) {
			reg := testregistry.InProcess(t, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`",service="registry"`)
					w.WriteHeader(http.StatusUnauthorized)
				})
			})
			_, err := newClient(t, registry.WithRetry(0, 0)).Fetch(context.Background(), mustRef(t, reg+"/app:1"))
			if err == nil || !errors.Is(err, registry.ErrInternalAddress) && !strings.Contains(err.Error(), "realm") {
				t.Errorf("err = %v, want the realm refused", err)
			}
		})
	}
	if c := localConns.Load(); c != 0 {
		t.Errorf("the realm on localhost saw %d connection(s)", c)
	}
	if c := conns.Load(); c != 0 {
		t.Errorf("127.0.0.2 saw %d connection(s)", c)
	}
}

// TestANamedInternalRegistryIsReachable: the guard refuses what a registry
// points at, not what the user names: a registry at 127.0.0.2, named as
// the target, is read as any other.
func TestANamedInternalRegistryIsReachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	_ = srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	e := storytest.NewEnv(t, l.Addr().String())
	target := e.Push("app:1", e.Image("linux/arm64", stories.OCI, "named"))
	n, err := newClient(t).Fetch(context.Background(), target)
	if err != nil || n.Err != nil || n.Config == nil {
		t.Fatalf("a registry the user named at 127.0.0.2 must be read: %v %v", err, n.Err)
	}
}

// TestListLimit: a tag list longer than the limit is an error naming the
// limit and the flag, after reading no more than the limit's pages.
func TestListLimit(t *testing.T) {
	var pages atomic.Int64
	reg := testregistry.InProcess(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/tags/list") {
				n := pages.Add(1)
				var tags []string
				for i := range 10 {
					tags = append(tags, fmt.Sprintf(`"t%d-%d"`, n, i))
				}
				w.Header().Set("Link", fmt.Sprintf(`</v2/app/tags/list?last=t%d>; rel="next"`, n))
				_, _ = w.Write([]byte(`{"name":"app","tags":[` + strings.Join(tags, ",") + `]}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	_, err := newClient(t, registry.WithListLimit(50)).Expand(context.Background(), mustRef(t, reg+"/app"))
	var le *registry.ListLimitError
	if !errors.As(err, &le) || le.Limit != 50 || !strings.Contains(err.Error(), "--list-limit") {
		t.Fatalf("err = %v, want a ListLimitError naming --list-limit", err)
	}
	if n := pages.Load(); n > 6 {
		t.Errorf("read %d pages of 10 tags for a limit of 50", n)
	}
}

// keychain gives every registry the same basic credentials.
type keychain struct{ user, password string }

func (k keychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: k.user, Password: k.password}, nil
}

// TestCredentialsStayWithTheRegistry: a registry behind basic auth (and
// one behind a token realm) sends a config read to storage on another
// host; the storage host never sees an Authorization header.
func TestCredentialsStayWithTheRegistry(t *testing.T) {
	var leaked atomic.Int64
	var served atomic.Int64
	e := storytest.NewEnv(t, testregistry.InProcess(t, nil))
	img := e.Image("linux/amd64", stories.OCI, "credentials")
	cfg, _ := img.ConfigName()
	raw, _ := img.RawConfigFile()
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.Header.Get("Authorization") != "" {
			leaked.Add(1)
		}
		_, _ = w.Write(raw)
	}))
	t.Cleanup(storage.Close)
	for name, auth := range map[string]func(http.Handler) http.Handler{
		"basic": testregistry.BasicAuth("user", "s3cret"),
		"token": testregistry.TokenAuth("user", "s3cret", "tok3n"),
	} {
		t.Run(name, func(t *testing.T) {
			redirect := func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+cfg.String()) && r.Header.Get("Authorization") != "" {
						http.Redirect(w, r, storage.URL+"/bucket/"+cfg.Hex, http.StatusTemporaryRedirect)
						return
					}
					h.ServeHTTP(w, r)
				})
			}
			reg := testregistry.InProcess(t, func(h http.Handler) http.Handler { return auth(redirect(h)) })
			c := newClient(t, registry.WithKeychain(keychain{"user", "s3cret"}), registry.WithRetry(0, 0))
			target := mustRef(t, reg+"/app:1")
			if err := c.Push(context.Background(), target, img); err != nil {
				t.Fatal(err)
			}
			before := served.Load()
			n, err := newClient(t, registry.WithKeychain(keychain{"user", "s3cret"}), registry.WithRetry(0, 0)).Fetch(context.Background(), target)
			if err != nil || n.Err != nil || n.Config == nil {
				t.Fatalf("the config should be read from storage: %v %v", err, n.Err)
			}
			if served.Load() == before {
				t.Fatal("the config was not read through the redirect: the test proves nothing")
			}
		})
	}
	if l := leaked.Load(); l != 0 {
		t.Errorf("the storage host received credentials %d time(s)", l)
	}
}
