// Package graph builds LeNet++, the network of Wen et al.'s center-loss
// paper (ECCV 2016, Table 1), as a gorgonia expression graph.
//
// Six 5×5 convolutions (32, 32, 64, 64, 128, 128 filters, padding 2), each
// followed by a PReLU, with a 2×2 max pool after every pair, then a fully
// connected layer to the D-dimensional deep feature (with PReLU) and a
// classifier D -> 10 without bias. The deep feature is the node center loss
// is attached to; the logits feed softmax cross-entropy.
//
// The layers are custom gorgonia ops, computed by the Backend of the
// Config. Where oneDNN is installed (Auto or OneDNN), the six
// convolutions, their PReLUs and the three poolings of a float32 network
// run as oneDNN primitives, created once per graph, in one op whose value
// is the last pooling's output in float32 NCHW; its gradient is one op
// whose value holds the gradients of all their parameters, and each
// parameter's gradient node is a view of its part. The activations in
// between stay inside, in the layout oneDNN's convolutions prefer
// (nChw16c on AVX-512, NHWC for bfloat16 on AMX); Config.Precision BF16
// runs them in bfloat16. Net.Activation reads any activation as NCHW,
// whatever computes it. No primitive runs oneDNN's reference loop: where
// oneDNN offers only that for some layout or type, the plan takes
// another, and Net.Kernels names the choice; where it offers only that
// for a layer, Auto runs this package's own kernels and OneDNN fails. The
// other backends (and float64 networks) run this package's own ops:
// Conv2d (im2col and BLAS products), PReLU and MaxPool2x2, which reuse
// their buffers from step to step and split a batch over the cores, on
// oneDNN's sgemm, OpenBLAS or gonum's pure-Go BLAS. Linear and
// SoftmaxCrossEntropy are always this package's. Net.Kernels says what
// ran and why, Net.BLAS which BLAS. Config.Stock builds the same network
// from gorgonia's own ops instead, which the tests use as the reference.
// The package reads no environment variable: the commands turn theirs
// into a Config.
package graph

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/internal/blas"
)

// Input size of LeNet++: one 28×28 grey-scale image.
const (
	Rows = 28
	Cols = 28
)

// Config describes a LeNet++ graph.
type Config struct {
	Batch          int          // images per run of the graph (fixed per graph)
	Dim            int          // size of the deep feature; 2 in the paper
	Classes        int          // number of classes; 10 for MNIST
	Dtype          tensor.Dtype // tensor.Float32 or tensor.Float64
	Seed           uint64       // seed of the weight initialisation
	ClassifierBias bool         // give the classifier a bias (the paper's has none)
	Stock          bool         // build from gorgonia's stock ops (slow; the reference for tests)
	// Backend computes the convolutions, PReLUs and poolings ("" is
	// Auto); float64 networks always run this package's im2col kernels.
	Backend Backend
	// Precision of the convolutional trunk: F32 (or "") or BF16.
	Precision Precision
	// OneDNN is the oneDNN library to open, a soname or a path ("": the
	// default ones, see internal/onednn). A process uses one oneDNN: the
	// first network built with oneDNN decides which.
	OneDNN string
}

// Precision is the arithmetic of LeNet++'s convolutional trunk.
type Precision string

// Precisions.
const (
	// F32 computes everything in float32 (the default).
	F32 Precision = "f32"
	// BF16 runs the convolutions, PReLUs and poolings in bfloat16 on
	// oneDNN's primitives. It needs bfloat16 units (AVX512_BF16 or AMX);
	// whether it is faster than float32 depends on the CPU, which
	// TimePass measures. The parameters, their gradients and everything
	// after the trunk stay float32: the deep features, logits, losses and
	// the solver see float32 numbers.
	BF16 Precision = "bf16"
)

// Available reports why p cannot run on this machine, or nil when it can:
// bf16 needs oneDNN and a CPU with bfloat16 units. It asks the oneDNN this
// process has opened, or the default one; Config.Available asks the one a
// Config names.
func (p Precision) Available() error {
	if p != BF16 {
		return nil
	}
	return bf16Available()
}

// ParsePrecision reads "f32" or "bf16".
func ParsePrecision(s string) (Precision, error) {
	switch p := Precision(s); p {
	case F32, BF16:
		return p, nil
	}
	return "", fmt.Errorf("precision %q: want f32 or bf16", s)
}

// DefaultConfig is LeNet++ as in the paper: 2-D features, 10 classes,
// float32, batch 64.
func DefaultConfig() Config {
	return Config{Batch: 64, Dim: 2, Classes: 10, Dtype: tensor.Float32, Seed: 1}
}

