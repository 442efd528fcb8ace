package graph

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/internal/blas"
)

// Linear is a fully connected layer, y = x·wᵀ + b, with w stored (out, in)
// as in PyTorch's nn.Linear. x is (N, ...) and is read as (N, in), like
// Caffe's InnerProduct, so a pooled (N,C,H,W) map needs no reshape node.
// b may be nil for a layer without bias.
func Linear(x, w, b *G.Node) (*G.Node, error) { return linear{}.apply(x, w, b) }

// linear is a fully connected layer whose products run in blas (nil:
// blas.Default).
type linear struct{ blas *blas.Implementation }

func (l linear) apply(x, w, b *G.Node) (*G.Node, error) {
	if w.Dims() != 2 {
		return nil, fmt.Errorf("Linear: weight must be (out, in), got shape %v", w.Shape())
	}
	if x.Dims() < 2 {
		return nil, fmt.Errorf("Linear: input must be (N, ...), got shape %v", x.Shape())
	}
	t := hm.TypeVariable('t')
	xt := tensorType(x.Dims(), t)
	op := &kernel{name: fmt.Sprintf("Linear{xDims=%d,bias=%t}", x.Dims(), b != nil), arity: 2,
		typ: hm.NewFnType(xt, tensorType(2, t), tensorType(2, t)), shape: linearShape, do: l.do, diff: l.diff}
	in := G.Nodes{x, w}
	if b != nil {
		op.arity, op.typ = 3, hm.NewFnType(xt, tensorType(2, t), tensorType(1, t), tensorType(2, t))
		in = append(in, b)
	}
	op.wrt = make([]bool, op.arity)
	for i := range op.wrt {
		op.wrt[i] = true
	}
	return G.ApplyOp(op, in...)
}

func linearShape(op *kernel, in []tensor.Shape) (tensor.Shape, error) {
	xs, ws := in[0], in[1]
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

func (l linear) do(op *kernel, in []G.Value) (G.Value, error) {
	x, w, n, k, m, err := linearArgs(op, in[0], in[1])
	if err != nil {
		return nil, err
	}
	var b *tensor.Dense
	if len(in) == 3 {
		if b, err = dense(op, "bias", in[2], 1); err != nil {
			return nil, err
		}
		if b.Dtype() != x.Dtype() || b.Shape()[0] != m {
			return nil, fmt.Errorf("%v: bias %v %v does not fit %d outputs", op, b.Dtype(), b.Shape(), m)
		}
	}
	y := op.out.get(x.Dtype(), n, m)
	if x.Dtype() == tensor.Float32 {
		linearForward(l.blas, n, k, m, data[float32](x), data[float32](w), biasData[float32](b), data[float32](y))
	} else {
		linearForward(l.blas, n, k, m, data[float64](x), data[float64](w), biasData[float64](b), data[float64](y))
	}
	return y, nil
}

func biasData[T Float](b *tensor.Dense) []T {
	if b == nil {
		return nil
	}
	return data[T](b)
}

func linearForward[T Float](bl *blas.Implementation, n, k, m int, x, w, b, y []T) {
	if b == nil {
		clear(y)
	} else {
		for i := 0; i < n; i++ {
			copy(y[i*m:(i+1)*m], b)
		}
	}
	gemm(bl, false, true, n, m, k, x, k, w, k, 1, y, m)
}

// diff builds, from (x, w, dy), dL/dx = dy·w, dL/dw = dyᵀ·x and, with
// a bias, dL/db = the column sums of dy.
func (l linear) diff(op *kernel, in G.Nodes, grad *G.Node) (G.Nodes, error) {
	xDims := in[0].Dims()
	t := hm.TypeVariable('t')
	x, w := tensorType(xDims, t), tensorType(2, t)
	var out G.Nodes
	for wrt, typ := range []hm.Type{hm.NewFnType(x, w, w, x), hm.NewFnType(x, w, w, w), hm.NewFnType(x, w, w, tensorType(1, t))}[:op.arity] {
		g, err := G.ApplyOp(&kernel{name: fmt.Sprintf("LinearGrad{xDims=%d,wrt=%d}", xDims, wrt), typ: typ, arity: 3,
			shape: func(op *kernel, in []tensor.Shape) (tensor.Shape, error) {
				if wrt == 2 {
					if len(in[1]) != 2 {
						return nil, fmt.Errorf("%v: weight must be (out, in), got %v", op, in[1])
					}
					return tensor.Shape{in[1][0]}, nil
				}
				return in[wrt].Clone(), nil
			},
			do: func(op *kernel, in []G.Value) (G.Value, error) { return l.gradDo(op, wrt, in) },
		}, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

func (l linear) gradDo(op *kernel, wrt int, in []G.Value) (G.Value, error) {
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
	switch wrt {
	case 0:
		shape = x.Shape()
	case 1:
		shape = w.Shape()
	default:
		shape = tensor.Shape{m}
	}
	g := op.out.get(x.Dtype(), shape...)
	if x.Dtype() == tensor.Float32 {
		linearBackward(l.blas, wrt, n, k, m, data[float32](x), data[float32](w), data[float32](dy), data[float32](g))
	} else {
		linearBackward(l.blas, wrt, n, k, m, data[float64](x), data[float64](w), data[float64](dy), data[float64](g))
	}
	return g, nil
}

func linearBackward[T Float](bl *blas.Implementation, wrt, n, k, m int, x, w, dy, g []T) {
	switch wrt {
	case 0:
		gemm(bl, false, false, n, k, m, dy, m, w, k, 0, g, k)
	case 1:
		gemm(bl, true, false, m, k, n, dy, m, x, k, 0, g, k)
	default:
		clear(g)
		for i := 0; i < n; i++ {
			for j, v := range dy[i*m : (i+1)*m] {
				g[j] += v
			}
		}
	}
}
