package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/policy"
	"github.com/mlaudit/mlaudit/ref"
)

func TestRequireSignaturesKey(t *testing.T) {
	for _, tt := range []struct {
		yaml string
		want audit.Signatures
		err  string
	}{
		{"version: 1\n", 0, ""},
		{"version: 1\nrequire-signatures: index\n", audit.SignIndex, ""},
		{"version: 1\nrequire-signatures: children\n", audit.SignChildren, ""},
		{"version: 1\nrequire-signatures: all\n", audit.SignAll, ""},
		{"version: 1\nrequire-signatures: both\n", 0, `policy.yaml:2: require-signatures: "both": give index, children or all`},
		{"version: 1\nrequire-signatures: [index]\n", 0, `policy.yaml:2: key "require-signatures" must be which manifests must be signed: index, children or all, e.g. require-signatures: all; got a list`},
		{"version: 1\nrequire-signatures: true\n", 0, `key "require-signatures" must be`},
	} {
		p, err := policy.Parse([]byte(tt.yaml), "policy.yaml")
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, policy.ErrInvalid) {
				t.Errorf("%q: error %v, want one containing %q", tt.yaml, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.yaml, err)
			continue
		}
		if p.RequireSignatures != tt.want {
			t.Errorf("%q: RequireSignatures = %v, want %v", tt.yaml, p.RequireSignatures, tt.want)
		}
		r, _ := ref.Parse("ghcr.io/org/app:1")
		if got := p.For(r).RequireSignatures; got != tt.want {
			t.Errorf("%q: For().RequireSignatures = %v, want %v", tt.yaml, got, tt.want)
		}
	}
}
