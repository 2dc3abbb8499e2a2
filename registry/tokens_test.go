package registry_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"sync"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/registry"
)

// tokenRegistry seeds repos repositories of one tag each on an in-process
// registry and serves it again behind tokens (and, when wrap is set,
// behind wrap too); it returns the references to read there.
func tokenRegistry(t *testing.T, tokens *testregistry.Tokens, wrap func(http.Handler) http.Handler, repos int) []ref.Ref {
	t.Helper()
	h := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	direct := testregistry.Serve(t, h)
	var front http.Handler = tokens.Wrap(h)
	if wrap != nil {
		front = wrap(front)
	}
	authed := testregistry.Serve(t, front)
	seed := newClient(t)
	img, err := stories.Image("linux/amd64", stories.OCI, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	var refs []ref.Ref
	for i := 0; i < repos; i++ {
		if err := seed.Push(context.Background(), mustRef(t, fmt.Sprintf("%s/org/app%02d:1.0", direct, i)), img); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, mustRef(t, fmt.Sprintf("%s/org/app%02d:1.0", authed, i)))
	}
	return refs
}

// fetchConcurrently fetches every reference, 8 at a time, and fails the
// test on any error.
func fetchConcurrently(t *testing.T, c *registry.Client, refs []ref.Ref) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	errs := make(chan error, len(refs))
	for _, r := range refs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			n, err := c.Fetch(context.Background(), r)
			if err == nil && n.Err != nil {
				err = n.Err
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestOneTokenForManyRepositories(t *testing.T) {
	const repos = 40
	for _, tc := range []struct {
		name      string
		mode      testregistry.TokenMode
		maxTokens int64
	}{
		// 40 repositories, 16 to a token: 3 requests (one more allowed).
		{"honoured", testregistry.Honour, repos/16 + 2},
		// The first batch is narrowed: every repository then asks alone
		// (the one the narrowed token granted keeps it).
		{"narrowed", testregistry.Narrow, (repos+15)/16 + repos},
		// The first batch is refused: every repository then asks alone.
		{"refused", testregistry.Refuse, (repos+15)/16 + repos},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokens := &testregistry.Tokens{Mode: tc.mode}
			refs := tokenRegistry(t, tokens, nil, repos)
			c := newClient(t)
			c.Expect(refs...)
			fetchConcurrently(t, c, refs)
			checkTokenEconomy(t, c, tokens, tc.maxTokens, (repos+15)/16)
			t.Logf("%s: %d pings, %d token requests for %d repositories, %d requests refused", tc.name, tokens.Pings.Load(), tokens.Requests.Load(), repos, tokens.Refused.Load())
		})
	}
}

// Without Expect, repositories that ask while a token request waits for a
// slot of the registry's cap ride along with it.
func TestConcurrentRepositoriesShareTokenRequests(t *testing.T) {
	const repos = 24
	tokens := &testregistry.Tokens{}
	refs := tokenRegistry(t, tokens, nil, repos)
	c := newClient(t, registry.WithJobs(1))
	fetchConcurrently(t, c, refs)
	if got := tokens.Requests.Load(); got >= repos {
		t.Errorf("%d token requests for %d repositories: none shared", got, repos)
	}
}

// An expired token is renewed before use, not after a refusal.
func TestExpiredTokensAreRenewed(t *testing.T) {
	tokens := &testregistry.Tokens{ExpiresIn: 1}
	refs := tokenRegistry(t, tokens, nil, 2)
	c := newClient(t)
	c.Expect(refs...)
	fetchConcurrently(t, c, refs)
	time.Sleep(1100 * time.Millisecond)
	fetchConcurrently(t, c, refs)
	if tokens.Refused.Load() != 0 {
		t.Errorf("%d requests were refused for want of a token", tokens.Refused.Load())
	}
}

// The cap on requests in flight covers the ping and token exchanges.
func TestJobsCapCoversPingAndTokens(t *testing.T) {
	const jobs = 2
	var counted inFlight
	tokens := &testregistry.Tokens{Mode: testregistry.Refuse}
	faults := &testregistry.Faults{}
	refs := tokenRegistry(t, tokens, func(h http.Handler) http.Handler { return counted.wrap(faults.Wrap(h)) }, 12)
	c := newClient(t, registry.WithJobs(jobs))
	fetchConcurrently(t, c, refs)
	if got := counted.most.Load(); got > jobs {
		t.Errorf("%d requests in flight at once, more than --jobs %d", got, jobs)
	}
	if tokens.Requests.Load() < 12 {
		t.Errorf("only %d token requests: the test did not exercise per-repository exchanges", tokens.Requests.Load())
	}
}

// checkTokenEconomy checks a run's token flow: one ping, at most
// maxTokens token requests, none asking for more than 16 scopes, at most
// batches of them asking for many (those sent before a refusal or a
// narrowed answer), and the Client's stats agreeing with the token
// server.
func checkTokenEconomy(t *testing.T, c *registry.Client, tokens *testregistry.Tokens, maxTokens, batches int64) {
	t.Helper()
	if got := tokens.Pings.Load(); got != 1 {
		t.Errorf("%d pings, want 1", got)
	}
	if got := tokens.Requests.Load(); got > maxTokens {
		t.Errorf("%d token requests, want at most %d; scopes asked: %v", got, maxTokens, tokens.Scopes())
	}
	multi := int64(0)
	for i, s := range tokens.Scopes() {
		if len(s) > 16 {
			t.Errorf("token request %d asked for %d scopes, more than 16", i, len(s))
		}
		if len(s) > 1 {
			multi++
		}
	}
	if multi > batches {
		t.Errorf("%d token requests carried many scopes, want at most %d", multi, batches)
	}
	if got := c.Stats().Requests["GET token"]; got != tokens.Requests.Load() {
		t.Errorf("Stats counts %d token requests, the token server %d", got, tokens.Requests.Load())
	}
}
