package bench

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/registry"
)

// BenchmarkTokens audits every tag of 100 repositories on a registry
// that issues bearer tokens (the in-process registry behind
// testregistry.Tokens, which honours, narrows or refuses a request for
// many scopes), and reports what the audit cost the token flow per 100
// repositories:
//
//   - pings/100repos: goal 1 (one ping per registry per run);
//   - tokens/100repos: goal 100/16+1 = 7 when many scopes are honoured
//     (16 repositories to a token); one per repository, plus the batches
//     refused or narrowed, when they are not.
func BenchmarkTokens(b *testing.B) {
	const repos = 100
	h := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	direct := httptest.NewServer(h)
	b.Cleanup(direct.Close)
	seed(b, strings.TrimPrefix(direct.URL, "http://"), repos)
	for _, mode := range []struct {
		name string
		mode testregistry.TokenMode
	}{{"honoured", testregistry.Honour}, {"narrowed", testregistry.Narrow}, {"refused", testregistry.Refuse}} {
		b.Run(fmt.Sprintf("repos=%d/%s", repos, mode.name), func(b *testing.B) {
			tokens := &testregistry.Tokens{Mode: mode.mode}
			authed := httptest.NewServer(tokens.Wrap(h))
			b.Cleanup(authed.Close)
			host := strings.TrimPrefix(authed.URL, "http://")
			targets := make([]audit.Target, repos)
			refs := make([]ref.Ref, repos)
			for i := range targets {
				refs[i] = storytest.Parse(b, fmt.Sprintf("%s/bench/app%03d", host, i))
				targets[i] = audit.Target{Ref: refs[i]}
			}
			var pings, requests int64
			for i := 0; i < b.N; i++ {
				tokens.Reset()
				c, err := registry.New()
				if err != nil {
					b.Fatal(err)
				}
				c.Expect(refs...) // as mlaudit audit does
				r := audit.Run(context.Background(), c, targets, audit.Options{})
				if len(r.Errors) > 0 || len(r.Images) != repos*tagsPerRepo {
					b.Fatalf("the audit went wrong: %d images, errors %v", len(r.Images), r.Errors)
				}
				pings += tokens.Pings.Load()
				requests += tokens.Requests.Load()
			}
			n := float64(b.N) * repos / 100
			b.ReportMetric(float64(pings)/n, "pings/100repos")
			b.ReportMetric(float64(requests)/n, "tokens/100repos")
		})
	}
}
