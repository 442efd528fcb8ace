package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/internal/value"
)

// randTensor returns a tensor of the given shape with entries uniform in (-1, 1).
func randTensor(rng *rand.Rand, dt tensor.Dtype, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	fill(t, func() float64 { return 2*rng.Float64() - 1 })
	return t
}

func get(t *tensor.Dense, i int) float64 {
	switch d := t.Data().(type) {
	case []float32:
		return float64(d[i])
	default:
		return d.([]float64)[i]
	}
}

func set(t *tensor.Dense, i int, v float64) {
	switch d := t.Data().(type) {
	case []float32:
		d[i] = float32(v)
	default:
		d.([]float64)[i] = v
	}
}

// projection turns any output into a scalar cost Σ out·R with a fixed random
// R, so that every output entry matters to the gradient.
func projection(g *G.ExprGraph, rng *rand.Rand, out *G.Node) (*G.Node, error) {
	if out.Shape().IsScalar() {
		return out, nil
	}
	r := G.NewTensor(g, out.Dtype(), out.Dims(), G.WithShape(out.Shape()...), G.WithValue(randTensor(rng, out.Dtype(), out.Shape()...)))
	p, err := G.HadamardProd(out, r)
	if err != nil {
		return nil, err
	}
	return G.Sum(p)
}

// gradCheck builds cost = Σ f(inputs)·R and compares the gradient of every
// input that TapeMachine computes with central differences. values are the
// input tensors (float64); the check perturbs them in place.
func gradCheck(t *testing.T, values []*tensor.Dense, f func(g *G.ExprGraph, in []*G.Node) (*G.Node, error)) {
	t.Helper()
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(7, 7))
	in := make([]*G.Node, len(values))
	for i, v := range values {
		in[i] = G.NewTensor(g, v.Dtype(), v.Dims(), G.WithShape(v.Shape()...), G.WithName(fmt.Sprint("in", i)), G.WithValue(v))
	}
	out, err := f(g, in)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := projection(g, rng, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(cost, in...); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g, G.BindDualValues(in...))
	defer m.Close()
	run := func() float64 {
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		c, err := value.Scalar(cost.Value())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	run()
	grads := make([]*tensor.Dense, len(in))
	for i, n := range in {
		gv, err := n.Grad()
		if err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
		grads[i] = gv.(*tensor.Dense).Clone().(*tensor.Dense)
	}
	const eps = 1e-6
	for i, v := range values {
		for j := 0; j < v.Size(); j++ {
			x := get(v, j)
			set(v, j, x+eps)
			up := run()
			set(v, j, x-eps)
			down := run()
			set(v, j, x)
			num, ana := (up-down)/(2*eps), get(grads[i], j)
			if math.Abs(num-ana) > 1e-6+1e-5*math.Abs(num) {
				t.Errorf("input %d entry %d: analytic gradient %.9g, finite difference %.9g", i, j, ana, num)
			}
		}
	}
}

func TestConv2dGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, pad := range []int{0, 1, 2} {
		t.Run(fmt.Sprint("pad", pad), func(t *testing.T) {
			x := randTensor(rng, tensor.Float64, 3, 2, 5, 4)
			w := randTensor(rng, tensor.Float64, 3, 2, 3, 3)
			b := randTensor(rng, tensor.Float64, 3)
			gradCheck(t, []*tensor.Dense{x, w, b}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				return Conv2d(in[0], in[1], in[2], pad)
			})
		})
	}
}

func TestPReLUGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, shape := range [][]int{{3, 4, 2, 3}, {5, 2}} {
		x := randTensor(rng, tensor.Float64, shape...)
		a := randTensor(rng, tensor.Float64, shape[1])
		gradCheck(t, []*tensor.Dense{x, a}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			return PReLU(in[0], in[1])
		})
	}
}

func TestMaxPoolGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := randTensor(rng, tensor.Float64, 2, 3, 5, 4) // odd height: last row dropped
	gradCheck(t, []*tensor.Dense{x}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		return MaxPool2x2(in[0])
	})
}

func TestLinearGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	x := randTensor(rng, tensor.Float64, 4, 2, 3) // read as (4, 6)
	w := randTensor(rng, tensor.Float64, 5, 6)
	b := randTensor(rng, tensor.Float64, 5)
	gradCheck(t, []*tensor.Dense{x, w, b}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		return Linear(in[0], in[1], in[2])
	})
	gradCheck(t, []*tensor.Dense{x, w}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		return Linear(in[0], in[1], nil)
	})
}

func TestSoftmaxCrossEntropyGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	z := randTensor(rng, tensor.Float64, 4, 3)
	gradCheck(t, []*tensor.Dense{z}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		y := G.NewVector(g, tensor.Int, G.WithShape(4), G.WithValue(tensor.New(tensor.WithBacking([]int{0, 2, 2, 1}))))
		return SoftmaxCrossEntropy(in[0], y)
	})
}

// TestSoftmaxCrossEntropyValue checks the loss against a value worked out by
// hand: for logits (0, ln 3) and label 1, softmax is (1/4, 3/4), so the loss
// is -ln(3/4); for (1000, 0) with label 0 it is ln(1+e^-1000) ≈ 0, which a
// naive exp would overflow.
func TestSoftmaxCrossEntropyValue(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		g := G.NewGraph()
		z := tensor.New(tensor.Of(dt), tensor.WithShape(2, 2))
		set(z, 1, math.Log(3))
		set(z, 2, 1000)
		zn := G.NewMatrix(g, dt, G.WithShape(2, 2), G.WithValue(z))
		yn := G.NewVector(g, tensor.Int, G.WithShape(2), G.WithValue(tensor.New(tensor.WithBacking([]int{1, 0}))))
		loss, err := SoftmaxCrossEntropy(zn, yn)
		if err != nil {
			t.Fatal(err)
		}
		m := G.NewTapeMachine(g)
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		got, _ := value.Scalar(loss.Value())
		if want := -math.Log(0.75) / 2; math.Abs(got-want) > 1e-6 {
			t.Errorf("%v: loss %v, want %v", dt, got, want)
		}
		m.Close()
	}
}

func TestOpErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := randTensor(rng, tensor.Float64, 2, 3, 6, 6)
	w := randTensor(rng, tensor.Float64, 4, 2, 3, 3) // 2 input channels, x has 3
	b := randTensor(rng, tensor.Float64, 4)
	if _, err := (&conv{k: 3, pad: 1, work: new(convWork)}).forward(&kernel{name: "Conv2d"}, []G.Value{x, w, b}); err == nil {
		t.Error("conv with mismatched channels: no error")
	}
	if _, err := (&conv{k: 3, pad: 1, work: new(convWork)}).forward(&kernel{name: "Conv2d"}, []G.Value{x, randTensor(rng, tensor.Float32, 4, 3, 3, 3), b}); err == nil {
		t.Error("conv with mixed dtypes: no error")
	}
	if _, err := preluDo(&kernel{name: "PReLU"}, []G.Value{x, randTensor(rng, tensor.Float64, 2)}); err == nil {
		t.Error("prelu with 2 slopes for 3 channels: no error")
	}
	if _, err := (linear{}).do(&kernel{name: "Linear"}, []G.Value{x, randTensor(rng, tensor.Float64, 2, 5)}); err == nil {
		t.Error("linear with wrong input size: no error")
	}
	labels := tensor.New(tensor.WithBacking([]int{0, 3}))
	if _, err := xentDo(&kernel{name: "SoftmaxCrossEntropy"}, []G.Value{randTensor(rng, tensor.Float64, 2, 3), labels}); err == nil {
		t.Error("cross-entropy with label 3 of 3 classes: no error")
	}
	if _, err := Conv2d(G.NewTensor(G.NewGraph(), tensor.Float64, 4, G.WithShape(1, 1, 4, 4)), G.NewMatrix(G.NewGraph(), tensor.Float64, G.WithShape(2, 2)), nil, 0); err == nil {
		t.Error("Conv2d with a 2-D filter: no error")
	}
}
