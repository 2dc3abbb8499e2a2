package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// connectionCounter listens on a loopback port, counts the connections
// made to it and closes each at once. As the HTTP(S) proxy, it catches any
// attempt to reach a public name (which would otherwise need a DNS lookup).
func connectionCounter(t *testing.T) (addr string, count *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	count = &atomic.Int64{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			count.Add(1)
			c.Close()
		}
	}()
	return l.Addr().String(), count
}

// TestHostileInput: every malformed input exits 2, naming the input and
// what to do, before any request (to the loopback registry the targets
// name, or through the proxy to anything else) and before any write.
func TestHostileInput(t *testing.T) {
	target, requests := outputTarget(t)
	host := strings.Split(target, "/")[0]
	proxy, connections := connectionCounter(t)
	dir := t.TempDir()
	file := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	digest := "sha256:" + strings.Repeat("a", 64)
	layout := filepath.Join(dir, "new-layout")
	repair := []string{"repair", "--require", "linux/amd64,linux/arm64", "--apply"}

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"byte-order mark inside a targets file", []string{"audit", "--targets-file", file("bom-inside.txt", target+"\n\ufeff"+target+"\n")},
			[]string{"bom-inside.txt:2", "byte-order mark", "delete it"}},
		{"byte-order mark alone on a line", []string{"audit", "--targets-file", file("bom-line.txt", target+"\n# next\n\ufeff\n")},
			[]string{"bom-line.txt:3", "byte-order mark"}},
		{"UTF-16 targets file", []string{"audit", "--targets-file", file("utf16.txt", "\xff\xfeh\x00o\x00")},
			[]string{"utf16.txt", "UTF-16", "save it as UTF-8"}},
		{"byte-order mark in an argument", []string{"audit", "\ufeff" + target},
			[]string{`"\ufeff` + target + `"`, "byte-order mark"}},
		{"full-width host", []string{"audit", "ｌocalhost:5000/app:1"}, []string{`"ｌocalhost:5000/app:1"`, "ASCII"}},
		{"a repository of empty parts (Docker Hub's, unchecked)", []string{"audit", "//"}, []string{`"//"`, "empty part"}},
		{"an empty part in a repository", []string{"audit", host + "/org//app:1"}, []string{`"` + host + `/org//app:1"`, "empty part"}},
		{"empty --catalog", []string{"audit", "--catalog", ""}, []string{`--catalog ""`, "give a registry host"}},
		{"blank --catalog", []string{"audit", "--catalog", " / "}, []string{`--catalog " / "`, "give a registry host"}},
		{"--catalog with a path", []string{"audit", "--catalog", host + "/app"}, []string{"--catalog", "give a registry host"}},
		{"port above 65535", []string{"audit", "localhost:99999/app:1"}, []string{`"localhost:99999/app:1"`, "1 to 65535"}},
		{"port 0", []string{"audit", "localhost:0/app:1"}, []string{`"localhost:0/app:1"`, "1 to 65535"}},
		{"port out of range in --catalog", []string{"audit", "--catalog", "localhost:70000"}, []string{"--catalog", "1 to 65535"}},
		{"port out of range in a targets file", []string{"audit", "--targets-file", file("ports.txt", target+"\nlocalhost:99999/app:1\n")},
			[]string{"ports.txt:2", "1 to 65535"}},
		{"port out of range in --compare", []string{"audit", "--compare", "localhost:99999/mirror", target}, []string{"--compare", "1 to 65535"}},
		{"--to a layout without a tag", append(repair, "--to", "oci:"+layout, target), []string{"--to oci:" + layout, "name the tag to write"}},
		{"--to a digest", append(repair, "--to", host+"/app@"+digest, target), []string{"--to " + host + "/app@" + digest, "name the tag to write"}},
		{"--to a repository", append(repair, "--to", host+"/app", target), []string{"--to " + host + "/app", "name the tag to write"}},
		{"a digest target", append(repair, target+"@"+digest), []string{target + "@" + digest, "name the tag alone"}},
		{"a layout that does not exist, with no sources", append(repair, "oci:/nonexistent:v1"), []string{"oci:/nonexistent:v1", "does not exist"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requests.Store(0)
			connections.Store(0)
			env := []string{"DOCKER_CONFIG=" + t.TempDir(), "NO_PROXY=", "no_proxy=",
				"HTTPS_PROXY=http://" + proxy, "https_proxy=http://" + proxy, "HTTP_PROXY=http://" + proxy, "http_proxy=http://" + proxy}
			r := mlauditEnv(t, env, tc.args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			for _, want := range tc.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr should say %q:\n%s", want, r.stderr)
				}
			}
			if n, c := requests.Load(), connections.Load(); n != 0 || c != 0 {
				t.Errorf("%d requests to the registry and %d connections through the proxy before the input was refused", n, c)
			}
			if _, err := os.Stat(layout); err == nil {
				t.Errorf("the layout %s was written", layout)
			}
		})
	}

	t.Run("byte-order mark at the start of a targets file", func(t *testing.T) {
		r := mlaudit(t, "", "audit", "--require", "linux/amd64,linux/arm64", "--targets-file", file("bom-start.txt", "\ufeff"+target+"\n"))
		if r.code != 0 {
			t.Errorf("a byte-order mark at the start of the file is skipped: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}
