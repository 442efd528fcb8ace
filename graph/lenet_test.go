package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/internal/value"
)

// rig is a LeNet++ with a loss and a machine that computes the gradients of
// every parameter.
type rig struct {
	net  *Net
	cost *G.Node
	m    G.VM
}

// newRig builds LeNet++ with cost = softmax cross-entropy + Σ features·R, so
// that the gradient reaches the features from both sides.
func newRig(t *testing.T, cfg Config, input *tensor.Dense, labels []int) *rig {
	t.Helper()
	g := G.NewGraph()
	net, err := New(g, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := G.Let(net.Input, input); err != nil {
		t.Fatal(err)
	}
	y := G.NewVector(g, tensor.Int, G.WithShape(cfg.Batch), G.WithValue(tensor.New(tensor.WithBacking(labels))))
	xe, err := SoftmaxCrossEntropy(net.Logits, y)
	if err != nil {
		t.Fatal(err)
	}
	proj, err := projection(g, rand.New(rand.NewPCG(3, 3)), net.Features)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := G.Add(xe, proj)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(cost, net.Learnables()...); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g, G.BindDualValues(net.Learnables()...), G.TraceExec(), G.WithWatchlist(net.Features, net.Logits))
	t.Cleanup(func() { m.Close() })
	return &rig{net, cost, m}
}

func (r *rig) run(t *testing.T) float64 {
	t.Helper()
	r.m.Reset()
	if err := r.m.RunAll(); err != nil {
		t.Fatal(err)
	}
	c, err := value.Scalar(r.cost.Value())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// grads returns a copy of every parameter gradient and zeroes it, as a
// solver step would.
func (r *rig) grads(t *testing.T) []*tensor.Dense {
	t.Helper()
	out := make([]*tensor.Dense, len(r.net.Params))
	for i, p := range r.net.Params {
		gv, err := p.Node.Grad()
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		gd := gv.(*tensor.Dense)
		out[i] = gd.Clone().(*tensor.Dense)
		gd.Zero()
	}
	return out
}

func testBatch(dt tensor.Dtype, n int) (*tensor.Dense, []int) {
	rng := rand.New(rand.NewPCG(11, 12))
	labels := make([]int, n)
	for i := range labels {
		labels[i] = rng.IntN(10)
	}
	return randTensor(rng, dt, n, 1, Rows, Cols), labels
}

// TestNetworkGradient checks the gradient of the whole fast network against
// central differences, on a few entries of every parameter.
func TestNetworkGradient(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Batch, cfg.Dtype, cfg.ClassifierBias = 2, tensor.Float64, true
	input, labels := testBatch(cfg.Dtype, cfg.Batch)
	r := newRig(t, cfg, input, labels)
	r.run(t)
	grads := r.grads(t)
	rng := rand.New(rand.NewPCG(5, 5))
	const eps = 1e-5
	for i, p := range r.net.Params {
		v := p.Node.Value().(*tensor.Dense)
		for k := 0; k < 3; k++ {
			j := rng.IntN(v.Size())
			x := get(v, j)
			set(v, j, x+eps)
			up := r.run(t)
			set(v, j, x-eps)
			down := r.run(t)
			set(v, j, x)
			r.grads(t)
			num, ana := (up-down)/(2*eps), get(grads[i], j)
			if math.Abs(num-ana) > 1e-6+1e-4*math.Abs(num) {
				t.Errorf("%s[%d]: analytic gradient %.9g, finite difference %.9g", p.Name, j, ana, num)
			}
		}
	}
}

// TestFastMatchesStock runs the fast network and the one built from
// gorgonia's stock ops with the same weights and input, and compares
// features, logits and every parameter gradient.
//
// Every backend runs, where it is available here: float64 networks always
// run the im2col kernels, float32 ones each backend in turn.
func TestFastMatchesStock(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, b := range Backends {
			t.Run(dt.String()+"/"+string(b), func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.Batch, cfg.Dtype, cfg.Backend = 3, dt, b
				if dt == tensor.Float64 && b == OneDNN {
					if _, err := New(G.NewGraph(), cfg); err == nil || !strings.Contains(err.Error(), "float32 only") {
						t.Errorf("float64 on oneDNN: %v", err)
					}
					return
				}
				if err := cfg.Available(); err != nil {
					if !strings.Contains(err.Error(), "backend "+string(b)) {
						t.Errorf("unavailable backend: the error %q does not name it", err)
					}
					t.Skipf("not available here: %v", err)
				}
				matchesStock(t, cfg)
			})
		}
	}
}

