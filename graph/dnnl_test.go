//go:build linux && amd64

package graph

import (
	"strings"
	"testing"
)

// TestTrunkBackwardNeedsForward: the trunk's backward op reads the
// activations its forward op leaves in the plan, and refuses to run before
// any forward pass has left them.
func TestTrunkBackwardNeedsForward(t *testing.T) {
	p, err := newDNNLPlan(2, false)
	if err != nil {
		t.Skipf("oneDNN's primitives are not available: %v", err)
	}
	if _, err := p.backward(&kernel{name: p.name("Grad")}, nil); err == nil || !strings.Contains(err.Error(), "no forward pass") {
		t.Errorf("backward before forward: %v", err)
	}
	if _, err := p.activation("conv1_1"); err == nil || !strings.Contains(err.Error(), "no forward pass") {
		t.Errorf("activation before forward: %v", err)
	}
}
