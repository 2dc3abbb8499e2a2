package storytest

import (
	"context"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/ref"
	"github.com/mlaudit/mlaudit/registry"
)

// Env is one registry for a test, with helpers that build story images
// and push them; every helper fails the test on error.
type Env struct {
	T      testing.TB
	Host   string
	Client *registry.Client
}

// NewEnv uses the registry at host.
func NewEnv(t testing.TB, host string) *Env {
	return &Env{T: t, Host: host, Client: testregistry.Client(t)}
}

// Image builds an image whose config states platform p.
func (e *Env) Image(p string, f stories.Format, salt string) v1.Image {
	e.T.Helper()
	img, err := stories.Image(p, f, salt)
	if err != nil {
		e.T.Fatal(err)
	}
	return img
}

// Index builds an index of entries.
func (e *Env) Index(f stories.Format, entries ...stories.Entry) v1.ImageIndex {
	e.T.Helper()
	idx, err := stories.Index(f, entries...)
	if err != nil {
		e.T.Fatal(err)
	}
	return idx
}

// Attest builds an attestation entry for img.
func (e *Env) Attest(img v1.Image) stories.Entry {
	e.T.Helper()
	d := Digest(e.T, img)
	att, err := stories.Attestation(d)
	if err != nil {
		e.T.Fatal(err)
	}
	return stories.Entry{Image: att, Attests: &d}
}

// Ref parses repoTag on the registry ("app:1" is HOST/app:1).
func (e *Env) Ref(repoTag string) ref.Ref {
	e.T.Helper()
	return Parse(e.T, e.Host+"/"+repoTag)
}

// Push pushes t to repoTag on the registry and returns its reference.
func (e *Env) Push(repoTag string, t remote.Taggable) ref.Ref {
	e.T.Helper()
	r := e.Ref(repoTag)
	if err := e.Client.Push(context.Background(), r, t); err != nil {
		e.T.Fatal(err)
	}
	return r
}

// Delete deletes a manifest by digest from repo, after an index listing it
// was pushed: the only way to make a missing child.
func (e *Env) Delete(repo string, img v1.Image) {
	e.T.Helper()
	if err := e.Client.Delete(context.Background(), e.Ref(repo).WithDigest(Digest(e.T, img).String())); err != nil {
		e.T.Fatal(err)
	}
}

// Parse parses a reference or fails the test.
func Parse(t testing.TB, s string) ref.Ref {
	t.Helper()
	r, err := ref.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Digest is d's digest.
func Digest(t testing.TB, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}
