package graph_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/graph"
	"github.com/centerloss-go/centerloss/internal/value"
)

// trunkChain returns the nodes a user reaches by walking the graph from
// fc1's input down to the images, following at each node its one input
// that an op computes.
func trunkChain(t *testing.T, net *graph.Net) []*G.Node {
	t.Helper()
	g := net.Input.Graph()
	computed := func(n *G.Node) *G.Node {
		var found *G.Node
		for it := g.From(n.ID()); it.Next(); {
			c := it.Node().(*G.Node)
			if c.Op() == nil { // the images or a parameter
				continue
			}
			if found != nil {
				t.Fatalf("%v has two computed inputs, %v and %v", n, found, c)
			}
			found = c
		}
		return found
	}
	fc1 := computed(net.Features)
	var chain []*G.Node
	for n := computed(fc1); n != nil; n = computed(n) {
		chain = append(chain, n)
	}
	if len(chain) == 0 || !chain[0].Shape().Eq(tensor.Shape{net.Batch, 128, 3, 3}) {
		t.Fatalf("fc1 reads %v, want the (%d, 128, 3, 3) output of the last pooling", chain, net.Batch)
	}
	return chain
}

// stockSums is what two of gorgonia's own ops make of one node: its sum,
// and its sum over the images, whose positions tell NCHW from any other
// layout.
type stockSums struct {
	node        string
	sum, absSum float64 // the sum, and that of the magnitudes to judge its error by
	overImages  *tensor.Dense
}

// sumsOfTrunkNodes builds cfg's network on images, applies G.Sum and a sum
// over the images to every node of trunkChain and runs the forward pass;
// nil when cfg cannot be built here.
func sumsOfTrunkNodes(t *testing.T, cfg graph.Config, images *tensor.Dense) []stockSums {
	t.Helper()
	net := newNet(t, cfg)
	if net == nil {
		return nil
	}
	g := net.Input.Graph()
	if err := G.Let(net.Input, images); err != nil {
		t.Fatal(err)
	}
	chain := trunkChain(t, net)
	sums, overImages := make(G.Nodes, len(chain)), make(G.Nodes, len(chain))
	for k, n := range chain {
		sums[k], overImages[k] = G.Must(G.Sum(n)), G.Must(G.Sum(n, 0))
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	out := make([]stockSums, len(chain))
	for k, n := range chain {
		s := stockSums{node: n.Name(), overImages: overImages[k].Value().(*tensor.Dense)}
		var err error
		if s.sum, err = value.Scalar(sums[k].Value()); err != nil {
			t.Fatal(err)
		}
		for _, v := range n.Value().(*tensor.Dense).Float32s() {
			s.absSum += math.Abs(float64(v))
		}
		out[k] = s
	}
	return out
}

// TestStockOpsOnTrunkNodes applies gorgonia's own Sum, over everything and
// over the images, to every node between the images and fc1 of the
// network on oneDNN's primitives, as a user of a graph library may, and
// checks that they give what they give on the im2col network's node at
// the same place: each node holds float32 numbers in NCHW order, as its
// type and shape say. float32 agrees to the tolerance of
// TestOneDNNMatchesIm2col, bfloat16 to TestBF16MatchesF32's 4% (the sum
// relative to the sum of the magnitudes, the sums over the images relative
// to their largest entry).
func TestStockOpsOnTrunkNodes(t *testing.T) {
	cfg := graph.DefaultConfig()
	images, _ := mnistBatch(t, cfg.Batch)
	cfg.Backend = im2col()
	want := sumsOfTrunkNodes(t, cfg, images)
	cfg.Backend = graph.Auto
	for _, c := range []struct {
		precision graph.Precision
		tol       float64
	}{{graph.F32, 2e-4}, {graph.BF16, 0.04}} {
		t.Run(string(c.precision), func(t *testing.T) {
			cfg.Precision = c.precision
			got := sumsOfTrunkNodes(t, cfg, images)
			if got == nil {
				t.Skip("not available here")
			}
			if len(got) > len(want) {
				t.Fatalf("%d nodes between the images and fc1, the im2col network has %d", len(got), len(want))
			}
			for k, s := range got {
				w := want[k]
				what := fmt.Sprintf("node %d (%s; im2col's %s)", k, s.node, w.node)
				if math.Abs(s.sum-w.sum) > c.tol*w.absSum {
					t.Errorf("%s: sum %.7g, im2col's %.7g", what, s.sum, w.sum)
				}
				closeTo(t, what+": sum over the images", s.overImages, w.overImages, c.tol)
			}
		})
	}
}

// activations runs one forward and backward pass of cfg's network (the
// cost of build) on images and reads every activation by name; nil when
// cfg cannot be built here.
func activations(t *testing.T, cfg graph.Config, images *tensor.Dense, labels []int) map[string]*tensor.Dense {
	t.Helper()
	net := newNet(t, cfg)
	if net == nil {
		return nil
	}
	g := net.Input.Graph()
	if _, err := net.Activation("conv1_1"); err == nil || !strings.Contains(err.Error(), "no forward pass") {
		t.Errorf("%s: before the forward pass: %v", net.Kernels(), err)
	}
	if err := G.Let(net.Input, images); err != nil {
		t.Fatal(err)
	}
	y := G.NewVector(g, tensor.Int, G.WithShape(cfg.Batch), G.WithValue(tensor.New(tensor.WithBacking(labels))))
	cost := G.Must(graph.SoftmaxCrossEntropy(net.Logits, y))
	if _, err := G.Grad(cost, net.Learnables()...); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g, G.BindDualValues(net.Learnables()...))
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Activation("conv1"); err == nil || !strings.Contains(err.Error(), `"conv1"`) || !strings.Contains(err.Error(), "prelu3_2") {
		t.Errorf("%s: an unknown name: %v", net.Kernels(), err)
	}
	out := map[string]*tensor.Dense{}
	for _, name := range activationNames {
		a, err := net.Activation(name)
		if err != nil {
			t.Fatalf("%s: %v", net.Kernels(), err)
		}
		if a.Dtype() != tensor.Float32 {
			t.Errorf("%s: %s is %v", net.Kernels(), name, a.Dtype())
		}
		out[name] = a
	}
	// A copy: changing it leaves the next read as it was.
	a := out["pool1"]
	a.Float32s()[0]++
	if b, _ := net.Activation("pool1"); b.Float32s()[0] == a.Float32s()[0] {
		t.Errorf("%s: Activation returns the network's own tensor", net.Kernels())
	}
	a.Float32s()[0]--
	return out
}