func (c Config) validate() error {
	switch {
	case c.Batch < 1:
		return fmt.Errorf("graph: batch size %d must be at least 1", c.Batch)
	case c.Dim < 1:
		return fmt.Errorf("graph: feature dimension %d must be at least 1", c.Dim)
	case c.Classes < 2:
		return fmt.Errorf("graph: %d classes; need at least 2", c.Classes)
	case c.Dtype != tensor.Float32 && c.Dtype != tensor.Float64:
		return fmt.Errorf("graph: dtype %v; want float32 or float64", c.Dtype)
	case c.Precision != "" && c.Precision != F32 && c.Precision != BF16:
		return fmt.Errorf("graph: precision %q; want f32 or bf16", c.Precision)
	case c.Precision == BF16 && (c.Dtype != tensor.Float32 || c.Stock || c.backend() != Auto && c.backend() != OneDNN):
		return fmt.Errorf("graph: bf16 precision needs a float32 network on oneDNN's primitives (not Stock or backend %s)", c.backend())
	}
	if _, err := ParseBackend(string(c.Backend)); err != nil {
		return fmt.Errorf("graph: %w", err)
	}
	return nil
}

// Param is one learnable tensor of the network.
type Param struct {
	// Name is the tensor's key in the state_dict of the equivalent PyTorch
	// module (conv1_1.weight, prelu1_1.weight, fc1.bias, ...); the layout
	// is PyTorch's too: conv weights (out, in, 5, 5), linear weights (out, in).
	Name string
	Node *G.Node
	// Decay says whether L2 weight decay belongs on the parameter: true
	// for the convolution and linear weights, false for biases and PReLU
	// slopes (decaying a slope would pull its PReLU toward a plain ReLU).
	Decay bool
}

// Net is LeNet++ in a gorgonia graph.
type Net struct {
	Config
	Input    *G.Node // (Batch, 1, 28, 28) images; bind a value with gorgonia.Let
	Features *G.Node // (Batch, Dim) deep features, after the PReLU
	Logits   *G.Node // (Batch, Classes)
	Params   []Param // every learnable tensor, in a fixed order

	kernels string
	acts    map[string]*G.Node                       // the activations that nodes hold, by Activation's names
	read    func(name string) (*tensor.Dense, error) // the others, which the oneDNN trunk holds
	blas    *blas.Implementation
}

// Kernels says what computes the network's convolutions, PReLUs and
// poolings: oneDNN's primitives with the kernels and layout they chose, or
// this package's im2col kernels and why.
func (n *Net) Kernels() string { return n.kernels }

// BLAS names the BLAS of the network's own kernels: the linear layers,
// and the trunk where it does not run on oneDNN's primitives.
func (n *Net) BLAS() string {
	if n.blas == nil {
		return blas.Default().Name()
	}
	return n.blas.Name()
}

// Learnables returns the nodes of all parameters, in the order of Params.
func (n *Net) Learnables() G.Nodes {
	nodes := make(G.Nodes, len(n.Params))
	for i, p := range n.Params {
		nodes[i] = p.Node
	}
	return nodes
}

// New builds LeNet++ in g with freshly initialised weights drawn from
// cfg.Seed: conv and linear weights from Caffe's Xavier filler (uniform in
// ±sqrt(3/fan_in)), as the authors' caffe-face does, biases 0, PReLU slopes
// 0.25.
func New(g *G.ExprGraph, cfg Config) (*Net, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	values := make(map[string]*tensor.Dense)
	for _, s := range specs(cfg) {
		t := tensor.New(tensor.Of(cfg.Dtype), tensor.WithShape(s.shape...))
		switch s.init {
		case initXavier:
			fanIn := s.shape.TotalSize() / s.shape[0]
			lim := math.Sqrt(3 / float64(fanIn))
			fill(t, func() float64 { return (2*rng.Float64() - 1) * lim })
		case initSlope:
			fill(t, func() float64 { return slope })
		}
		values[s.name] = t
	}
	return build(g, cfg, values)
}

// Clone builds the same network in another graph g, for another batch size,
// sharing n's parameter tensors: what training changes, the clone sees. Use it
// for evaluation, whose graph must not touch the training gradients.
func (n *Net) Clone(g *G.ExprGraph, batch int) (*Net, error) {
	cfg := n.Config
	cfg.Batch = batch
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	values := make(map[string]*tensor.Dense, len(n.Params))
	for _, p := range n.Params {
		t, ok := p.Node.Value().(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("graph: parameter %s has no dense value", p.Name)
		}
		values[p.Name] = t
	}
	return build(g, cfg, values)
}

