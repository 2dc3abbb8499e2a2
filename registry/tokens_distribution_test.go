package registry_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/ref"
)

// distributionTokenRegistry seeds repos repositories of one tag each on
// Debian's docker-registry in token mode, pushing with tokens the token
// server grants (push and pull on one repository each), and returns the
// references to read there. The counts start from zero after the seeding.
func distributionTokenRegistry(t *testing.T, tokens *testregistry.Tokens, repos int) []ref.Ref {
	t.Helper()
	host := testregistry.DistributionWithTokens(t, tokens)

	// The registry really wants a token, and names the test's token server.
	resp, err := http.Get("http://" + host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if challenge := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(challenge, `realm="http://localhost:`) {
		t.Fatalf("anonymous ping: %s, challenge %q; want 401 and a Bearer realm on localhost", resp.Status, challenge)
	}

	seed := newClient(t)
	img, err := stories.Image("linux/amd64", stories.OCI, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	var refs []ref.Ref
	for i := 0; i < repos; i++ {
		r := mustRef(t, fmt.Sprintf("%s/org/app%02d:1.0", host, i))
		if err := seed.Push(context.Background(), r, img); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	tokens.Reset()
	return refs
}

// TestOneTokenForManyRepositories, on Debian's docker-registry in token
// mode with tokens it verifies (signed, with issuer, audience and expiry
// checked), from a token server that honours, narrows or refuses requests
// for many scopes.
func TestOneTokenForManyRepositoriesOnDistribution(t *testing.T) {
	const repos = 40
	batches := int64((repos + 15) / 16)
	for _, tc := range []struct {
		name      string
		mode      testregistry.TokenMode
		maxTokens int64
	}{
		// Every repository is expected: 16, 16 and 8 to a token.
		{"honoured", testregistry.Honour, batches},
		// A narrowed batch's other repositories each ask alone.
		{"narrowed", testregistry.Narrow, batches + repos},
		// A refused batch's repositories each ask alone.
		{"refused", testregistry.Refuse, batches + repos},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokens := &testregistry.Tokens{Mode: tc.mode}
			refs := distributionTokenRegistry(t, tokens, repos)
			c := newClient(t)
			c.Expect(refs...)
			fetchConcurrently(t, c, refs)
			checkTokenEconomy(t, c, tokens, tc.maxTokens, batches)
			if tc.mode != testregistry.Honour && tokens.Requests.Load() <= batches {
				t.Errorf("only %d token requests: the fallback to one repository per token did not happen", tokens.Requests.Load())
			}
			if got := tokens.Refused.Load(); got != 0 {
				t.Errorf("the registry refused %d requests made with a token", got)
			}
			t.Logf("%s: %d pings, %d token requests for %d repositories", tc.name, tokens.Pings.Load(), tokens.Requests.Load(), repos)
		})
	}
}
