package audit_test

import (
	"context"
	"testing"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/deep"
	"github.com/mlaudit/mlaudit/internal/stories"
	"github.com/mlaudit/mlaudit/internal/storytest"
	"github.com/mlaudit/mlaudit/internal/testregistry"
	"github.com/mlaudit/mlaudit/registry"
)

// TestStories seeds every story into the in-process registry (and an OCI
// layout) and checks the audit finds exactly what each story should.
func TestStories(t *testing.T) {
	dest := stories.Dest{Registry: testregistry.InProcess(t, nil), LayoutDir: t.TempDir()}
	client := newClient(t)
	targets := storytest.Seed(t, client, dest)
	r := audit.Run(context.Background(), client, targets, audit.Options{Jobs: 4, Deep: &deep.Inspector{Limits: deep.DefaultLimits}})
	storytest.Check(t, r, dest)
}

func newClient(t testing.TB) *registry.Client { return testregistry.Client(t) }