func fill(t *tensor.Dense, f func() float64) {
	switch d := t.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(f())
		}
	case []float64:
		for i := range d {
			d[i] = f()
		}
	}
}

// slope is the initial PReLU slope, as in Caffe and PyTorch.
const slope = 0.25

type initKind int

const (
	initZero initKind = iota
	initXavier
	initSlope
)

type spec struct {
	name  string
	shape tensor.Shape
	init  initKind
}

// convLayers names the six convolutions and their output channels.
var convLayers = []struct {
	name string
	out  int
}{{"1_1", 32}, {"1_2", 32}, {"2_1", 64}, {"2_2", 64}, {"3_1", 128}, {"3_2", 128}}

// flat is the size of the last pooled map, 128×3×3.
const flat = 128 * 3 * 3

// specs lists the parameters of LeNet++ in order.
func specs(cfg Config) []spec {
	var s []spec
	in := 1
	for _, l := range convLayers {
		s = append(s,
			spec{"conv" + l.name + ".weight", tensor.Shape{l.out, in, 5, 5}, initXavier},
			spec{"conv" + l.name + ".bias", tensor.Shape{l.out}, initZero},
			spec{"prelu" + l.name + ".weight", tensor.Shape{l.out}, initSlope})
		in = l.out
	}
	s = append(s,
		spec{"fc1.weight", tensor.Shape{cfg.Dim, flat}, initXavier},
		spec{"fc1.bias", tensor.Shape{cfg.Dim}, initZero},
		spec{"prelu_fc1.weight", tensor.Shape{cfg.Dim}, initSlope},
		spec{"fc2.weight", tensor.Shape{cfg.Classes, cfg.Dim}, initXavier})
	if cfg.ClassifierBias {
		s = append(s, spec{"fc2.bias", tensor.Shape{cfg.Classes}, initZero})
	}
	return s
}

// layers are the building blocks; fast and stock versions share build.
// Where trunk is set, it computes the six convolutions, their PReLUs and
// the three poolings in one op from the images and the trunk's parameters
// (in the order of Net.Params), conv and pool are unused, and activation
// reads the activations that op keeps to itself. Where keep is set,
// Activation reads its copies of the activation nodes.
type layers struct {
	conv       func(x, w, b *G.Node) (*G.Node, error)
	prelu      func(x, a *G.Node) (*G.Node, error)
	pool       func(x *G.Node) (*G.Node, error)
	fc         func(x, w, b *G.Node) (*G.Node, error)
	trunk      func(x *G.Node, params G.Nodes) (*G.Node, error)
	activation func(name string) (*tensor.Dense, error)
	keep       func(x *G.Node) (*G.Node, error)
}

// poolName names pooling i (from 0) as Net.Activation does.
func poolName(i int) string { return fmt.Sprintf("pool%d", i+1) }

// activationNames are the names of Net.Activation, in the network's order.
func activationNames() []string {
	var names []string
	for i, l := range convLayers {
		names = append(names, "conv"+l.name, "prelu"+l.name)
		if i%2 == 1 {
			names = append(names, poolName(i/2))
		}
	}
	return append(names, "fc1", "prelu_fc1", "fc2")
}

// errNoForward is Activation's error before the first forward pass.
var errNoForward = errors.New("no forward pass has run yet")

// Activation returns a copy of one of the network's activations from the
// last forward pass: "conv1_1" (the first convolution's output, bias
// included), "prelu1_1" (its PReLU's), "conv1_2", "prelu1_2", "pool1",
// and so on to "pool3", each (Batch, C, H, W) in NCHW order; then "fc1"
// (the deep feature before its PReLU), "prelu_fc1" (the deep feature, as
// Features) and "fc2" (the logits), each (Batch, D). The names are those
// of the layers' parameters. The copy has the network's Dtype on every
// set of kernels (float32 also for a bfloat16 trunk, whose activations it
// converts). An unknown name, or a network that has not run forward yet,
// is an error.
//
// Where the activation is a node's value (on the im2col kernels, and
// past the oneDNN trunk from pool3 on), it is what the machine left in
// it: a gorgonia op of your own that reads such a node last may overwrite
// its value in place during the run.
func (n *Net) Activation(name string) (*tensor.Dense, error) {
	if node, ok := n.acts[name]; ok {
		v, ok := node.Value().(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("graph: activation %s: %w", name, errNoForward)
		}
		return v.Clone().(*tensor.Dense), nil
	}
	if slices.Contains(activationNames(), name) && n.read != nil {
		t, err := n.read(name)
		if err != nil {
			return nil, fmt.Errorf("graph: activation %s: %w", name, err)
		}
		return t, nil
	}
	return nil, fmt.Errorf("graph: no activation %q; the activations are %s", name, strings.Join(activationNames(), ", "))
}

