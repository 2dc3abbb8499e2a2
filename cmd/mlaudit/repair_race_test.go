package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/tree"
)

// raceRounds is how many times each step of --apply is raced against
// another process's push: every round must keep the other push.
const raceRounds = 5

// raceRepo is the AIBrix runtime repository: seedStories fills it with an
// index that lost linux/amd64 and its per-arch tags.
const raceRepo = "aibrix/runtime"

// raceFixture copies the AIBrix story's tags to fresh tags for one round:
// TAG (the broken index) and TAG-amd64, TAG-arm64. It returns the digests
// of the broken index and of the amd64 image.
func raceFixture(t *testing.T, upstream, tag string) (old, amd string) {
	t.Helper()
	c := testregistry.Client(t)
	ctx := context.Background()
	var amdNode *tree.Node
	for from, to := range map[string]string{"v0.3.0-rc.2": tag, "v0.3.0-rc.2-amd64": tag + "-amd64", "v0.3.0-rc.2-arm64": tag + "-arm64"} {
		n, err := c.Fetch(ctx, storytest.Parse(t, upstream+"/"+raceRepo+":"+from))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.MoveTag(ctx, storytest.Parse(t, upstream+"/"+raceRepo+":"+to), n.Raw, n.MediaType()); err != nil {
			t.Fatal(err)
		}
		if to == tag {
			old = n.Descriptor.Digest.String()
		}
		if to == tag+"-amd64" {
			amdNode = n
		}
	}
	return old, amdNode.Descriptor.Digest.String()
}

// otherPush is another job pushing to the tag: skopeo, a process of its
// own, copies the amd64 image over it.
func otherPush(t *testing.T, upstream, tag string) {
	t.Helper()
	skopeo(t, "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
		"docker://"+upstream+"/"+raceRepo+":"+tag+"-amd64", "docker://"+upstream+"/"+raceRepo+":"+tag)
}

// TestRepairNeverOverwritesAConcurrentPush holds one request of --apply at
// a time (the backup tag's PUT, the read of the tag right before the move,
// the answer to the move itself) while another process pushes to the tag.
// Every round, the other push survives, mlaudit exits 4, names what the
// tag holds now and where the new index is, and never says "Applied".
//
// A push that reaches the registry while mlaudit's own tag PUT is in flight
// cannot be told from an earlier one by any client: the distribution API
// has no conditional tag write. That one-request window is the limit; the
// test holds the move's answer, after the registry applied it.
func TestRepairNeverOverwritesAConcurrentPush(t *testing.T) {
	upstream := testregistry.Distribution(t)
	seedStories(t, upstream)
	manifests := "/v2/" + raceRepo + "/manifests/"
	steps := []struct {
		name string
		// match picks the request to hold in round tag; seen reports what
		// the proxy saw before it.
		match func(tag string, seen func(string) bool) func(*http.Request) bool
		pause func(chan<- string, <-chan struct{}) testregistry.Fault
	}{
		{"the backup tag's PUT", func(tag string, _ func(string) bool) func(*http.Request) bool {
			return testregistry.Path(http.MethodPut, manifests+tag+"-backup")
		}, testregistry.Pause},
		{"the read right before the move", func(tag string, seen func(string) bool) func(*http.Request) bool {
			return func(r *http.Request) bool {
				return seen("PUT "+manifests+tag+"-backup") && r.Method != http.MethodPut && r.URL.Path == manifests+tag
			}
		}, testregistry.Pause},
		{"the answer to the move", func(tag string, _ func(string) bool) func(*http.Request) bool {
			return func(r *http.Request) bool { return r.Method == http.MethodPut && r.URL.Path == manifests+tag }
		}, testregistry.PauseAnswer},
	}
	survived := 0
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			for round := range raceRounds {
				tag := "race-" + strconv.Itoa(len(step.name)) + "-" + strconv.Itoa(round)
				old, other := raceFixture(t, upstream, tag)
				log := &requestLog{}
				reached := make(chan string, 1)
				release := make(chan struct{})
				faults := (&testregistry.Faults{}).Add(log.record, 0, passThrough).
					Add(step.match(tag, log.has), 1, step.pause(reached, release))
				host := faults.Proxy(t, upstream)

				cmd := exec.Command(binary, "repair", "--per-arch", "{tag}-{arch}", "--require", "linux/amd64,linux/arm64",
					"--backup-tag", "{tag}-backup", "--apply", "--no-cache", host+"/"+raceRepo+":"+tag)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				select {
				case <-reached:
				case <-time.After(60 * time.Second): // a guard, not a synchronisation
					_ = cmd.Process.Kill()
					close(release)
					t.Fatalf("round %d: mlaudit never reached %s\n%s%s", round, step.name, stdout.String(), stderr.String())
				}
				otherPush(t, upstream, tag)
				close(release)
				err := cmd.Wait()
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				}
				out := stdout.String() + stderr.String()
				if got := resolve(t, upstream+"/"+raceRepo+":"+tag); got != other {
					t.Fatalf("round %d: the other push %s was lost: the tag holds %s (old %s)\n%s", round, other, got, old, out)
				}
				if code != exitChanged || strings.Contains(out, "Applied:") || !strings.Contains(out, other) || !strings.Contains(out, "the new manifest is at") {
					t.Fatalf("round %d: exit %d; want 4, no \"Applied\", the other push %s named and where the new index is:\n%s", round, code, other, out)
				}
				survived++
			}
		})
	}
	t.Logf("%d of %d concurrent pushes survived (%d rounds at each of %d steps)", survived, raceRounds*len(steps), raceRounds, len(steps))
}