func matchesStock(t *testing.T, cfg Config) {
	input, labels := testBatch(cfg.Dtype, cfg.Batch)
	fast := newRig(t, cfg, input, labels)
	t.Logf("fast layers: %s; BLAS %s", fast.net.Kernels(), fast.net.BLAS())
	checkKernels(t, fast.net)
	cfg.Stock = true
	stock := newRig(t, cfg, input, labels)
	cf, cs := fast.run(t), stock.run(t)
	tol := 1e-9
	if cfg.Dtype == tensor.Float32 {
		tol = 2e-3
	}
	if math.Abs(cf-cs) > tol*(1+math.Abs(cs)) {
		t.Errorf("cost: fast %v, stock %v", cf, cs)
	}
	compare(t, "features", fast.net.Features.Value().(*tensor.Dense), stock.net.Features.Value().(*tensor.Dense), tol)
	compare(t, "logits", fast.net.Logits.Value().(*tensor.Dense), stock.net.Logits.Value().(*tensor.Dense), tol)
	gf, gs := fast.grads(t), stock.grads(t)
	for i, p := range fast.net.Params {
		compare(t, p.Name+" gradient", gf[i], gs[i], tol)
	}
}

// compare fails the test when a and b differ by more than tol relative to
// the largest entry of b.
func compare(t *testing.T, what string, a, b *tensor.Dense, tol float64) {
	t.Helper()
	if !a.Shape().Eq(b.Shape()) {
		t.Errorf("%s: shapes %v and %v", what, a.Shape(), b.Shape())
		return
	}
	scale, worst := 0.0, 0.0
	for i := 0; i < a.Size(); i++ {
		scale = math.Max(scale, math.Abs(get(b, i)))
		worst = math.Max(worst, math.Abs(get(a, i)-get(b, i)))
	}
	if worst > tol*(scale+1e-12) {
		t.Errorf("%s: largest difference %.3g (largest entry %.3g)", what, worst, scale)
	}
}

