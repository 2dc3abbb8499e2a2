package testregistry

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TokenMode is how a Tokens server answers a request for several scopes.
type TokenMode int

const (
	// Honour grants every scope asked for, as the distribution token
	// specification describes.
	Honour TokenMode = iota
	// Narrow grants only the last scope asked for, as some registries
	// did: the token's access claim lacks the others.
	Narrow
	// Refuse answers 401 to a request for more than one scope.
	Refuse
)

// Tokens is a token server of the distribution token specification, and
// its registry's gatekeeper. It hands out JWTs whose access claim lists the
// scopes granted, signed ES256 with a key and self-signed certificate made
// for the test (jwt.go), so that Debian's docker-registry in token mode
// accepts them (DistributionWithTokens). Wrap puts an in-process registry
// behind the same flow, with /token on the registry's own host. Pings,
// token requests and the scopes they asked for are counted, as are
// requests refused for want of scope.
type Tokens struct {
	Mode TokenMode
	// ExpiresIn is the tokens' lifetime in seconds (default 300).
	ExpiresIn int

	Pings, Requests, Refused atomic.Int64

	mu     sync.Mutex
	scopes [][]string // per token request, the scopes asked for

	once   sync.Once
	sgn    *signer
	sgnErr error
}

// tokenService and tokenIssuer are the service the tokens are for (their
// aud claim, the challenge's service) and their iss claim.
const (
	tokenService = "mlaudit-test"
	tokenIssuer  = "mlaudit-test-issuer"
)

// Scopes returns the scopes each token request asked for, in order.
func (a *Tokens) Scopes() [][]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([][]string(nil), a.scopes...)
}

// Reset zeroes the counts and forgets the scopes asked for, so a test
// counts what follows its seeding only.
func (a *Tokens) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.scopes = nil
	a.Pings.Store(0)
	a.Requests.Store(0)
	a.Refused.Store(0)
}

// signer is the key tokens are signed with, made on first use.
func (a *Tokens) signer() (*signer, error) {
	a.once.Do(func() { a.sgn, a.sgnErr = newSigner() })
	return a.sgn, a.sgnErr
}

// isPing reports whether r is a registry's ping (GET /v2/).
func isPing(r *http.Request) bool {
	return r.URL.Path == "/v2/" || r.URL.Path == "/v2"
}

type access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// Wrap returns next behind the token flow.
func (a *Tokens) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			a.issue(w, r)
			return
		}
		if isPing(r) {
			a.Pings.Add(1)
		}
		need := required(r)
		if !a.grants(r.Header.Get("Authorization"), need) {
			if need != nil {
				a.Refused.Add(1)
			}
			challenge := fmt.Sprintf(`Bearer realm="http://%s/token",service=%q`, r.Host, tokenService)
			if need != nil {
				challenge += fmt.Sprintf(`,scope="%s:%s:%s"`, need.Type, need.Name, need.Actions[0])
			}
			w.Header().Set("WWW-Authenticate", challenge)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// required is the access a registry request needs: pull (or push, to
// write) on its repository, the catalog scope, or, for the ping, a token of
// any kind (nil).
func required(r *http.Request) *access {
	p := strings.TrimPrefix(r.URL.Path, "/v2/")
	if p == "_catalog" {
		return &access{Type: "registry", Name: "catalog", Actions: []string{"*"}}
	}
	for _, kind := range []string{"/manifests/", "/blobs/", "/tags/", "/referrers/"} {
		if i := strings.Index(p, kind); i > 0 {
			action := "pull"
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				action = "push"
			}
			return &access{Type: "repository", Name: p[:i], Actions: []string{action}}
		}
	}
	return nil
}

func (a *Tokens) grants(header string, need *access) bool {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return false
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	if sgn, err := a.signer(); err != nil || sgn.verify(parts[0], parts[1], parts[2]) != nil {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var claims struct {
		Exp    int64    `json:"exp"`
		Access []access `json:"access"`
	}
	if json.Unmarshal(b, &claims) != nil || time.Now().Unix() >= claims.Exp {
		return false
	}
	if need == nil {
		return true
	}
	for _, g := range claims.Access {
		if g.Type != need.Type || g.Name != need.Name {
			continue
		}
		for _, act := range g.Actions {
			if act == need.Actions[0] || act == "*" || need.Actions[0] == "pull" && act == "push" {
				return true
			}
		}
	}
	return false
}

// issue answers a token request: GET /token?service=...&scope=...&scope=...
func (a *Tokens) issue(w http.ResponseWriter, r *http.Request) {
	a.Requests.Add(1)
	scopes := r.URL.Query()["scope"]
	a.mu.Lock()
	a.scopes = append(a.scopes, scopes)
	a.mu.Unlock()
	if a.Mode == Refuse && len(scopes) > 1 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"one scope per token"}]}`)
		return
	}
	if a.Mode == Narrow && len(scopes) > 1 {
		scopes = scopes[len(scopes)-1:]
	}
	granted := []access{}
	for _, s := range scopes {
		// type:name:actions, where the name may hold colons (a port).
		parts := strings.Split(s, ":")
		if len(parts) < 3 {
			continue
		}
		name := strings.Join(parts[1:len(parts)-1], ":")
		granted = append(granted, access{Type: parts[0], Name: name, Actions: strings.Split(parts[len(parts)-1], ",")})
	}
	life := a.ExpiresIn
	if life <= 0 {
		life = 300
	}
	sgn, err := a.signer()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	now := time.Now()
	token, err := sgn.sign(map[string]any{
		"iss":    tokenIssuer,
		"sub":    "",
		"aud":    r.URL.Query().Get("service"),
		"iat":    now.Unix(),
		"nbf":    now.Unix(),
		"exp":    now.Unix() + int64(life),
		"jti":    fmt.Sprintf("mlaudit-%d", a.Requests.Load()),
		"access": granted,
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": token, "expires_in": life, "issued_at": now.UTC().Format(time.RFC3339)})
}
