package lab

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/centerloss"
	"github.com/centerloss-go/centerloss/internal/value"
)

// Node is a node of a gorgonia expression graph (gorgonia.Node).
type Node = G.Node

// Nodes is a list of nodes (gorgonia.Nodes).
type Nodes = G.Nodes

// ExprGraph is a gorgonia expression graph (gorgonia.ExprGraph).
type ExprGraph = G.ExprGraph

// Value is the value held by a node: a tensor or a scalar (gorgonia.Value).
type Value = G.Value

// NodeOpt is an option of the node constructors NewMatrix, NewVector and
// NewScalar (gorgonia.NodeConsOpt).
type NodeOpt = G.NodeConsOpt

// MachineOpt is an option of NewTapeMachine (gorgonia.VMOpt).
type MachineOpt = G.VMOpt

// Machine runs a graph (gorgonia.VM): RunAll computes every node, Reset
// prepares a new run, Close releases it.
type Machine = G.VM

// Dense is a dense tensor (tensor.Dense).
type Dense = tensor.Dense

// Tensor is any tensor (tensor.Tensor).
type Tensor = tensor.Tensor

// Dtype is the element type of a tensor or node (tensor.Dtype).
type Dtype = tensor.Dtype

// Element types of tensors and nodes.
var (
	Float64 = tensor.Float64 // float64 elements
	Float32 = tensor.Float32 // float32 elements, what LeNet++ trains in
	Int     = tensor.Int     // int elements, for labels
)

// Centers holds the class centers of center loss (centerloss.Centers): a
// K×D matrix outside any graph, read by CenterLoss each time the graph runs
// and moved by its Update method (the paper's alpha rule, Eq. 4).
type Centers = centerloss.Centers

// NewGraph returns an empty expression graph.
func NewGraph() *ExprGraph { return G.NewGraph() }

// NewMatrix adds a matrix node of element type dt to g; give it a shape with
// WithShape and, for an input or a parameter, a value with WithValue.
func NewMatrix(g *ExprGraph, dt Dtype, opts ...NodeOpt) *Node { return G.NewMatrix(g, dt, opts...) }

// NewVector adds a vector node of element type dt to g.
func NewVector(g *ExprGraph, dt Dtype, opts ...NodeOpt) *Node { return G.NewVector(g, dt, opts...) }

// NewScalar adds a scalar node of element type dt to g.
func NewScalar(g *ExprGraph, dt Dtype, opts ...NodeOpt) *Node { return G.NewScalar(g, dt, opts...) }

// NewConstant adds a constant node holding v (a float64, float32 or a tensor)
// to the graph of the nodes it is combined with.
func NewConstant(v any, opts ...NodeOpt) *Node { return G.NewConstant(v, opts...) }

// WithShape sets the shape of a new node.
func WithShape(shape ...int) NodeOpt { return G.WithShape(shape...) }

// WithName names a new node; the name shows in errors and graph dumps.
func WithName(name string) NodeOpt { return G.WithName(name) }

// WithValue gives a new node its value, a tensor (see Matrix and Labels) or a
// scalar.
func WithValue(v any) NodeOpt { return G.WithValue(v) }

// Must returns n, and panics if err is not nil. It wraps the gorgonia
// operations that return (*Node, error): Must(Mul(x, w)).
func Must(n *Node, err error) *Node { return G.Must(n, err) }

// Mul is the matrix product a·b of two matrix nodes (or the product of a
// scalar and a node).
func Mul(a, b *Node) (*Node, error) { return G.Mul(a, b) }

// Add is the sum a + b of two nodes of the same shape (or a scalar and a
// node).
func Add(a, b *Node) (*Node, error) { return G.Add(a, b) }

// Sub is the difference a − b of two nodes of the same shape.
func Sub(a, b *Node) (*Node, error) { return G.Sub(a, b) }

// AddBias adds the vector node b (length C) to every row of the N×C matrix
// node x: the bias of a linear layer.
func AddBias(x, b *Node) (*Node, error) { return G.BroadcastAdd(x, b, nil, []byte{0}) }

// Grad adds to the graph the gradient of the scalar node cost with respect
// to each of wrt, and returns the gradient nodes. After a run of a machine
// created with BindDualValues(wrt...), wrt[i].Grad() holds the gradient.
func Grad(cost *Node, wrt ...*Node) (Nodes, error) { return G.Grad(cost, wrt...) }

// NewTapeMachine compiles g into a machine that runs it.
//
// A machine may reuse the memory of an intermediate node for later nodes of
// the same run: to read such a node after RunAll, create the machine with
// TraceExec() and WithWatchlist(node, ...).
func NewTapeMachine(g *ExprGraph, opts ...MachineOpt) Machine { return G.NewTapeMachine(g, opts...) }

