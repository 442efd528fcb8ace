package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// PReLU applies the parametric ReLU of He et al. (2015): y = x where x > 0
// and a_c·x elsewhere, with one learnable slope a_c per channel (axis 1 of x,
// which is (N,C,...)); a has shape (C). Gorgonia has no such op, and
// composing one from stock ops costs several passes over the data.
func PReLU(x, a *G.Node) (*G.Node, error) {
	if x.Dims() < 2 {
		return nil, fmt.Errorf("PReLU: input must be (N,C,...), got shape %v", x.Shape())
	}
	return G.ApplyOp(&preluOp{}, x, a)
}

type preluOp struct {
	opBase
	out buffer
}

func (op *preluOp) Arity() int { return 2 }
func (op *preluOp) Type() hm.Type {
	a, t := hm.TypeVariable('a'), hm.TypeVariable('t')
	return hm.NewFnType(a, tensorType(1, t), a)
}
func (op *preluOp) String() string        { return "PReLU" }
func (op *preluOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *preluOp) Hashcode() uint32      { return hashcode(op) }
func (op *preluOp) DiffWRT(int) []bool    { return []bool{true, true} }
func (op *preluOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: expected 2 inputs, got %d", op, len(in))
	}
	s, err := shapeOf(op, in[0])
	return s.Clone(), err
}

// preluArgs validates x (N,C,...) and a (C) and returns N, C and the size
// of one channel plane.
func preluArgs(op fmt.Stringer, xv, av G.Value) (x, a *tensor.Dense, n, c, plane int, err error) {
	if x, err = dense(op, "input", xv, -1); err != nil {
		return
	}
	if a, err = dense(op, "slope", av, 1); err != nil {
		return
	}
	if err = sameDtype(op, x, a); err != nil {
		return
	}
	s := x.Shape()
	if len(s) < 2 {
		err = fmt.Errorf("%v: input must be (N,C,...), got shape %v", op, s)
		return
	}
	n, c = s[0], s[1]
	if a.Shape()[0] != c {
		err = fmt.Errorf("%v: %d slopes for %d channels", op, a.Shape()[0], c)
		return
	}
	plane = s.TotalSize() / (n * c)
	return
}

func (op *preluOp) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	x, a, n, c, plane, err := preluArgs(op, in[0], in[1])
	if err != nil {
		return nil, err
	}
	y := op.out.get(x.Dtype(), x.Shape()...)
	if x.Dtype() == tensor.Float32 {
		preluForward(n, c, plane, data[float32](x), data[float32](a), data[float32](y))
	} else {
		preluForward(n, c, plane, data[float64](x), data[float64](a), data[float64](y))
	}
	return y, nil
}

func preluForward[T Float](n, c, plane int, x, a, y []T) {
	parallel(n, elementWorkers(n, n*c*plane), func(_, lo, hi int) {
		for i := lo * c; i < hi*c; i++ {
			s := a[i%c]
			xs, ys := x[i*plane:(i+1)*plane], y[i*plane:(i+1)*plane]
			for j, v := range xs {
				if v > 0 {
					ys[j] = v
				} else {
					ys[j] = s * v
				}
			}
		}
	})
}

func (op *preluOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: expected 2 inputs, got %d", op, len(in))
	}
	dx, err := G.ApplyOp(&preluGradInput{}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	da, err := G.ApplyOp(&preluGradSlope{}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, da}, nil
}

// preluGradArgs validates the (x, a, dy) inputs of the gradient ops.
func preluGradArgs(op G.Op, in []G.Value) (x, a, dy *tensor.Dense, n, c, plane int, err error) {
	if err = checkArity(op, len(in)); err != nil {
		return
	}
	if x, a, n, c, plane, err = preluArgs(op, in[0], in[1]); err != nil {
		return
	}
	if dy, err = dense(op, "output gradient", in[2], -1); err != nil {
		return
	}
	if !dy.Shape().Eq(x.Shape()) || dy.Dtype() != x.Dtype() {
		err = fmt.Errorf("%v: output gradient %v %v does not match input %v %v", op, dy.Dtype(), dy.Shape(), x.Dtype(), x.Shape())
	}
	return
}