// TestRepairSeesASwallowedOrSwappedTagWrite: a registry (or a proxy) that
// answers the tag PUT with success but stores nothing, or stores something
// else: mlaudit reads the tag back, exits 4 and never says "Applied" or
// "moved": true.
func TestRepairSeesASwallowedOrSwappedTagWrite(t *testing.T) {
	upstream := testregistry.Distribution(t)
	seedStories(t, upstream)
	manifests := "/v2/" + raceRepo + "/manifests/"
	for name, fault := range map[string]func(amdRaw []byte, amdType string) testregistry.Fault{
		"swallowed": func([]byte, string) testregistry.Fault {
			return func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusCreated)
			}
		},
		"swapped": func(amdRaw []byte, amdType string) testregistry.Fault {
			return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				swapped := r.Clone(r.Context())
				swapped.Body, swapped.ContentLength = io.NopCloser(bytes.NewReader(amdRaw)), int64(len(amdRaw))
				swapped.Header.Set("Content-Type", amdType)
				next.ServeHTTP(w, swapped)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			for _, format := range []string{"table", "json"} {
				tag := "lie-" + name + "-" + format
				old, _ := raceFixture(t, upstream, tag)
				amd := fetchNode(t, upstream+"/"+raceRepo+":"+tag+"-amd64")
				move := func(r *http.Request) bool { return r.Method == http.MethodPut && r.URL.Path == manifests+tag }
				host := (&testregistry.Faults{}).Add(move, 0, fault(amd.Raw, string(amd.MediaType()))).Proxy(t, upstream)
				r := mlaudit(t, "", "repair", "--per-arch", "{tag}-{arch}", "--require", "linux/amd64,linux/arm64", "--format", format,
					"--apply", "--no-cache", host+"/"+raceRepo+":"+tag)
				if r.code != exitChanged || strings.Contains(r.stdout, "Applied:") || strings.Contains(r.stdout, `"moved": true`) {
					t.Errorf("%s: exit %d, want 4 and no success:\n%s\n%s", format, r.code, r.stdout, r.stderr)
				}
				if !strings.Contains(r.stdout, "not-confirmed") || !strings.Contains(r.stdout, old) {
					t.Errorf("%s: the output should say the write was not confirmed and name the old digest %s:\n%s", format, old, r.stdout)
				}
			}
		})
	}
}

func fetchNode(t *testing.T, s string) *tree.Node {
	t.Helper()
	n, err := testregistry.Client(t).Fetch(context.Background(), storytest.Parse(t, s))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// requestLog records every request a proxy sees, for matchers that depend
// on what came before.
type requestLog struct {
	mu   sync.Mutex
	seen map[string]bool
}

// record notes r and never matches, so the rules after it are tried.
func (l *requestLog) record(r *http.Request) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	l.seen[r.Method+" "+r.URL.Path] = true
	return false
}

func (l *requestLog) has(req string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[req]
}

// passThrough is never used: record never matches.
func passThrough(w http.ResponseWriter, r *http.Request, next http.Handler) { next.ServeHTTP(w, r) }
