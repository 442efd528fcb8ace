package graph

import (
	"fmt"

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
	return G.ApplyOp(&kernel{name: "PReLU", typ: preluType(false), arity: 2,
		shape: shapeOfInput(0), do: preluDo, wrt: []bool{true, true}, diff: preluDiff}, x, a)
}

// preluType is the type of PReLU's ops: (x, a) -> x, or with grad,
// (x, a, dy) -> x.
func preluType(grad bool) hm.Type {
	a, t := hm.TypeVariable('a'), hm.TypeVariable('t')
	if grad {
		return hm.NewFnType(a, tensorType(1, t), a, a)
	}
	return hm.NewFnType(a, tensorType(1, t), a)
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

func preluDo(op *kernel, in []G.Value) (G.Value, error) {
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

func preluDiff(_ *kernel, in G.Nodes, grad *G.Node) (G.Nodes, error) {
	// dL/dx = dy where x > 0, a_c·dy elsewhere.
	dx, err := G.ApplyOp(&kernel{name: "PReLUGradInput", typ: preluType(true), arity: 3,
		shape: shapeOfInput(0), do: preluGradInputDo}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	// dL/da_c = sum of dy·x over the entries of channel c where x <= 0.
	var parts scratch
	slopeType := func() hm.Type {
		a, t := hm.TypeVariable('a'), hm.TypeVariable('t')
		return hm.NewFnType(a, tensorType(1, t), a, tensorType(1, t))
	}
	da, err := G.ApplyOp(&kernel{name: "PReLUGradSlope", typ: slopeType(), arity: 3, shape: shapeOfInput(1),
		do: func(op *kernel, in []G.Value) (G.Value, error) { return preluGradSlopeDo(op, in, &parts) }}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, da}, nil
}

// preluGradArgs validates the (x, a, dy) inputs of the gradient ops.
func preluGradArgs(op G.Op, in []G.Value) (x, a, dy *tensor.Dense, n, c, plane int, err error) {
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

func preluGradInputDo(op *kernel, in []G.Value) (G.Value, error) {
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

func preluGradSlopeDo(op *kernel, in []G.Value, parts *scratch) (G.Value, error) {
	x, _, dy, n, c, plane, err := preluGradArgs(op, in)
	if err != nil {
		return nil, err
	}
	da := op.out.get(x.Dtype(), c)
	if x.Dtype() == tensor.Float32 {
		preluSlopeGrad(n, c, plane, data[float32](x), data[float32](dy), data[float32](da), parts)
	} else {
		preluSlopeGrad(n, c, plane, data[float64](x), data[float64](dy), data[float64](da), parts)
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
