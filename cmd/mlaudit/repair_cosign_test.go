package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// cosignKit runs the pinned cosign with a key pair of its own, offline:
// keys and caches live in a temporary directory, and every HTTP(S) request
// that is not to a loopback address goes to a trap proxy on loopback, which
// refuses it and records it, so the test fails if cosign tries the network.
type cosignKit struct {
	bin, dir string
	env      []string

	mu      sync.Mutex
	escaped []string // requests the trap proxy refused
}

// newCosign makes a key pair with an empty password in a temporary
// directory and sets up the environment every cosign run gets.
func newCosign(t *testing.T) *cosignKit {
	t.Helper()
	c := &cosignKit{bin: tool(t, "cosign"), dir: t.TempDir()}
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.escaped = append(c.escaped, r.Method+" "+r.Host+r.URL.Path)
		c.mu.Unlock()
		http.Error(w, "tests must not leave the machine", http.StatusForbidden)
	}))
	t.Cleanup(func() {
		trap.Close()
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.escaped) > 0 {
			t.Errorf("cosign tried to reach the network:\n  %s", strings.Join(c.escaped, "\n  "))
		}
	})
	// Go never proxies loopback hosts, so the registry is reached directly.
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		upper := strings.ToUpper(name)
		if strings.HasPrefix(upper, "COSIGN_") || strings.HasPrefix(upper, "SIGSTORE_") || strings.HasPrefix(upper, "TUF_") ||
			slices.Contains([]string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "HOME", "DOCKER_CONFIG", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"}, upper) {
			continue
		}
		c.env = append(c.env, kv)
	}
	home := filepath.Join(c.dir, "home")
	c.env = append(c.env,
		"HOME="+home,
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"DOCKER_CONFIG="+filepath.Join(home, ".docker"),
		"TUF_ROOT="+filepath.Join(home, ".sigstore", "root"),
		"COSIGN_PASSWORD=",
		"HTTP_PROXY="+trap.URL, "HTTPS_PROXY="+trap.URL, "http_proxy="+trap.URL, "https_proxy="+trap.URL,
	)
	// An empty trusted root: with --trusted-root, cosign verify does not
	// fetch Sigstore's public one from its TUF repository, and trusts
	// nothing but the key.
	emptyRoot := `{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`
	if err := os.WriteFile(filepath.Join(c.dir, "trusted_root.json"), []byte(emptyRoot), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.run(t, "generate-key-pair"); err != nil {
		t.Fatal(err)
	}
	return c
}

// run runs cosign in its directory and returns its combined output.
func (c *cosignKit) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Dir, cmd.Env = c.dir, c.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = &cosignError{args: args, err: err, out: out.String()}
	}
	return out.String(), err
}

type cosignError struct {
	args []string
	err  error
	out  string
}

func (e *cosignError) Error() string {
	return "cosign " + strings.Join(e.args, " ") + ": " + e.err.Error() + "\n" + e.out
}

// sign signs ref (by digest) with the key, writing the signature to the
// registry as a cosign tag; nothing goes to a transparency log.
func (c *cosignKit) sign(t *testing.T, ref string) {
	t.Helper()
	if _, err := c.run(t, "sign", "--key", "cosign.key", "--tlog-upload=false", "--allow-http-registry", "--yes", ref); err != nil {
		t.Fatal(err)
	}
}

// verify checks ref's signatures against the public key alone.
func (c *cosignKit) verify(t *testing.T, ref string) error {
	t.Helper()
	_, err := c.run(t, "verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true", "--trusted-root", "trusted_root.json", "--allow-http-registry", ref)
	return err
}

// childDigests lists the digests an index's manifests point at.
func childDigests(t *testing.T, raw string) []string {
	t.Helper()
	var index struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	if err := json.Unmarshal([]byte(raw), &index); err != nil || len(index.Manifests) == 0 {
		t.Fatalf("not an index (%v):\n%s", err, raw)
	}
	var out []string
	for _, m := range index.Manifests {
		out = append(out, m.Digest)
	}
	return out
}