// activationNames are the names Activation takes, in the network's order.
var activationNames = []string{
	"conv1_1", "prelu1_1", "conv1_2", "prelu1_2", "pool1",
	"conv2_1", "prelu2_1", "conv2_2", "prelu2_2", "pool2",
	"conv3_1", "prelu3_1", "conv3_2", "prelu3_2", "pool3",
	"fc1", "prelu_fc1", "fc2",
}

// TestActivationsAgree reads every activation after a training pass on
// oneDNN's primitives in float32 and in bfloat16, on gorgonia's stock ops
// and on the im2col kernels, from the same weights on the same MNIST
// images: each is a float32 NCHW tensor with the same numbers. float32
// agrees to the tolerance of TestOneDNNMatchesIm2col, and bfloat16 to
// TestBF16MatchesF32's 4% of the largest entry: each activation has passed
// through fewer rounded layers than the features that tolerance was set
// for, while a wrong layout or a bfloat16 half read as float32 errs by
// 100% or more.
func TestActivationsAgree(t *testing.T) {
	cfg := graph.DefaultConfig()
	cfg.Batch = 16
	images, labels := mnistBatch(t, cfg.Batch)
	cfg.Backend = im2col()
	want := activations(t, cfg, images, labels)
	cfg.Backend = graph.Auto
	for _, c := range []struct {
		name      string
		stock     bool
		precision graph.Precision
		tol       float64
	}{{"oneDNN-f32", false, graph.F32, 2e-4}, {"oneDNN-bf16", false, graph.BF16, 0.04}, {"stock", true, graph.F32, 2e-4}} {
		t.Run(c.name, func(t *testing.T) {
			cfg.Stock, cfg.Precision = c.stock, c.precision
			got := activations(t, cfg, images, labels)
			if got == nil {
				t.Skip("not available here")
			}
			for _, name := range activationNames {
				if !got[name].Shape().Eq(want[name].Shape()) {
					t.Errorf("%s: shape %v, im2col's %v", name, got[name].Shape(), want[name].Shape())
					continue
				}
				closeTo(t, name, got[name], want[name], c.tol)
			}
		})
	}
}

// TestGradientThroughStockOps differentiates a cost made of gorgonia's own
// ops on the trunk's output alone, its dot product with fixed weights, on
// oneDNN's primitives and on the im2col kernels: the gradient of every
// parameter of the trunk agrees. The output gradient is then the weights
// themselves, which do not depend on the forward pass.
func TestGradientThroughStockOps(t *testing.T) {
	cfg := graph.DefaultConfig()
	cfg.Batch = 4
	images, _ := mnistBatch(t, cfg.Batch)
	var grads [2][]*tensor.Dense
	var names []string
	for k, b := range []graph.Backend{graph.Auto, im2col()} {
		cfg.Backend = b
		net := newNet(t, cfg)
		if net == nil {
			t.Skip("oneDNN's primitives are not available")
		}
		g := net.Input.Graph()
		if err := G.Let(net.Input, images); err != nil {
			t.Fatal(err)
		}
		y := trunkChain(t, net)[0]
		size := y.Shape().TotalSize()
		weights := make([]float32, size)
		for i := range weights {
			weights[i] = float32(math.Sin(0.37 * float64(i)))
		}
		w := G.NewVector(g, tensor.Float32, G.WithShape(size), G.WithValue(tensor.New(tensor.WithShape(size), tensor.WithBacking(weights))))
		cost := G.Must(G.Mul(G.Must(G.Reshape(y, tensor.Shape{size})), w))
		trunk := net.Learnables()[:18] // the convolutions' and PReLUs' parameters
		if _, err := G.Grad(cost, trunk...); err != nil {
			t.Fatal(err)
		}
		m := G.NewTapeMachine(g, G.BindDualValues(trunk...))
		defer m.Close()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		names = names[:0]
		for _, p := range net.Params[:len(trunk)] {
			gv, err := p.Node.Grad()
			if err != nil {
				t.Fatal(err)
			}
			grads[k], names = append(grads[k], gv.(*tensor.Dense).Clone().(*tensor.Dense)), append(names, p.Name)
		}
	}
	for i, name := range names {
		closeTo(t, name+" gradient", grads[0][i], grads[1][i], 2e-4)
	}
}
