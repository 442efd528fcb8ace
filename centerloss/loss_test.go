package centerloss_test

import (
	"errors"
	"math"
	"testing"

	"github.com/centerloss-go/centerloss/centerloss"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// lossGraph is features (N x 2, given as a value) and labels into Loss.
type lossGraph struct {
	g          *gorgonia.ExprGraph
	x, y, loss *gorgonia.Node
}

func buildLossGraph(t *testing.T, c *centerloss.Centers, x []float64, labels []int) lossGraph {
	t.Helper()
	n := len(labels)
	g := gorgonia.NewGraph()
	xn := gorgonia.NewMatrix(g, c.Dtype(), gorgonia.WithShape(n, 2), gorgonia.WithName("x"), gorgonia.WithValue(dense(c.Dtype(), x, n, 2)))
	yn := gorgonia.NewVector(g, tensor.Int, gorgonia.WithShape(n), gorgonia.WithName("y"),
		gorgonia.WithValue(tensor.New(tensor.WithBacking(append([]int(nil), labels...)))))
	l, err := centerloss.Loss(xn, yn, c)
	if err != nil {
		t.Fatal(err)
	}
	return lossGraph{g: g, x: xn, y: yn, loss: l}
}

// TestLossValue checks the loss against values worked out by hand, and that
// a change of the centers between runs is seen by the next run.
//
// Centers c0 = (1, 0), c1 = (0, 2); features x0 = (2, 1) of class 0,
// x1 = (0, 0) of class 1, x2 = (1, 1) of class 0:
//
//	||x0-c0||² = 1+1 = 2, ||x1-c1||² = 0+4 = 4, ||x2-c0||² = 0+1 = 1
//	L_C = (2+4+1) / (2·3) = 7/6
//
// Then c1 moves to (0, 0): ||x1-c1||² = 0, L_C = (2+0+1) / 6 = 1/2.
func TestLossValue(t *testing.T) {
	x := []float64{2, 1, 0, 0, 1, 1}
	labels := []int{0, 1, 0}
	for _, dt := range dtypes {
		t.Run(dt.String(), func(t *testing.T) {
			c := newCenters(t, 2, 2, dt, []float64{1, 0, 0, 2})
			lg := buildLossGraph(t, c, x, labels)
			if got := lg.loss.Dtype(); got != dt {
				t.Errorf("loss dtype %v, want %v", got, dt)
			}
			if !lg.loss.IsScalar() {
				t.Errorf("loss shape %v, want a scalar", lg.loss.Shape())
			}
			vm := gorgonia.NewTapeMachine(lg.g)
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			if got, want := scalar(t, lg.loss.Value()), 7.0/6; !near(got, want, 1e-7) {
				t.Errorf("L_C = %v, want %v", got, want)
			}

			setCenters(t, c, []float64{1, 0, 0, 0})
			vm.Reset()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			if got, want := scalar(t, lg.loss.Value()), 0.5; !near(got, want, 1e-7) {
				t.Errorf("after moving c1: L_C = %v, want %v", got, want)
			}
		})
	}
}

// TestLossTwoCenters applies two Centers to the same inputs: the graph must
// keep two distinct losses, each reading its own centers.
func TestLossTwoCenters(t *testing.T) {
	dt := tensor.Float64
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, dt, gorgonia.WithShape(2, 2), gorgonia.WithName("x"), gorgonia.WithValue(dense(dt, []float64{1, 2, 3, 4}, 2, 2)))
	y := gorgonia.NewVector(g, tensor.Int, gorgonia.WithShape(2), gorgonia.WithName("y"), gorgonia.WithValue(tensor.New(tensor.WithBacking([]int{0, 0}))))
	zero := newCenters(t, 1, 2, dt, []float64{0, 0})
	one := newCenters(t, 1, 2, dt, []float64{1, 2})
	l0, err := centerloss.Loss(x, y, zero)
	if err != nil {
		t.Fatal(err)
	}
	l1, err := centerloss.Loss(x, y, one)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := gorgonia.Add(l0, l1)
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	// zero centers: (1+4 + 9+16)/4 = 7.5; centers (1, 2): (0 + 4+4)/4 = 2.
	if got := scalar(t, sum.Value()); !near(got, 9.5, 1e-12) {
		t.Errorf("sum of the two losses = %v, want 9.5", got)
	}
}