// TestRepairKeepsChildSignaturesAndRefusesToOrphanIndexSignature signs the
// AIBrix list, its image and the per-arch images with cosign on Debian's
// registry, then repairs the list: the plan names the list's signature,
// --apply refuses to leave it behind without --allow-unsigned, and with it
// every image of the new list still verifies, as does the old list under
// its backup tag.
func TestRepairKeepsChildSignaturesAndRefusesToOrphanIndexSignature(t *testing.T) {
	cs := newCosign(t)
	host := testregistry.Distribution(t)
	seedStories(t, host)
	repo, target := host+"/aibrix/runtime", host+"/"+runtimeTag
	at := func(digest string) string { return repo + "@" + digest }

	oldIndex := resolve(t, target)
	signed := append([]string{oldIndex}, childDigests(t, rawManifest(t, target))...)
	signed = append(signed, resolve(t, target+"-amd64"), resolve(t, target+"-arm64"))
	slices.Sort(signed)
	for _, d := range slices.Compact(signed) {
		cs.sign(t, at(d))
	}
	sigTag := strings.Replace(oldIndex, ":", "-", 1) + ".sig"
	if resolve(t, repo+":"+sigTag) == "" {
		t.Fatalf("cosign wrote no %s tag", sigTag)
	}

	args := []string{"repair", "--per-arch", "{tag}-{arch}", "--require", "linux/amd64,linux/arm64"}

	dry := mlaudit(t, "", append(args, target)...)
	if dry.code != 0 {
		t.Fatalf("dry run: exit %d\n%s\n%s", dry.code, dry.stdout, dry.stderr)
	}
	lines := strings.Split(dry.stdout, "\n")
	signedAt := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "Signed:") })
	if signedAt < 0 || !strings.Contains(strings.Join(lines[signedAt:], "\n"), sigTag) {
		t.Errorf("the dry run should name %s under a line starting \"Signed:\":\n%s", sigTag, dry.stdout)
	}
	var doc struct {
		Repairs []struct {
			Plan struct{ NewDigest string } `json:"plan"`
		} `json:"repairs"`
	}
	j := mlaudit(t, "", append(args, "--format", "json", target)...)
	if err := json.Unmarshal([]byte(j.stdout), &doc); err != nil || len(doc.Repairs) != 1 || doc.Repairs[0].Plan.NewDigest == "" {
		t.Fatalf("dry run as JSON (%v): exit %d\n%s\n%s", err, j.code, j.stdout, j.stderr)
	}
	planned := doc.Repairs[0].Plan.NewDigest

	refused := mlaudit(t, "", append(args, "--apply", target)...)
	if refused.code != 1 {
		t.Errorf("--apply without --allow-unsigned: exit %d, want 1\n%s\n%s", refused.code, refused.stdout, refused.stderr)
	}
	if !strings.Contains(refused.stdout+refused.stderr, "unsigned") {
		t.Errorf("--apply without --allow-unsigned should say the result would be unsigned:\n%s\n%s", refused.stdout, refused.stderr)
	}
	if d := resolve(t, target); d != oldIndex {
		t.Fatalf("a refused --apply moved the tag to %s", d)
	}
	if d := resolve(t, at(planned)); d != "" {
		t.Errorf("a refused --apply pushed the new index %s", d)
	}

	applied := mlaudit(t, "", append(args, "--apply", "--allow-unsigned", "--backup-tag", "{tag}-backup", target)...)
	if applied.code != 0 {
		t.Fatalf("--apply --allow-unsigned: exit %d\n%s\n%s", applied.code, applied.stdout, applied.stderr)
	}
	newIndex := resolve(t, target)
	if newIndex == oldIndex || newIndex != planned {
		t.Errorf("the tag holds %s; it held %s and the plan said %s", newIndex, oldIndex, planned)
	}
	if want := "cosign sign --key KEY " + at(newIndex); !strings.Contains(applied.stdout, want) {
		t.Errorf("the output should say how to sign the new index (%s):\n%s", want, applied.stdout)
	}

	raw := string(skopeo(t, "inspect", "--raw", "--tls-verify=false", "docker://"+target))
	children := childDigests(t, raw)
	if len(children) != 2 {
		t.Errorf("the new index lists %d manifests, want 2:\n%s", len(children), raw)
	}
	for _, d := range children {
		if err := cs.verify(t, at(d)); err != nil {
			t.Errorf("the image %s of the new index no longer verifies: %v", d, err)
		}
	}
	if err := cs.verify(t, at(newIndex)); err == nil {
		t.Error("the new index verifies, but nobody has signed it yet: cosign verify checks nothing")
	}
	backup := resolve(t, target+"-backup")
	if backup != oldIndex {
		t.Fatalf("the backup tag holds %q, want the old index %s", backup, oldIndex)
	}
	if err := cs.verify(t, at(backup)); err != nil {
		t.Errorf("the old index's signature no longer verifies at the backup tag's digest: %v", err)
	}
}
