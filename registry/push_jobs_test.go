package registry_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/registry"
)

// inFlight counts the requests a registry is serving at once, and the
// most it served at once; each request is held 5 ms, so that a client
// that does not wait for a slot is caught.
type inFlight struct{ now, most atomic.Int64 }

func (f *inFlight) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := f.now.Add(1)
		defer f.now.Add(-1)
		for {
			m := f.most.Load()
			if n <= m || f.most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		next.ServeHTTP(w, r)
	})
}

// Pushes keep to the cap on requests in flight too: go-containerregistry's
// writes (blob uploads, manifests), and the ping and token exchange they
// need, go through the registry's slots.
func TestJobsCapCoversPushes(t *testing.T) {
	for _, jobs := range []int{1, 2} {
		t.Run(fmt.Sprintf("jobs=%d", jobs), func(t *testing.T) {
			var counted inFlight
			tokens := &testregistry.Tokens{}
			host := testregistry.InProcess(t, func(h http.Handler) http.Handler { return counted.wrap(tokens.Wrap(h)) })

			var entries []stories.Entry
			for _, p := range []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le", "linux/s390x", "linux/riscv64"} {
				img, err := stories.Image(p, stories.OCI, t.Name())
				if err != nil {
					t.Fatal(err)
				}
				entries = append(entries, stories.Entry{Image: img, Platform: p})
			}
			idx, err := stories.Index(stories.OCI, entries...)
			if err != nil {
				t.Fatal(err)
			}
			c := newClient(t, registry.WithJobs(jobs))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := c.Push(ctx, mustRef(t, host+"/org/app:1.0"), idx); err != nil {
				t.Fatal(err)
			}
			// A copy to another repository reads there and writes here.
			raw, err := idx.RawManifest()
			if err != nil {
				t.Fatal(err)
			}
			from := func(d v1.Hash) ref.Ref { return mustRef(t, host+"/org/app@"+d.String()) }
			if err := c.PushManifest(ctx, mustRef(t, host+"/org/copy:1.0"), raw, types.OCIImageIndex, from); err != nil {
				t.Fatal(err)
			}
			// The cap is reached, not only respected: six images' blobs
			// are pushed side by side, so a push that went one request
			// at a time would be caught too.
			if got := counted.most.Load(); got != int64(jobs) {
				t.Errorf("at most %d requests in flight at once, want exactly --jobs %d", got, jobs)
			}
			if tokens.Pings.Load() != 1 || tokens.Requests.Load() == 0 {
				t.Errorf("%d pings and %d token requests: want 1 ping, and tokens through the same cap", tokens.Pings.Load(), tokens.Requests.Load())
			}
			d, err := idx.Digest()
			if err != nil {
				t.Fatal(err)
			}
			n, err := c.Fetch(ctx, mustRef(t, host+"/org/copy@"+d.String()))
			if err != nil || n.Err != nil {
				t.Fatalf("reading the copy back: %v %v", err, n.Err)
			}
			t.Logf("jobs %d: at most %d in flight, %d pings, %d token requests, scopes %v", jobs, counted.most.Load(), tokens.Pings.Load(), tokens.Requests.Load(), tokens.Scopes())
		})
	}
}