func build(g *G.ExprGraph, cfg Config, values map[string]*tensor.Dense) (*Net, error) {
	net := &Net{Config: cfg}
	decays := make(map[string]bool)
	for _, s := range specs(cfg) {
		decays[s.name] = s.init == initXavier // the weights, not biases or slopes
	}
	param := func(name string) (*G.Node, error) {
		t, ok := values[name]
		if !ok {
			return nil, fmt.Errorf("graph: no value for parameter %s", name)
		}
		n := G.NewTensor(g, cfg.Dtype, t.Dims(), G.WithShape(t.Shape()...), G.WithName(name), G.WithValue(t))
		net.Params = append(net.Params, Param{Name: name, Node: n, Decay: decays[name]})
		return n, nil
	}
	im2col := func(bl *blas.Implementation) layers {
		work := &convWork{blas: bl} // shared by this network's convolutions
		return layers{
			conv: func(x, w, b *G.Node) (*G.Node, error) {
				return conv2d(x, w, b, 2, x != net.Input, work)
			},
			prelu: PReLU,
			pool:  MaxPool2x2,
			fc:    linear{bl}.apply,
		}
	}
	ly, impl, kernels, err := cfg.trunk(im2col)
	if err != nil {
		return nil, err
	}
	net.blas, net.kernels = impl, kernels

	net.Input = G.NewTensor(g, cfg.Dtype, 4, G.WithShape(cfg.Batch, 1, Rows, Cols), G.WithName("input"))
	net.acts, net.read = map[string]*G.Node{}, ly.activation
	x := net.Input
	var trunk G.Nodes // the trunk's parameters, for ly.trunk
	for i, l := range convLayers {
		w, err := param("conv" + l.name + ".weight")
		if err != nil {
			return nil, err
		}
		b, err := param("conv" + l.name + ".bias")
		if err != nil {
			return nil, err
		}
		a, err := param("prelu" + l.name + ".weight")
		if err != nil {
			return nil, err
		}
		if ly.trunk != nil {
			trunk = append(trunk, w, b, a)
			continue
		}
		if x, err = ly.conv(x, w, b); err != nil {
			return nil, fmt.Errorf("graph: conv%s: %w", l.name, err)
		}
		net.acts["conv"+l.name] = x
		if x, err = ly.prelu(x, a); err != nil {
			return nil, fmt.Errorf("graph: prelu%s: %w", l.name, err)
		}
		net.acts["prelu"+l.name] = x
		if i%2 == 1 {
			if x, err = ly.pool(x); err != nil {
				return nil, fmt.Errorf("graph: %s: %w", poolName(i/2), err)
			}
			net.acts[poolName(i/2)] = x
		}
	}
	if ly.trunk != nil {
		if x, err = ly.trunk(x, trunk); err != nil {
			return nil, fmt.Errorf("graph: the oneDNN trunk: %w", err)
		}
		net.acts[poolName(len(convLayers)/2-1)] = x
	}
	w1, err1 := param("fc1.weight")
	b1, err2 := param("fc1.bias")
	a1, err3 := param("prelu_fc1.weight")
	w2, err4 := param("fc2.weight")
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, err
	}
	var b2 *G.Node
	if cfg.ClassifierBias {
		if b2, err = param("fc2.bias"); err != nil {
			return nil, err
		}
	}
	if x, err = ly.fc(x, w1, b1); err != nil {
		return nil, fmt.Errorf("graph: fc1: %w", err)
	}
	if net.Features, err = ly.prelu(x, a1); err != nil {
		return nil, fmt.Errorf("graph: prelu_fc1: %w", err)
	}
	if net.Logits, err = ly.fc(net.Features, w2, b2); err != nil {
		return nil, fmt.Errorf("graph: fc2: %w", err)
	}
	net.acts["fc1"], net.acts["prelu_fc1"], net.acts["fc2"] = x, net.Features, net.Logits
	if ly.keep != nil {
		for _, name := range activationNames() {
			if net.acts[name], err = ly.keep(net.acts[name]); err != nil {
				return nil, fmt.Errorf("graph: %s: %w", name, err)
			}
		}
	}
	return net, nil
}
