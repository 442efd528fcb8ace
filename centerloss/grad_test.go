package centerloss_test

import (
	"fmt"
	"testing"

	"github.com/centerloss-go/centerloss/centerloss"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The gradient checks run a batch of 4 inputs through a linear layer,
// features = x·w (4x3 times 3x2), into cost = 0.7·L_C, so that the upstream
// gradient is not 1 and the gradient also has to flow through the layer.
// The centers are nonzero and class 2 appears twice.
var (
	gcLabels   = []int{2, 0, 2, 1}
	gcX        = []float64{0.5, -1.2, 0.3, 1.1, 0.4, -0.7, -0.2, 0.9, 1.3, 0.8, -0.5, 0.6}
	gcW        = []float64{0.7, -0.3, 0.2, 0.9, -1.1, 0.4}
	gcCenters  = []float64{0.5, -1, 1.5, 0.25, -0.75, 2}
	gcX2       = []float64{-0.4, 0.2, 1.5, 0.3, -0.9, 0.1, 1.2, 0.6, -0.8, -0.3, 0.7, 0.2}
	gcCenters2 = []float64{-1, 0.5, 0.3, -0.6, 1.2, 0.9}
)

type gradGraph struct {
	g             *gorgonia.ExprGraph
	x, w, y, cost *gorgonia.Node
}

func buildGradGraph(t *testing.T, dt tensor.Dtype, c *centerloss.Centers, x, w []float64) gradGraph {
	t.Helper()
	g := gorgonia.NewGraph()
	xn := gorgonia.NewMatrix(g, dt, gorgonia.WithShape(4, 3), gorgonia.WithName("x"), gorgonia.WithValue(dense(dt, x, 4, 3)))
	wn := gorgonia.NewMatrix(g, dt, gorgonia.WithShape(3, 2), gorgonia.WithName("w"), gorgonia.WithValue(dense(dt, w, 3, 2)))
	yn := gorgonia.NewVector(g, tensor.Int, gorgonia.WithShape(4), gorgonia.WithName("y"),
		gorgonia.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), gcLabels...)))))
	f, err := gorgonia.Mul(xn, wn)
	if err != nil {
		t.Fatal(err)
	}
	lc, err := centerloss.Loss(f, yn, c)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := gorgonia.Mul(lc, constant(dt, 0.7))
	if err != nil {
		t.Fatal(err)
	}
	return gradGraph{g: g, x: xn, w: wn, y: yn, cost: cost}
}

// costAt evaluates the cost at x and w with a forward-only machine.
func costAt(t *testing.T, dt tensor.Dtype, c *centerloss.Centers, x, w []float64) float64 {
	t.Helper()
	gg := buildGradGraph(t, dt, c, x, w)
	vm := gorgonia.NewTapeMachine(gg.g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return scalar(t, gg.cost.Value())
}

// numericGrad returns the central-difference gradients of the cost with
// respect to x and w.
func numericGrad(t *testing.T, dt tensor.Dtype, c *centerloss.Centers, x, w []float64) (dx, dw []float64) {
	t.Helper()
	h := 1e-5
	if dt == tensor.Float32 {
		h = 1e-2
	}
	diff := func(p []float64, eval func() float64) []float64 {
		g := make([]float64, len(p))
		for i := range p {
			v := p[i]
			p[i] = v + h
			plus := eval()
			p[i] = v - h
			minus := eval()
			p[i] = v
			g[i] = (plus - minus) / (2 * h)
		}
		return g
	}
	x = append([]float64(nil), x...)
	w = append([]float64(nil), w...)
	eval := func() float64 { return costAt(t, dt, c, x, w) }
	return diff(x, eval), diff(w, eval)
}

func gradTol(dt tensor.Dtype) float64 {
	if dt == tensor.Float32 {
		return 2e-3
	}
	return 1e-6
}

// TestGradTape checks the gradients built by gorgonia.Grad and run by a
// TapeMachine, twice on one machine: the second run, with new inputs and
// centers changed in between, checks that the centers are read at each run
// and that the reused gradient buffer holds no stale values.
func TestGradTape(t *testing.T) {
	for _, dt := range dtypes {
		t.Run(dt.String(), func(t *testing.T) {
			c := newCenters(t, 3, 2, dt, gcCenters)
			gg := buildGradGraph(t, dt, c, gcX, gcW)
			grads, err := gorgonia.Grad(gg.cost, gg.x, gg.w)
			if err != nil {
				t.Fatal(err)
			}
			vm := gorgonia.NewTapeMachine(gg.g)
			defer vm.Close()

			for run, x := range [][]float64{gcX, gcX2} {
				if run > 0 {
					setCenters(t, c, gcCenters2)
					if err := gorgonia.Let(gg.x, dense(dt, x, 4, 3)); err != nil {
						t.Fatal(err)
					}
					vm.Reset()
				}
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				wantX, wantW := numericGrad(t, dt, c, x, gcW)
				checkClose(t, fmt.Sprintf("run %d: dcost/dx", run), floats(t, grads[0].Value()), wantX, gradTol(dt))
				checkClose(t, fmt.Sprintf("run %d: dcost/dw", run), floats(t, grads[1].Value()), wantW, gradTol(dt))
			}
		})
	}
}

// TestGradLisp checks the gradients computed by a LispMachine, which
// differentiates through DoDiff.
func TestGradLisp(t *testing.T) {
	for _, dt := range dtypes {
		t.Run(dt.String(), func(t *testing.T) {
			c := newCenters(t, 3, 2, dt, gcCenters)
			gg := buildGradGraph(t, dt, c, gcX, gcW)
			vm := gorgonia.NewLispMachine(gg.g)
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			dx, err := gg.x.Grad()
			if err != nil {
				t.Fatal(err)
			}
			dw, err := gg.w.Grad()
			if err != nil {
				t.Fatal(err)
			}
			wantX, wantW := numericGrad(t, dt, c, gcX, gcW)
			checkClose(t, "dcost/dx", floats(t, dx), wantX, gradTol(dt))
			checkClose(t, "dcost/dw", floats(t, dw), wantW, gradTol(dt))
		})
	}
}