// TestLossBuildErrors checks that Loss rejects mismatched nodes.
func TestLossBuildErrors(t *testing.T) {
	c := newCenters(t, 3, 2, tensor.Float64, make([]float64, 6))
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(4, 2), gorgonia.WithName("x"))
	x3 := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(4, 3), gorgonia.WithName("x3"))
	x32 := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(4, 2), gorgonia.WithName("x32"))
	xv := gorgonia.NewVector(g, tensor.Float64, gorgonia.WithShape(4), gorgonia.WithName("xv"))
	y := gorgonia.NewVector(g, tensor.Int, gorgonia.WithShape(4), gorgonia.WithName("y"))
	y5 := gorgonia.NewVector(g, tensor.Int, gorgonia.WithShape(5), gorgonia.WithName("y5"))
	yf := gorgonia.NewVector(g, tensor.Float64, gorgonia.WithShape(4), gorgonia.WithName("yf"))

	for _, tc := range []struct {
		name    string
		x, y    *gorgonia.Node
		c       *centerloss.Centers
		wantErr error
	}{
		{"feature dimension", x3, y, c, centerloss.ErrShape},
		{"features not a matrix", xv, y, c, centerloss.ErrShape},
		{"labels length", x, y5, c, centerloss.ErrShape},
		{"features dtype", x32, y, c, centerloss.ErrDtype},
		{"labels dtype", x, yf, c, centerloss.ErrDtype},
		{"nil features", nil, y, c, centerloss.ErrShape},
		{"nil centers", x, y, nil, nil},
		{"zero centers", x, y, new(centerloss.Centers), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := centerloss.Loss(tc.x, tc.y, tc.c)
			if err == nil {
				t.Fatalf("Loss returned %v and no error", n)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %q is not %q", err, tc.wantErr)
			}
		})
	}
}

// opErr returns the error of the operation inside a machine's error: the
// TapeMachine wraps it in a type with an Err method, which errors.Is does
// not look into.
func opErr(err error) error {
	var ce interface{ Err() error }
	if errors.As(err, &ce) {
		return ce.Err()
	}
	return err
}

// TestLossRunErrors checks that labels outside [0, K) given at run time make
// both machines return an error.
func TestLossRunErrors(t *testing.T) {
	machines := map[string]func(*gorgonia.ExprGraph) gorgonia.VM{
		"tape": func(g *gorgonia.ExprGraph) gorgonia.VM { return gorgonia.NewTapeMachine(g) },
		"lisp": func(g *gorgonia.ExprGraph) gorgonia.VM { return gorgonia.NewLispMachine(g) },
	}
	for name, newVM := range machines {
		for _, bad := range []int{-1, 2} {
			c := newCenters(t, 2, 2, tensor.Float64, []float64{1, 0, 0, 2})
			lg := buildLossGraph(t, c, []float64{2, 1, 0, 0, 1, 1}, []int{0, bad, 1})
			if name == "tape" { // the LispMachine differentiates without Grad
				if _, err := gorgonia.Grad(lg.loss, lg.x); err != nil {
					t.Fatal(err)
				}
			}
			vm := newVM(lg.g)
			err := vm.RunAll()
			vm.Close()
			if !errors.Is(opErr(err), centerloss.ErrLabel) {
				t.Errorf("%s machine, label %d: error %v, want %v", name, bad, err, centerloss.ErrLabel)
			}
		}
	}
}

// TestWatchedFeatures checks the recipe of the package documentation for
// reading the features after a TapeMachine run. The features are a tanh,
// whose derivative the machine computes in place, in the memory of the
// features, unless the features are watched.
func TestWatchedFeatures(t *testing.T) {
	dt := tensor.Float64
	xv := []float64{0.5, -1, 2, 0.25}
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, dt, gorgonia.WithShape(2, 2), gorgonia.WithName("x"), gorgonia.WithValue(dense(dt, xv, 2, 2)))
	y := gorgonia.NewVector(g, tensor.Int, gorgonia.WithShape(2), gorgonia.WithName("y"), gorgonia.WithValue(tensor.New(tensor.WithBacking([]int{0, 1}))))
	features, err := gorgonia.Tanh(x)
	if err != nil {
		t.Fatal(err)
	}
	c := newCenters(t, 2, 2, dt, []float64{1, 1, -1, -1})
	lc, err := centerloss.Loss(features, y, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gorgonia.Grad(lc, x); err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(x), gorgonia.TraceExec(), gorgonia.WithWatchlist(features))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	want := make([]float64, len(xv))
	for i, v := range xv {
		want[i] = math.Tanh(v)
	}
	checkClose(t, "features", floats(t, features.Value()), want, 1e-12)
}