func TestShapes(t *testing.T) {
	for _, dim := range []int{1, 2, 3, 8} {
		t.Run(fmt.Sprint("dim", dim), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Batch, cfg.Dim = 4, dim
			g := G.NewGraph()
			net, err := New(g, cfg)
			if err != nil {
				t.Fatal(err)
			}
			input, _ := testBatch(cfg.Dtype, cfg.Batch)
			if err := G.Let(net.Input, input); err != nil {
				t.Fatal(err)
			}
			m := G.NewTapeMachine(g, G.TraceExec(), G.WithWatchlist(net.Features, net.Logits))
			defer m.Close()
			if err := m.RunAll(); err != nil {
				t.Fatal(err)
			}
			if s := net.Features.Value().Shape(); !s.Eq(tensor.Shape{4, dim}) {
				t.Errorf("features shape %v, want (4, %d)", s, dim)
			}
			if s := net.Logits.Value().Shape(); !s.Eq(tensor.Shape{4, 10}) {
				t.Errorf("logits shape %v, want (4, 10)", s)
			}
			if s := net.Params[len(net.Params)-1].Node.Shape(); !s.Eq(tensor.Shape{10, dim}) {
				t.Errorf("classifier shape %v, want (10, %d)", s, dim)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Batch: 0, Dim: 2, Classes: 10, Dtype: tensor.Float32},
		{Batch: 1, Dim: 0, Classes: 10, Dtype: tensor.Float32},
		{Batch: 1, Dim: 2, Classes: 10, Dtype: tensor.Int},
	} {
		if _, err := New(G.NewGraph(), cfg); err == nil {
			t.Errorf("New(%+v): no error", cfg)
		}
	}
}

// TestDeterministicInit: the same seed gives the same weights, another seed
// other weights.
func TestDeterministicInit(t *testing.T) {
	mk := func(seed uint64) *Net {
		cfg := DefaultConfig()
		cfg.Seed = seed
		n, err := New(G.NewGraph(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	a, b, c := mk(1), mk(1), mk(2)
	w := func(n *Net) float64 { return get(n.Params[0].Node.Value().(*tensor.Dense), 7) }
	if w(a) != w(b) || w(a) == w(c) {
		t.Errorf("conv1_1.weight[7]: seed 1 gives %v and %v, seed 2 gives %v", w(a), w(b), w(c))
	}
}

// checkKernels fails the test when a network does not run on what its
// backend says: a float32 network on Auto or OneDNN that could run on
// oneDNN's primitives and does not would test the im2col kernels twice and
// the primitives never; the other backends must keep out of oneDNN's
// primitives, and name their BLAS.
func checkKernels(t *testing.T, net *Net) {
	t.Helper()
	_, err := newDNNLPlan(1, false)
	b := net.backend()
	onednn := strings.HasPrefix(net.Kernels(), "oneDNN ")
	if want := net.Dtype == tensor.Float32 && (b == Auto || b == OneDNN) && err == nil; onednn != want {
		t.Errorf("backend %s: the network runs on %s", b, net.Kernels())
	}
	names := map[Backend]string{Gonum: "gonum (pure Go)", OpenBLAS: "OpenBLAS", OneDNNSgemm: "oneDNN "}
	if s := names[b]; s != "" && (!strings.Contains(net.BLAS(), s) || !strings.Contains(net.Kernels(), "backend "+string(b))) {
		t.Errorf("backend %s: kernels %q, BLAS %q", b, net.Kernels(), net.BLAS())
	}
	if b == OpenBLAS && strings.Contains(net.BLAS(), "oneDNN") {
		t.Errorf("backend openblas runs products in %s", net.BLAS())
	}
}

// TestBackendUnavailable: a backend asked for by name fails with an error
// naming it and the library when that library does not load; Auto falls
// back to the im2col kernels and says why.
func TestBackendUnavailable(t *testing.T) {
	const missing = "/nonexistent/libdnnl.so.3"
	for _, b := range []Backend{OneDNN, OneDNNSgemm} {
		cfg := DefaultConfig()
		cfg.Backend, cfg.OneDNN = b, missing
		err := cfg.Available()
		if err == nil || !strings.Contains(err.Error(), "backend "+string(b)) || !strings.Contains(err.Error(), missing) {
			t.Errorf("backend %s with a missing library: Available says %v", b, err)
		}
		if _, err := New(G.NewGraph(), cfg); err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("backend %s with a missing library: New says %v", b, err)
		}
	}
	cfg := DefaultConfig()
	cfg.OneDNN = missing
	net, err := New(G.NewGraph(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if k := net.Kernels(); !strings.HasPrefix(k, "im2col") || !strings.Contains(k, "backend auto; oneDNN's primitives unavailable") || !strings.Contains(k, missing) {
		t.Errorf("auto with a missing library: kernels %q", k)
	}
	cfg.Precision = BF16
	if _, err := New(G.NewGraph(), cfg); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("bf16 with a missing library: %v", err)
	}
	cfg.Backend = OpenBLAS
	if err := cfg.Available(); err == nil || !strings.Contains(err.Error(), "bf16 precision needs") {
		t.Errorf("bf16 on openblas: %v", err)
	}
}

// TestParseBackend reads every name, the other names of gonum, and
// refuses others with the list of names.
func TestParseBackend(t *testing.T) {
	for in, want := range map[string]Backend{"": Auto, "auto": Auto, " OneDNN ": OneDNN, "onednn-sgemm": OneDNNSgemm,
		"openblas": OpenBLAS, "gonum": Gonum, "purego": Gonum, "off": Gonum} {
		if b, err := ParseBackend(in); b != want || err != nil {
			t.Errorf("ParseBackend(%q) = %q, %v; want %q", in, b, err, want)
		}
	}
	if _, err := ParseBackend("mkl"); err == nil || !strings.Contains(err.Error(), "auto, onednn, onednn-sgemm, openblas, gonum") {
		t.Errorf("ParseBackend(mkl): %v", err)
	}
	cfg := DefaultConfig()
	cfg.Backend = "mkl"
	if _, err := New(G.NewGraph(), cfg); err == nil || !strings.Contains(err.Error(), `backend "mkl"`) {
		t.Errorf("New with backend mkl: %v", err)
	}
}

// TestParamDecay: weight decay belongs on the convolution and linear
// weights, never on biases or PReLU slopes.
func TestParamDecay(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ClassifierBias = true
	net, err := New(G.NewGraph(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range net.Params {
		want := strings.HasPrefix(p.Name, "conv") && strings.HasSuffix(p.Name, ".weight") ||
			p.Name == "fc1.weight" || p.Name == "fc2.weight"
		if p.Decay != want {
			t.Errorf("%s: Decay %v, want %v", p.Name, p.Decay, want)
		}
	}
}

// TestTimePass times passes of a small network and rejects what cannot be
// timed.
func TestTimePass(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Batch = 4
	d, err := TimePass(cfg, 2)
	if err != nil || d <= 0 {
		t.Fatalf("TimePass: %v, %v; want a positive time", d, err)
	}
	if _, err := TimePass(cfg, 0); err == nil || !strings.Contains(err.Error(), "0 passes") {
		t.Errorf("0 passes: %v", err)
	}
	cfg.Batch = 0
	if _, err := TimePass(cfg, 1); err == nil || !strings.Contains(err.Error(), "batch size 0") {
		t.Errorf("batch 0: %v", err)
	}
}
