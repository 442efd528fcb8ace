package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Linear is a fully connected layer, y = x·wᵀ + b, with w stored (out, in)
// as in PyTorch's nn.Linear. x is (N, ...) and is read as (N, in), like
// Caffe's InnerProduct, so a pooled (N,C,H,W) map needs no reshape node.
// b may be nil for a layer without bias.
func Linear(x, w, b *G.Node) (*G.Node, error) {
	if w.Dims() != 2 {
		return nil, fmt.Errorf("Linear: weight must be (out, in), got shape %v", w.Shape())
	}
	if x.Dims() < 2 {
		return nil, fmt.Errorf("Linear: input must be (N, ...), got shape %v", x.Shape())
	}
	if b == nil {
		return G.ApplyOp(&linearOp{xDims: x.Dims()}, x, w)
	}
	return G.ApplyOp(&linearOp{xDims: x.Dims(), bias: true}, x, w, b)
}

type linearOp struct {
	opBase
	xDims int // rank of x, which the op's type needs
	bias  bool
	out   buffer
}

func (op *linearOp) Arity() int {
	if op.bias {
		return 3
	}
	return 2
}
func (op *linearOp) Type() hm.Type {
	t := hm.TypeVariable('t')
	x := tensorType(op.xDims, t)
	if op.bias {
		return hm.NewFnType(x, tensorType(2, t), tensorType(1, t), tensorType(2, t))
	}
	return hm.NewFnType(x, tensorType(2, t), tensorType(2, t))
}
func (op *linearOp) String() string {
	return fmt.Sprintf("Linear{xDims=%d,bias=%t}", op.xDims, op.bias)
}
func (op *linearOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *linearOp) Hashcode() uint32      { return hashcode(op) }
func (op *linearOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}
func (op *linearOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("%v: expected %d inputs, got %d", op, op.Arity(), len(in))
	}
	xs, err := shapeOf(op, in[0])
	if err != nil {
		return nil, err
	}
	ws, err := shapeOf(op, in[1])
	if err != nil {
		return nil, err
	}
	if len(xs) < 2 || len(ws) != 2 || xs.TotalSize()/xs[0] != ws[1] {
		return nil, fmt.Errorf("%v: input %v does not fit weight %v", op, xs, ws)
	}
	return tensor.Shape{xs[0], ws[0]}, nil
}

// linearArgs validates x, w and dy (dy may be nil) and returns N, in and out.
func linearArgs(op fmt.Stringer, xv, wv G.Value) (x, w *tensor.Dense, n, in, out int, err error) {
	if x, err = dense(op, "input", xv, -1); err != nil {
		return
	}
	if w, err = dense(op, "weight", wv, 2); err != nil {
		return
	}
	if err = sameDtype(op, x, w); err != nil {
		return
	}
	xs, ws := x.Shape(), w.Shape()
	if len(xs) < 2 || xs.TotalSize()/xs[0] != ws[1] {
		err = fmt.Errorf("%v: input %v does not fit weight %v", op, xs, ws)
		return
	}
	return x, w, xs[0], ws[1], ws[0], nil
}

func (op *linearOp) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	x, w, n, k, m, err := linearArgs(op, in[0], in[1])
	if err != nil {
		return nil, err
	}
	var b *tensor.Dense
	if op.bias {
		if b, err = dense(op, "bias", in[2], 1); err != nil {
			return nil, err
		}
		if b.Dtype() != x.Dtype() || b.Shape()[0] != m {
			return nil, fmt.Errorf("%v: bias %v %v does not fit %d outputs", op, b.Dtype(), b.Shape(), m)
		}
	}
	y := op.out.get(x.Dtype(), n, m)
	if x.Dtype() == tensor.Float32 {
		linearForward(n, k, m, data[float32](x), data[float32](w), biasData[float32](b), data[float32](y))
	} else {
		linearForward(n, k, m, data[float64](x), data[float64](w), biasData[float64](b), data[float64](y))
	}
	return y, nil
}

