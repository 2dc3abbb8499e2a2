package registry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

const (
	jwt    = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtbGF1ZGl0In0.c2lnbmF0dXJlLXF3ZXJ0eQ"
	secret = "s3cr3t-Pa55-7xQ"
	b64    = "bWxhdWRpdDpzM2NyM3QtUGE1NS03eFE="
)

func TestSanitizeRemovesCredentials(t *testing.T) {
	for _, in := range []string{
		"token Bearer " + jwt + " is not valid",
		"Authorization: Bearer opaque-" + secret,
		"Authorization: Basic " + b64,
		"expired: " + jwt,
		`helper said {"ServerURL":"x","Username":"u","Secret":"` + secret + `"}`,
		`{"token":"` + secret + `","access_token":"` + secret + `"}`,
		"login failed: password=" + secret + "&user=u",
		"password: '" + secret + "'",
		"client_secret=" + secret,
		"auth " + b64,
		"https://user:" + secret + "@registry.example.com/v2/",
		"first line is fine\nsecond holds " + secret,
	} {
		got := sanitize(in)
		if strings.Contains(got, secret) || strings.Contains(got, b64) || strings.Contains(got, "eyJhbGci") || strings.Contains(got, "c2lnbmF0dXJl") {
			t.Errorf("sanitize(%q) = %q: a secret is left", in, got)
		}
	}
	if got := sanitize("the opaque value "+secret+" was refused", secret); strings.Contains(got, secret) {
		t.Errorf("a known credential is left: %q", got)
	}
}

func TestSanitizeKeepsOrdinaryText(t *testing.T) {
	for _, in := range []string{
		"manifest unknown",
		"blob unknown to registry",
		"authentication required",
		"requested access to the resource is denied",
		"manifest sha256:" + strings.Repeat("a", 64) + " not found",
		"repository name not known to registry",
	} {
		if got := sanitize(in); got != in {
			t.Errorf("sanitize(%q) = %q, want it unchanged", in, got)
		}
	}
}

func TestSanitizeBounds(t *testing.T) {
	got := sanitize(strings.Repeat("é", 500) + "\nmore")
	if len(got) > maxRegistryText+len("...") || !strings.HasSuffix(got, "...") || strings.ContainsAny(got, "\n\r") {
		t.Errorf("not one bounded line: %d bytes %q", len(got), got)
	}
	if !strings.HasPrefix(got, "é") || strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("cut inside a character: %q", got)
	}
}

// TestStatusErrorSanitized: a registry that echoes the bearer token (any
// shape) in its error body gets it into no error.
func TestStatusErrorSanitized(t *testing.T) {
	const token = "opaque-tok-QwErTy-9a8b7c"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"errors":[{"code":"UNKNOWN %s","message":"cannot use %s: token was %s\nand %s"}]}`, jwt, r.Header.Get("Authorization"), strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), secret)
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2/app/manifests/1", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	err = checkResponse(resp)
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 500 {
		t.Fatalf("checkResponse: %v", err)
	}
	for _, s := range []string{token, secret, "eyJhbGci"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("%q appears in %q", s, err)
		}
	}
}

// TestSanitizeErrorTransport: a ping or token answer that quotes the
// credentials in its raw body is cleaned, and still classifies.
func TestSanitizeErrorTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "you sent "+r.Header.Get("Authorization")+" and "+secret+"\n"+secret)
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/token?scope=x", nil)
	req.SetBasicAuth("mlaudit", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw := fmt.Errorf("getting a token: %w", transport.CheckError(resp, http.StatusOK))
	if !strings.Contains(raw.Error(), b64) {
		t.Fatalf("the test proves nothing: %v", raw)
	}
	err = sanitizeError(raw)
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusUnauthorized {
		t.Errorf("the cleaned error no longer classifies: %v", err)
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), b64) || strings.Contains(err.Error(), "\n") {
		t.Errorf("not clean: %q", err)
	}
	if !strings.Contains(err.Error(), "getting a token: GET ") || !strings.Contains(err.Error(), "401 Unauthorized") {
		t.Errorf("the cleaned error lost its context: %q", err)
	}
}

type failingKeychain struct{ err error }

func (k failingKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return nil, k.err }

// TestCredentialHelperOutputNeverRepeated: Docker's helper client quotes
// a failing helper's output; the Client's keychain says only which helper
// failed and how.
func TestCredentialHelperOutputNeverRepeated(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"credHelpers":{"registry.example.com":"vault"},"credsStore":"desktop"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := makeOptions(WithKeychain(failingKeychain{fmt.Errorf("error getting credentials - err: exit status 3, out: `{\"ServerURL\":\"x\",\"Secret\":\"%s\"}`", secret)}))
	if err != nil {
		t.Fatal(err)
	}
	for host, helper := range map[string]string{"registry.example.com": "docker-credential-vault", "ghcr.io": "docker-credential-desktop"} {
		reg, _ := name.NewRegistry(host)
		_, err = o.keychain.Resolve(reg)
		var ce *CredentialError
		if !errors.As(err, &ce) || ce.Helper != helper || ce.Reason != "exit status 3" {
			t.Errorf("%s: %#v, want helper %s, exit status 3", host, err, helper)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "Secret") {
			t.Errorf("the helper's output is repeated: %v", err)
		}
	}
}
