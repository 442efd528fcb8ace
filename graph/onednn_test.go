package graph_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/graph"
	"github.com/centerloss-go/centerloss/internal/value"
	"github.com/centerloss-go/centerloss/mnist"
)

// stepResult is one forward and backward pass of LeNet++.
type stepResult struct {
	net   *graph.Net
	cost  float64
	grads []*tensor.Dense
}

// mnistBatch returns the first n MNIST test images and their labels.
func mnistBatch(t *testing.T, n int) (*tensor.Dense, []int) {
	t.Helper()
	ds, err := mnist.Load("", "test", n)
	if err != nil {
		t.Fatal(err)
	}
	labels := make([]int, n)
	for i, l := range ds.Labels[:n] {
		labels[i] = int(l)
	}
	return tensor.New(tensor.WithShape(n, 1, graph.Rows, graph.Cols), tensor.WithBacking(ds.Images(0, n))), labels
}

// build makes LeNet++ from cfg with the cost softmax cross-entropy + the
// sum of the features (so that the features' gradient has a part of its
// own besides the classifier's) and a machine that computes every
// parameter's gradient. It returns a nil net when cfg cannot be built here
// for want of a library or of bfloat16 units.
func build(tb testing.TB, cfg graph.Config, images *tensor.Dense, labels []int) (*graph.Net, *G.Node, G.VM) {
	tb.Helper()
	net := newNet(tb, cfg)
	if net == nil {
		return nil, nil, nil
	}
	g := net.Input.Graph()
	if err := G.Let(net.Input, images); err != nil {
		tb.Fatal(err)
	}
	y := G.NewVector(g, tensor.Int, G.WithShape(cfg.Batch), G.WithValue(tensor.New(tensor.WithBacking(labels))))
	cost, err := graph.SoftmaxCrossEntropy(net.Logits, y)
	if err != nil {
		tb.Fatal(err)
	}
	if cost, err = G.Add(cost, G.Must(G.Sum(net.Features))); err != nil {
		tb.Fatal(err)
	}
	if _, err := G.Grad(cost, net.Learnables()...); err != nil {
		tb.Fatal(err)
	}
	return net, cost, G.NewTapeMachine(g, G.BindDualValues(net.Learnables()...))
}

// newNet builds cfg's network in a graph of its own; nil when cfg cannot
// be built here for want of a library or of bfloat16 units.
func newNet(tb testing.TB, cfg graph.Config) *graph.Net {
	tb.Helper()
	net, err := graph.New(G.NewGraph(), cfg)
	if err != nil {
		if cfg.Available() != nil {
			tb.Logf("not available here: %v", err)
			return nil
		}
		tb.Fatal(err)
	}
	if onOneDNN(cfg) && !strings.HasPrefix(net.Kernels(), "oneDNN ") {
		tb.Logf("oneDNN's primitives are not used here: %s", net.Kernels())
		return nil
	}
	return net
}

// onOneDNN reports whether cfg asks for oneDNN's primitives.
func onOneDNN(cfg graph.Config) bool {
	return !cfg.Stock && (cfg.Backend == "" || cfg.Backend == graph.Auto || cfg.Backend == graph.OneDNN)
}

// im2col returns the fastest backend of the im2col kernels here.
func im2col() graph.Backend {
	for _, b := range []graph.Backend{graph.OneDNNSgemm, graph.OpenBLAS} {
		cfg := graph.DefaultConfig()
		cfg.Backend = b
		if cfg.Available() == nil {
			return b
		}
	}
	return graph.Gonum
}

