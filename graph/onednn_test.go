package graph_test

import (
	"math"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/graph"
	"github.com/centerloss-go/centerloss/train"
)

// TestOneDNNMatchesIm2col trains one step of LeNet++ on oneDNN's primitives
// and on the im2col kernels, from the same weights on the same 64 MNIST
// test images, and compares the loss, features, logits and every parameter
// gradient. Both are float32 and sum in different orders, so they agree to
// a few units in the fourth digit, not exactly.
func TestOneDNNMatchesIm2col(t *testing.T) {
	cfg := graph.DefaultConfig()
	ds, err := train.LoadMNIST("", "test", cfg.Batch)
	if err != nil {
		t.Fatal(err)
	}
	images := tensor.New(tensor.WithShape(cfg.Batch, 1, graph.Rows, graph.Cols), tensor.WithBacking(ds.Images(0, cfg.Batch)))
	type result struct {
		net   *graph.Net
		cost  float64
		grads []*tensor.Dense
	}
	run := func(im2col bool) result {
		c := cfg
		c.Im2col = im2col
		g := G.NewGraph()
		net, err := graph.New(g, c)
		if err != nil {
			t.Fatal(err)
		}
		if !im2col && !strings.HasPrefix(net.Kernels(), "oneDNN ") {
			t.Skipf("oneDNN's primitives are not used here: %s", net.Kernels())
		}
		if err := G.Let(net.Input, images); err != nil {
			t.Fatal(err)
		}
		labels := make([]int, cfg.Batch)
		for i, l := range ds.Labels[:cfg.Batch] {
			labels[i] = int(l)
		}
		y := G.NewVector(g, tensor.Int, G.WithShape(cfg.Batch), G.WithValue(tensor.New(tensor.WithBacking(labels))))
		cost, err := graph.SoftmaxCrossEntropy(net.Logits, y)
		if err != nil {
			t.Fatal(err)
		}
		// Plus the sum of the features, so that their gradient has a part
		// of its own besides the classifier's.
		if cost, err = G.Add(cost, G.Must(G.Sum(net.Features))); err != nil {
			t.Fatal(err)
		}
		if _, err := G.Grad(cost, net.Learnables()...); err != nil {
			t.Fatal(err)
		}
		m := G.NewTapeMachine(g, G.BindDualValues(net.Learnables()...))
		defer m.Close()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		r := result{net: net}
		if r.cost, err = graph.Scalar(cost.Value()); err != nil {
			t.Fatal(err)
		}
		for _, p := range net.Params {
			gv, err := p.Node.Grad()
			if err != nil {
				t.Fatalf("%s: %v", p.Name, err)
			}
			r.grads = append(r.grads, gv.(*tensor.Dense).Clone().(*tensor.Dense))
		}
		return r
	}
	d, i := run(false), run(true)
	t.Logf("oneDNN: %s", d.net.Kernels())
	if math.Abs(d.cost-i.cost) > 1e-4*math.Abs(i.cost) {
		t.Errorf("cost: oneDNN %v, im2col %v", d.cost, i.cost)
	}
	const tol = 2e-4
	closeTo(t, "features", d.net.Features.Value().(*tensor.Dense), i.net.Features.Value().(*tensor.Dense), tol)
	closeTo(t, "logits", d.net.Logits.Value().(*tensor.Dense), i.net.Logits.Value().(*tensor.Dense), tol)
	for k, p := range d.net.Params {
		closeTo(t, p.Name+" gradient", d.grads[k], i.grads[k], tol)
	}
}

// closeTo fails the test when a and b differ anywhere by more than tol times
// b's largest entry.
func closeTo(t *testing.T, what string, a, b *tensor.Dense, tol float64) {
	t.Helper()
	x, y := a.Float32s(), b.Float32s()
	if len(x) != len(y) {
		t.Fatalf("%s: %d and %d values", what, len(x), len(y))
	}
	scale, worst := 0.0, 0.0
	for k := range y {
		scale = math.Max(scale, math.Abs(float64(y[k])))
		worst = math.Max(worst, math.Abs(float64(x[k]-y[k])))
	}
	if scale == 0 || worst > tol*scale {
		t.Errorf("%s: largest difference %.3g, largest entry %.3g", what, worst, scale)
	}
}