func biasData[T Float](b *tensor.Dense) []T {
	if b == nil {
		return nil
	}
	return data[T](b)
}

func linearForward[T Float](n, k, m int, x, w, b, y []T) {
	if b == nil {
		clear(y)
	} else {
		for i := 0; i < n; i++ {
			copy(y[i*m:(i+1)*m], b)
		}
	}
	gemm(false, true, n, m, k, x, k, w, k, 1, y, m)
}

func (op *linearOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("%v: expected %d inputs, got %d", op, op.Arity(), len(in))
	}
	dx, err := G.ApplyOp(&linearGrad{xDims: op.xDims, wrt: 0}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(&linearGrad{xDims: op.xDims, wrt: 1}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	if !op.bias {
		return G.Nodes{dx, dw}, nil
	}
	db, err := G.ApplyOp(&linearGrad{xDims: op.xDims, wrt: 2}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw, db}, nil
}

// linearGrad computes, from (x, w, dy), dL/dx = dy·w (wrt 0), dL/dw = dyᵀ·x
// (wrt 1) or dL/db = the column sums of dy (wrt 2).
type linearGrad struct {
	opBase
	xDims, wrt int
	out        buffer
}

func (op *linearGrad) Arity() int { return 3 }
func (op *linearGrad) Type() hm.Type {
	t := hm.TypeVariable('t')
	x, w := tensorType(op.xDims, t), tensorType(2, t)
	switch op.wrt {
	case 0:
		return hm.NewFnType(x, w, w, x)
	case 1:
		return hm.NewFnType(x, w, w, w)
	}
	return hm.NewFnType(x, w, w, tensorType(1, t))
}
func (op *linearGrad) String() string {
	return fmt.Sprintf("LinearGrad{xDims=%d,wrt=%d}", op.xDims, op.wrt)
}
func (op *linearGrad) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *linearGrad) Hashcode() uint32      { return hashcode(op) }
func (op *linearGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: expected 3 inputs, got %d", op, len(in))
	}
	if op.wrt == 2 {
		ws, err := shapeOf(op, in[1])
		if err != nil || len(ws) != 2 {
			return nil, fmt.Errorf("%v: weight must be (out, in), got %v", op, in[1])
		}
		return tensor.Shape{ws[0]}, nil
	}
	s, err := shapeOf(op, in[op.wrt])
	return s.Clone(), err
}

func (op *linearGrad) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	x, w, n, k, m, err := linearArgs(op, in[0], in[1])
	if err != nil {
		return nil, err
	}
	dy, err := dense(op, "output gradient", in[2], 2)
	if err != nil {
		return nil, err
	}
	if !dy.Shape().Eq(tensor.Shape{n, m}) || dy.Dtype() != x.Dtype() {
		return nil, fmt.Errorf("%v: output gradient %v %v, want %v %v", op, dy.Dtype(), dy.Shape(), x.Dtype(), tensor.Shape{n, m})
	}
	var shape tensor.Shape
	switch op.wrt {
	case 0:
		shape = x.Shape()
	case 1:
		shape = w.Shape()
	default:
		shape = tensor.Shape{m}
	}
	g := op.out.get(x.Dtype(), shape...)
	if x.Dtype() == tensor.Float32 {
		linearBackward(op.wrt, n, k, m, data[float32](x), data[float32](w), data[float32](dy), data[float32](g))
	} else {
		linearBackward(op.wrt, n, k, m, data[float64](x), data[float64](w), data[float64](dy), data[float64](g))
	}
	return g, nil
}

func linearBackward[T Float](wrt, n, k, m int, x, w, dy, g []T) {
	switch wrt {
	case 0:
		gemm(false, false, n, k, m, dy, m, w, k, 0, g, k)
	case 1:
		gemm(true, false, m, k, n, dy, m, x, k, 0, g, k)
	default:
		clear(g)
		for i := 0; i < n; i++ {
			for j, v := range dy[i*m : (i+1)*m] {
				g[j] += v
			}
		}
	}
}