// preluGradInput computes dL/dx = dy where x > 0, a_c·dy elsewhere.
type preluGradInput struct {
	opBase
	out buffer
}

func (op *preluGradInput) Arity() int { return 3 }
func (op *preluGradInput) Type() hm.Type {
	a, t := hm.TypeVariable('a'), hm.TypeVariable('t')
	return hm.NewFnType(a, tensorType(1, t), a, a)
}
func (op *preluGradInput) String() string        { return "PReLUGradInput" }
func (op *preluGradInput) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *preluGradInput) Hashcode() uint32      { return hashcode(op) }
func (op *preluGradInput) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: expected 3 inputs, got %d", op, len(in))
	}
	s, err := shapeOf(op, in[0])
	return s.Clone(), err
}

func (op *preluGradInput) Do(in ...G.Value) (G.Value, error) {
	x, a, dy, n, c, plane, err := preluGradArgs(op, in)
	if err != nil {
		return nil, err
	}
	dx := op.out.get(x.Dtype(), x.Shape()...)
	if x.Dtype() == tensor.Float32 {
		preluBackward(n, c, plane, data[float32](x), data[float32](a), data[float32](dy), data[float32](dx))
	} else {
		preluBackward(n, c, plane, data[float64](x), data[float64](a), data[float64](dy), data[float64](dx))
	}
	return dx, nil
}

func preluBackward[T Float](n, c, plane int, x, a, dy, dx []T) {
	parallel(n, elementWorkers(n, n*c*plane), func(_, lo, hi int) {
		for i := lo * c; i < hi*c; i++ {
			s := a[i%c]
			xs, dys, dxs := x[i*plane:(i+1)*plane], dy[i*plane:(i+1)*plane], dx[i*plane:(i+1)*plane]
			for j, v := range xs {
				if v > 0 {
					dxs[j] = dys[j]
				} else {
					dxs[j] = s * dys[j]
				}
			}
		}
	})
}

// preluGradSlope computes dL/da_c = sum of dy·x over the entries of channel c
// where x <= 0. It takes a only to know its shape.
type preluGradSlope struct {
	opBase
	out   buffer
	parts scratch
}

func (op *preluGradSlope) Arity() int { return 3 }
func (op *preluGradSlope) Type() hm.Type {
	a, t := hm.TypeVariable('a'), hm.TypeVariable('t')
	return hm.NewFnType(a, tensorType(1, t), a, tensorType(1, t))
}
func (op *preluGradSlope) String() string        { return "PReLUGradSlope" }
func (op *preluGradSlope) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *preluGradSlope) Hashcode() uint32      { return hashcode(op) }
func (op *preluGradSlope) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: expected 3 inputs, got %d", op, len(in))
	}
	s, err := shapeOf(op, in[1])
	return s.Clone(), err
}

func (op *preluGradSlope) Do(in ...G.Value) (G.Value, error) {
	x, _, dy, n, c, plane, err := preluGradArgs(op, in)
	if err != nil {
		return nil, err
	}
	da := op.out.get(x.Dtype(), c)
	if x.Dtype() == tensor.Float32 {
		preluSlopeGrad(n, c, plane, data[float32](x), data[float32](dy), data[float32](da), &op.parts)
	} else {
		preluSlopeGrad(n, c, plane, data[float64](x), data[float64](dy), data[float64](da), &op.parts)
	}
	return da, nil
}

func preluSlopeGrad[T Float](n, c, plane int, x, dy, da []T, s *scratch) {
	p := elementWorkers(n, n*c*plane)
	parts := scratchFor[T](s, p, c)
	for _, part := range parts {
		clear(part)
	}
	parallel(n, p, func(w, lo, hi int) {
		part := parts[w]
		for i := lo * c; i < hi*c; i++ {
			var sum T
			xs, dys := x[i*plane:(i+1)*plane], dy[i*plane:(i+1)*plane]
			for j, v := range xs {
				if v <= 0 {
					sum += v * dys[j]
				}
			}
			part[i%c] += sum
		}
	})
	clear(da)
	for _, part := range parts {
		for j, v := range part {
			da[j] += v
		}
	}
}