// BindDualValues makes the machine keep the gradients of the given nodes,
// read afterwards with Node.Grad. Gradients add up from run to run until
// something (a solver step, or ZeroGrads) zeroes them.
func BindDualValues(nodes ...*Node) MachineOpt { return G.BindDualValues(nodes...) }

// TraceExec makes the machine keep a copy of the value of every node in its
// watch list (see WithWatchlist).
func TraceExec() MachineOpt { return G.TraceExec() }

// WithWatchlist names the nodes whose values must still be readable after a
// run; use it with TraceExec.
func WithWatchlist(nodes ...*Node) MachineOpt {
	list := make([]any, len(nodes))
	for i, n := range nodes {
		list[i] = n
	}
	return G.WithWatchlist(list...)
}

// ZeroGrads sets the gradients bound to nodes back to zero, so that the next
// run of the machine does not add to the previous one.
func ZeroGrads(nodes ...*Node) error {
	for _, n := range nodes {
		dv, ok := n.Value().(tensor.Tensor)
		if !ok {
			continue
		}
		g, err := n.Grad()
		if err != nil {
			return fmt.Errorf("lab: gradient of %s: %w", n.Name(), err)
		}
		t, ok := g.(tensor.Tensor)
		if !ok || !t.Shape().Eq(dv.Shape()) {
			return fmt.Errorf("lab: gradient of %s is %T, not a tensor of its shape", n.Name(), g)
		}
		t.Zero()
	}
	return nil
}

// Matrix returns a rows×cols float64 tensor holding data (row-major, which it
// uses, not copies).
func Matrix(rows, cols int, data []float64) *Dense {
	if len(data) != rows*cols {
		panic(fmt.Sprintf("lab: Matrix(%d, %d) with %d values", rows, cols, len(data)))
	}
	return tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(data))
}

// Vector returns a float64 vector tensor holding data (which it uses, not
// copies).
func Vector(data []float64) *Dense {
	return tensor.New(tensor.WithShape(len(data)), tensor.WithBacking(data))
}

// Labels returns a vector tensor of ints holding labels (which it uses, not
// copies): the value of a labels node of CenterLoss.
func Labels(labels []int) *Dense {
	return tensor.New(tensor.WithShape(len(labels)), tensor.WithBacking(labels))
}

// NewCenters returns k centers of dimension d, all zero, stored in dtype dt
// (Float64 or Float32).
func NewCenters(k, d int, dt Dtype) (*Centers, error) { return centerloss.NewCenters(k, d, dt) }

// CenterLoss returns the scalar node
//
//	L_C = 1/(2N) Σ_i ||x_i − c_{y_i}||²
//
// for features, an N×D matrix node, and labels, an Int vector node of length
// N, with the current values of centers (centerloss.Loss). Its gradient with
// respect to x_i is (x_i − c_{y_i})/N; none flows into the labels or the
// centers.
func CenterLoss(features, labels *Node, centers *Centers) (*Node, error) {
	return centerloss.Loss(features, labels, centers)
}

// CenterValues returns a copy of the centers as a row-major K×D slice.
func CenterValues(c *Centers) []float64 { return c.Values() }

// Scalar returns the value of a scalar node (after a run) as a float64; it
// panics if v is not a single float.
func Scalar(v Value) float64 {
	s, err := value.Scalar(v)
	if err != nil {
		panic(fmt.Sprintf("lab: Scalar: %v", err))
	}
	return s
}

// Floats returns a copy of the elements of a float64 or float32 tensor (or
// scalar value) as float64, in row-major order. It panics on other values.
func Floats(v Value) []float64 {
	f, err := value.Floats(v)
	if err != nil {
		panic(fmt.Sprintf("lab: Floats: %v", err))
	}
	return f
}

// Backing returns the live elements of a float64 tensor: writing to the slice
// changes the tensor (FiniteDiff perturbs a parameter this way). It panics if
// v does not hold float64 elements.
func Backing(v Value) []float64 {
	x, ok := v.Data().([]float64)
	if !ok {
		panic(fmt.Sprintf("lab: Backing of %T; want a float64 tensor", v.Data()))
	}
	return x
}

// GradOf returns a copy of the gradient bound to n (see BindDualValues) as
// float64s; it panics if n has none.
func GradOf(n *Node) []float64 {
	g, err := n.Grad()
	if err != nil {
		panic(fmt.Sprintf("lab: gradient of %s: %v", n.Name(), err))
	}
	return Floats(g)
}

// Check panics if err is not nil. In a notebook cell it stops the cell with
// the error.
func Check(err error) {
	if err != nil {
		panic(err)
	}
}