// step runs one pass of build's network over the batch; nil when it
// cannot be built here.
func step(t *testing.T, cfg graph.Config, images *tensor.Dense, labels []int) *stepResult {
	t.Helper()
	net, cost, m := build(t, cfg, images, labels)
	if net == nil {
		return nil
	}
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	r := &stepResult{net: net}
	var err error
	if r.cost, err = value.Scalar(cost.Value()); err != nil {
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

// BenchmarkPass times one forward and backward pass of LeNet++ over 64
// images on each set of kernels: oneDNN's primitives in float32 and in
// bfloat16 (where the CPU has bfloat16 units), and the im2col kernels that
// run where oneDNN 2.x is missing.
func BenchmarkPass(b *testing.B) {
	for _, k := range []struct {
		name      string
		backend   graph.Backend
		precision graph.Precision
	}{{"oneDNN-f32", graph.OneDNN, graph.F32}, {"oneDNN-bf16", graph.OneDNN, graph.BF16}, {"im2col", im2col(), graph.F32}} {
		b.Run(k.name, func(b *testing.B) {
			cfg := graph.DefaultConfig()
			cfg.Backend, cfg.Precision = k.backend, k.precision
			benchPass(b, cfg)
		})
	}
}

// benchPass times passes of cfg's network over random images, reporting
// images/s.
func benchPass(b *testing.B, cfg graph.Config) {
	rng := rand.New(rand.NewPCG(1, 2))
	pixels := make([]float32, cfg.Batch*graph.Rows*graph.Cols)
	for i := range pixels {
		pixels[i] = float32(rng.NormFloat64())
	}
	labels := make([]int, cfg.Batch)
	for i := range labels {
		labels[i] = rng.IntN(cfg.Classes)
	}
	images := tensor.New(tensor.WithShape(cfg.Batch, 1, graph.Rows, graph.Cols), tensor.WithBacking(pixels))
	net, _, m := build(b, cfg, images, labels)
	if net == nil {
		b.Skip("not available here")
	}
	defer m.Close()
	for i := 0; i <= b.N; i++ {
		if i == 1 { // the first pass allocates the buffers
			b.ResetTimer()
		}
		m.Reset()
		if err := m.RunAll(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*cfg.Batch)/b.Elapsed().Seconds(), "images/s")
}

// compareSteps fails the test when two passes differ by more than tol
// relative to the reference's largest entry, in the cost, the features,
// the logits or any parameter gradient.
func compareSteps(t *testing.T, got, want *stepResult, tol, gradTol float64) {
	t.Helper()
	if math.Abs(got.cost-want.cost) > tol*math.Abs(want.cost) {
		t.Errorf("cost: %v, want %v", got.cost, want.cost)
	}
	closeTo(t, "features", got.net.Features.Value().(*tensor.Dense), want.net.Features.Value().(*tensor.Dense), tol)
	closeTo(t, "logits", got.net.Logits.Value().(*tensor.Dense), want.net.Logits.Value().(*tensor.Dense), tol)
	for k, p := range got.net.Params {
		closeTo(t, p.Name+" gradient", got.grads[k], want.grads[k], gradTol)
	}
}

// TestOneDNNMatchesIm2col runs one pass of LeNet++ on oneDNN's primitives
// and on the im2col kernels, from the same weights on the same 64 MNIST
// test images. Both are float32 and sum in different orders, so they agree
// to a few units in the fourth digit, not exactly.
func TestOneDNNMatchesIm2col(t *testing.T) {
	cfg := graph.DefaultConfig()
	images, labels := mnistBatch(t, cfg.Batch)
	d := step(t, cfg, images, labels)
	if d == nil {
		t.Skip("oneDNN's primitives are not available")
	}
	cfg.Backend = im2col()
	i := step(t, cfg, images, labels)
	t.Logf("oneDNN: %s", d.net.Kernels())
	compareSteps(t, d, i, 2e-4, 2e-4)
}

// TestBF16MatchesF32 runs one pass of LeNet++ in bfloat16 and in float32 on
// oneDNN's primitives, from the same weights on the same 64 MNIST test
// images, where the CPU has bfloat16 units.
//
// bfloat16 keeps 8 significant bits: rounding a number to it errs by at
// most 2^-9 (0.2%). The trunk rounds the images, the weights of every
// convolution and every layer's output, and each convolution's sums
// cancel, which makes relative errors grow from layer to layer: measured
// on this batch (Intel AVX512_BF16), the features and logits differ by up
// to 1.9% of their largest entry, the gradients of the last layers by
// about 1-2% and those of the first layers, whose path crosses all twelve
// convolution passes, by up to 6.5%. The tolerances are about twice that,
// 4% and 12%, so that another CPU's kernels may round differently; a wrong
// layout, a missing conversion or float32 data read as bfloat16 give
// errors of 100% or more.
func TestBF16MatchesF32(t *testing.T) {
	cfg := graph.DefaultConfig()
	images, labels := mnistBatch(t, cfg.Batch)
	want := step(t, cfg, images, labels)
	cfg.Precision = graph.BF16
	got := step(t, cfg, images, labels)
	if want == nil || got == nil {
		t.Skip("no bfloat16 network on this machine")
	}
	t.Logf("bf16: %s", got.net.Kernels())
	compareSteps(t, got, want, 0.04, 0.12)
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
	if testing.Verbose() {
		var d2, y2 float64
		for k := range y {
			d2 += float64(x[k]-y[k]) * float64(x[k]-y[k])
			y2 += float64(y[k]) * float64(y[k])
		}
		t.Logf("%s: largest difference %.2g of the largest entry; norm of the difference %.2g of the norm", what, worst/scale, math.Sqrt(d2/y2))
	}
	if scale == 0 || worst > tol*scale {
		t.Errorf("%s: largest difference %.3g, largest entry %.3g", what, worst, scale)
	}
}
