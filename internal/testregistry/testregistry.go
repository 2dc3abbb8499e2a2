// Package testregistry starts real registries for tests: go-containerregistry's
// in-process registry behind httptest (optionally wrapped to inject faults),
// and Debian's docker-registry (the CNCF distribution registry) as a child
// process on a loopback port with a temporary storage directory.
package testregistry

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/mlaudit/mlaudit/registry"
)

// InProcess starts go-containerregistry's registry on a loopback port and
// returns its host:port. wrap, when not nil, wraps the registry's handler,
// so a test can make it lie, stall or fail. The registry has no OCI 1.1
// referrers API (GET /v2/<name>/referrers/<digest> is not answered with an
// index), so clients fall back to the referrers tag (sha256-<hex>); see
// InProcessWithReferrers.
func InProcess(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	return inProcess(t, wrap)
}

// InProcessWithReferrers is InProcess with the OCI 1.1 referrers API
// switched on: the registry answers GET /v2/<name>/referrers/<digest> with
// an index of the manifests whose subject is digest (their artifactType
// taken from the config's media type), so clients that write and read
// referrers use the API and never need the fallback tag.
func InProcessWithReferrers(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	return inProcess(t, wrap, ggcrregistry.WithReferrersSupport(true))
}

func inProcess(t testing.TB, wrap func(http.Handler) http.Handler, opts ...ggcrregistry.Option) string {
	t.Helper()
	opts = append([]ggcrregistry.Option{ggcrregistry.Logger(log.New(io.Discard, "", 0))}, opts...)
	var h http.Handler = ggcrregistry.New(opts...)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Binary is the name of Debian's distribution registry command.
const Binary = "docker-registry"

// Distribution starts Debian's docker-registry on a loopback port with a
// temporary storage directory (deletes enabled) and returns its host:port.
// When it cannot be started, the test fails under CI=true and is skipped
// otherwise, so CI never passes silently without it.
func Distribution(t testing.TB) string {
	t.Helper()
	host, _ := DistributionWithStorage(t)
	return host
}

// DistributionWithStorage is Distribution, also returning the registry's
// storage directory, so a test can damage what the registry serves the
// way a failing disk or a bad sync would.
func DistributionWithStorage(t testing.TB) (host, storage string) {
	t.Helper()
	return distribution(t, "")
}

// distribution starts Debian's docker-registry with extra appended to its
// configuration, and returns its host:port and storage directory.
func distribution(t testing.TB, extra string) (host, storage string) {
	t.Helper()
	bin, err := exec.LookPath(Binary)
	if err != nil {
		unavailable(t, fmt.Errorf("%s is not installed (make test installs it with apt-get): %w", Binary, err))
	}
	port, err := freePort()
	if err != nil {
		unavailable(t, err)
	}
	dir := t.TempDir()
	storage = filepath.Join(dir, "data")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	config := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, storage, addr) + extra
	configPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", configPath)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		unavailable(t, fmt.Errorf("starting %s: %w", Binary, err))
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	if err := waitListening(stderr, addr, 30*time.Second); err != nil {
		unavailable(t, fmt.Errorf("%s did not start: %w", Binary, err))
	}
	return addr, storage
}

// BlobPath is where DistributionWithStorage's registry keeps the content
// with digest hex (sha256), manifests included.
func BlobPath(storage, hex string) string {
	return filepath.Join(storage, "docker", "registry", "v2", "blobs", "sha256", hex[:2], hex, "data")
}

// waitListening reads the registry's log until it says it is listening on
// addr, then drains the rest in the background.
func waitListening(r io.Reader, addr string, limit time.Duration) error {
	found := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(r)
		var tail []string
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "listening on "+addr) {
				found <- nil
				for sc.Scan() {
				}
				return
			}
			tail = append(tail, line)
			if len(tail) > 5 {
				tail = tail[1:]
			}
		}
		found <- fmt.Errorf("it exited; last log lines:\n%s", strings.Join(tail, "\n"))
	}()
	select {
	case err := <-found:
		return err
	case <-time.After(limit):
		return fmt.Errorf("it did not report listening on %s within %s", addr, limit)
	}
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("integration registry unavailable under CI=true: %v", err)
	}
	t.Skipf("integration registry unavailable (set CI=true to make this fail): %v", err)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Client makes a registry.Client for a test, failing the test on error.
func Client(t testing.TB, opts ...registry.Option) *registry.Client {
	t.Helper()
	c, err := registry.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
