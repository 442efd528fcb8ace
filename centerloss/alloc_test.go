package centerloss

import (
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestGradAllocs checks that the gradient operation reuses its output: its
// allocations per call do not grow with the batch, and its result is the
// same buffer from one call to the next.
func TestGradAllocs(t *testing.T) {
	const k, d = 10, 8
	c, err := NewCenters(k, d, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	allocs := make(map[int]float64)
	for _, n := range []int{4, 1024} {
		x := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(n, d))
		labels := make([]int, n)
		for i := range labels {
			labels[i] = i % k
		}
		y := tensor.New(tensor.WithBacking(labels))
		g := gorgonia.NewF32(1)
		op := &gradOp{c: c}
		first, err := op.Do(x, y, g)
		if err != nil {
			t.Fatal(err)
		}
		allocs[n] = testing.AllocsPerRun(20, func() {
			v, err := op.Do(x, y, g)
			if err != nil || v != first {
				t.Fatalf("Do = %p, %v; want the first buffer %p", v, err, first)
			}
		})
	}
	t.Log(allocs)
	if allocs[1024] > allocs[4] {
		t.Errorf("allocations per call: %v for N=4, %v for N=1024", allocs[4], allocs[1024])
	}
}
