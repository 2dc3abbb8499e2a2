package ref_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/ref"
)

// hostile are references that must be refused when parsed, before any
// lookup: invisible or look-alike characters in the host, zones, ports out
// of range. Each error quotes the input; want is what else it must say
// (empty where go-containerregistry's own check refuses it first).
var hostile = []struct{ in, want string }{
	{"\ufefflocalhost:5000/app:1", "byte-order mark"},
	{"\ufeffghcr.io/org/app:1", "byte-order mark"},
	{"ｌocalhost:5000/app:1", "ASCII"},
	{"localhost:５０００/app:1", ""},
	{"127.0.0.1:5000\u200b/app:1", ""},
	{"localhost:99999/app:1", "1 to 65535"},
	{"localhost:65536/app:1", "1 to 65535"},
	{"localhost:0/app:1", "1 to 65535"},
	{"localhost:+5000/app:1", ""},
	{"localhost:99999/", "1 to 65535"},
	{"localhost:99999/app", "1 to 65535"},
	{"localhost:99999/app@sha256:" + strings.Repeat("a", 64), "1 to 65535"},
	{"[::1%25lo]:5000/app:1", ""},
	{"[::1%lo]:5000/app:1", ""},
	{"[127.0.0.1]:5000/app:1", ""},
	{"[::1]x/app:1", ""},
	{"//", "empty part"},
	{"/app:1", "empty part"},
	{"ghcr.io//app:1", "empty part"},
	{"ghcr.io/org//app:1", "empty part"},
	{"ghcr.io/app/:1", "empty part"},
	{"ghcr.io/-app:1", "separator"},
	{"ghcr.io/a...b:1", "separator"},
}

func TestParseRejectsHostileHosts(t *testing.T) {
	for _, tt := range hostile {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ref.Parse(tt.in)
			if !errors.Is(err, ref.ErrInvalid) {
				t.Fatalf("Parse(%q) error = %v, want ErrInvalid", tt.in, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.in)) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("the error should say %q: %v", tt.want, err)
			}
		})
	}
	for _, ok := range []string{"localhost:1/app:1", "localhost:65535/app:1", "[::1]:5000/app:1", "[::1]/app:1", "my_registry.lan:5000/app:1", "ghcr.io/a__b/c-d/e---f/g.h:1", "alpine"} {
		if _, err := ref.Parse(ok); err != nil {
			t.Errorf("Parse(%q): %v", ok, err)
		}
	}
	for _, p := range []string{"localhost:99999/mirror", "registry.internal//mirror", "registry.internal/-mirror"} {
		if _, err := ref.ParsePrefix(p); !errors.Is(err, ref.ErrInvalid) {
			t.Errorf("ParsePrefix(%q): %v, want ErrInvalid", p, err)
		}
	}
}
