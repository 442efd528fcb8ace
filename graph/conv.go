package graph

import (
	"fmt"
	"hash"
	"sync"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Conv2d applies a stride-1 convolution with square k×k filters, zero
// padding pad and a per-channel bias: x (N,C,H,W), w (Co,C,k,k), b (Co) give
// (N,Co,H+2pad-k+1,W+2pad-k+1). Unlike gorgonia's stock Conv2d it writes the
// output in NCHW order directly (no transpose copy), reuses its buffers from
// step to step and splits the batch over the cores.
func Conv2d(x, w, b *G.Node, pad int) (*G.Node, error) {
	if w.Dims() != 4 || w.Shape()[2] != w.Shape()[3] {
		return nil, fmt.Errorf("Conv2d: filter must be (Co,C,k,k), got shape %v", w.Shape())
	}
	if pad < 0 {
		return nil, fmt.Errorf("Conv2d: negative padding %d", pad)
	}
	return conv2d(x, w, b, pad, true, new(convWork))
}

// conv2d is Conv2d, optionally without a gradient for x (LeNet++'s images
// need none, and it would be the costliest product of the first layer),
// with its working memory in work.
func conv2d(x, w, b *G.Node, pad int, inputGrad bool, work *convWork) (*G.Node, error) {
	return G.ApplyOp(&convOp{k: w.Shape()[2], pad: pad, inputGrad: inputGrad, work: work}, x, w, b)
}

type convOp struct {
	opBase
	k, pad    int
	inputGrad bool // whether to differentiate with respect to x
	work      *convWork
	out       buffer
}

// convWork is the working memory of the convolutions of one network and
// their gradients: the patch matrices are the largest buffers of a step,
// and the ops of a machine run one at a time, so sharing them saves most
// of the memory they would take. Each network has its own, so networks in
// different goroutines do not wait for each other; the lock guards against
// one network run by two machines at once.
type convWork struct {
	sync.Mutex
	cols, parts scratch
}

func (op *convOp) Arity() int { return 3 }
func (op *convOp) Type() hm.Type {
	t := hm.TypeVariable('a')
	return hm.NewFnType(tensorType(4, t), tensorType(4, t), tensorType(1, t), tensorType(4, t))
}
func (op *convOp) String() string {
	return fmt.Sprintf("Conv2d{k=%d,pad=%d,inputGrad=%t}", op.k, op.pad, op.inputGrad)
}
func (op *convOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *convOp) Hashcode() uint32      { return hashcode(op) }
func (op *convOp) DiffWRT(int) []bool    { return []bool{op.inputGrad, true, true} }

func (op *convOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: expected 3 inputs, got %d", op, len(in))
	}
	xs, err := shapeOf(op, in[0])
	if err != nil {
		return nil, err
	}
	ws, err := shapeOf(op, in[1])
	if err != nil {
		return nil, err
	}
	g, err := op.geom(xs, ws)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{xs[0], g.co, g.oh, g.ow}, nil
}

func (op *convOp) geom(xs, ws tensor.Shape) (geom, error) {
	if len(xs) != 4 || len(ws) != 4 {
		return geom{}, fmt.Errorf("%v: input must be (N,C,H,W) and filter (Co,C,k,k), got %v and %v", op, xs, ws)
	}
	if ws[1] != xs[1] || ws[2] != op.k || ws[3] != op.k {
		return geom{}, fmt.Errorf("%v: filter %v does not fit input %v", op, ws, xs)
	}
	g := newGeom(xs[1], xs[2], xs[3], ws[0], op.k, op.pad)
	if g.oh < 1 || g.ow < 1 {
		return geom{}, fmt.Errorf("%v: input %v is smaller than the filter", op, xs)
	}
	return g, nil
}

func (op *convOp) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	x, err := dense(op, "input", in[0], 4)
	if err != nil {
		return nil, err
	}
	w, err := dense(op, "filter", in[1], 4)
	if err != nil {
		return nil, err
	}
	b, err := dense(op, "bias", in[2], 1)
	if err != nil {
		return nil, err
	}
	if err := sameDtype(op, x, w, b); err != nil {
		return nil, err
	}
	g, err := op.geom(x.Shape(), w.Shape())
	if err != nil {
		return nil, err
	}
	if b.Shape()[0] != g.co {
		return nil, fmt.Errorf("%v: bias has %d entries for %d filters", op, b.Shape()[0], g.co)
	}
	n := x.Shape()[0]
	y := op.out.get(x.Dtype(), n, g.co, g.oh, g.ow)
	op.work.Lock()
	defer op.work.Unlock()
	if x.Dtype() == tensor.Float32 {
		convForward[float32](g, n, data[float32](x), data[float32](w), data[float32](b), data[float32](y), &op.work.cols)
	} else {
		convForward[float64](g, n, data[float64](x), data[float64](w), data[float64](b), data[float64](y), &op.work.cols)
	}
	return y, nil
}

func convForward[T Float](g geom, n int, x, w, b, y []T, s *scratch) {
	p := workers(n)
	gr := g.group()
	cols := scratchFor[T](s, 2*p, max(g.rows, g.co)*g.cols*gr)
	in, out := g.c*g.h*g.w, g.co*g.cols
	parallel(n, p, func(wk, lo, hi int) {
		col, prod := cols[2*wk], cols[2*wk+1][:g.co*g.cols*gr]
		for i0 := lo; i0 < hi; i0 += gr {
			m := min(gr, hi-i0)
			ld := m * g.cols
			for i := 0; i < m; i++ {
				im2col(g, x[(i0+i)*in:(i0+i+1)*in], col[i*g.cols:], ld)
			}
			if m == 1 {
				// One image: the product is already in y's order.
				yi := y[i0*out : (i0+1)*out]
				gemm(false, false, g.co, ld, g.rows, w, g.rows, col, ld, 0, yi, ld)
				for c := 0; c < g.co; c++ {
					bc, dst := b[c], yi[c*g.cols:(c+1)*g.cols]
					for j := range dst {
						dst[j] += bc
					}
				}
				continue
			}
			gemm(false, false, g.co, ld, g.rows, w, g.rows, col, ld, 0, prod, ld)
			// prod holds channel c of image i at row c, columns i·cols...;
			// y wants image-major order, with the bias added.
			for i := 0; i < m; i++ {
				yi := y[(i0+i)*out : (i0+i+1)*out]
				for c := 0; c < g.co; c++ {
					src, dst := prod[c*ld+i*g.cols:c*ld+(i+1)*g.cols], yi[c*g.cols:(c+1)*g.cols]
					for j, v := range src {
						dst[j] = v + b[c]
					}
				}
			}
		}
	})
}

// gatherGroup returns the output gradients of images i0..i0+m-1 as a
// co×(m·cols) matrix, the layout of the grouped products: copied into dyg,
// or for a single image dy's own slice, which already has that layout.
func gatherGroup[T Float](g geom, dy, dyg []T, i0, m int) []T {
	out, ld := g.co*g.cols, m*g.cols
	if m == 1 {
		return dy[i0*out : (i0+1)*out] // already in the product's order
	}
	for i := 0; i < m; i++ {
		dyi := dy[(i0+i)*out : (i0+i+1)*out]
		for c := 0; c < g.co; c++ {
			copy(dyg[c*ld+i*g.cols:c*ld+(i+1)*g.cols], dyi[c*g.cols:(c+1)*g.cols])
		}
	}
	return dyg[:g.co*ld]
}

func (op *convOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: expected 3 inputs, got %d", op, len(in))
	}
	x, w := in[0], in[1]
	var dx *G.Node
	if op.inputGrad {
		var err error
		if dx, err = G.ApplyOp(&convGradInput{k: op.k, pad: op.pad, work: op.work}, x, w, grad); err != nil {
			return nil, err
		}
	}
	dw, err := G.ApplyOp(&convGradFilter{k: op.k, pad: op.pad, work: op.work}, x, grad)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(&convGradBias{}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw, db}, nil
}

// convGradInput computes dL/dx from (x, w, dy); x only gives the shape.
type convGradInput struct {
	opBase
	k, pad int
	work   *convWork
	out    buffer
}

func (op *convGradInput) Arity() int { return 3 }
func (op *convGradInput) Type() hm.Type {
	t := hm.TypeVariable('a')
	return hm.NewFnType(tensorType(4, t), tensorType(4, t), tensorType(4, t), tensorType(4, t))
}
func (op *convGradInput) String() string {
	return fmt.Sprintf("Conv2dGradInput{k=%d,pad=%d}", op.k, op.pad)
}
func (op *convGradInput) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *convGradInput) Hashcode() uint32      { return hashcode(op) }
func (op *convGradInput) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: expected 3 inputs, got %d", op, len(in))
	}
	s, err := shapeOf(op, in[0])
	return s.Clone(), err
}

func (op *convGradInput) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	x, w, dy, g, err := convGradArgs(op, op.k, op.pad, in[0], in[1], in[2])
	if err != nil {
		return nil, err
	}
	n := x.Shape()[0]
	dx := op.out.get(x.Dtype(), x.Shape()...)
	op.work.Lock()
	defer op.work.Unlock()
	if x.Dtype() == tensor.Float32 {
		convBackwardData[float32](g, n, data[float32](w), data[float32](dy), data[float32](dx), &op.work.cols)
	} else {
		convBackwardData[float64](g, n, data[float64](w), data[float64](dy), data[float64](dx), &op.work.cols)
	}
	return dx, nil
}

func convBackwardData[T Float](g geom, n int, w, dy, dx []T, s *scratch) {
	p := workers(n)
	gr := g.group()
	bufs := scratchFor[T](s, 2*p, max(g.rows, g.co)*g.cols*gr)
	in := g.c * g.h * g.w
	parallel(n, p, func(wk, lo, hi int) {
		col, dyg := bufs[2*wk], bufs[2*wk+1][:g.co*g.cols*gr]
		for i0 := lo; i0 < hi; i0 += gr {
			m := min(gr, hi-i0)
			ld := m * g.cols
			gemm(true, false, g.rows, ld, g.co, w, g.rows, gatherGroup(g, dy, dyg, i0, m), ld, 0, col, ld)
			for i := 0; i < m; i++ {
				dxi := dx[(i0+i)*in : (i0+i+1)*in]
				clear(dxi)
				col2im(g, col[i*g.cols:], dxi, ld)
			}
		}
	})
}

// convGradArgs validates the (x, w-or-nil, dy) inputs of a gradient op.
func convGradArgs(op fmt.Stringer, k, pad int, xv, wv, dyv G.Value) (x, w, dy *tensor.Dense, g geom, err error) {
	if x, err = dense(op, "input", xv, 4); err != nil {
		return
	}
	if w, err = dense(op, "filter", wv, 4); err != nil {
		return
	}
	if dy, err = dense(op, "output gradient", dyv, 4); err != nil {
		return
	}
	if err = sameDtype(op, x, w, dy); err != nil {
		return
	}
	xs, ws := x.Shape(), w.Shape()
	if ws[1] != xs[1] || ws[2] != k || ws[3] != k {
		err = fmt.Errorf("%v: filter %v does not fit input %v", op, ws, xs)
		return
	}
	g = newGeom(xs[1], xs[2], xs[3], ws[0], k, pad)
	if !dy.Shape().Eq(tensor.Shape{xs[0], g.co, g.oh, g.ow}) {
		err = fmt.Errorf("%v: output gradient has shape %v, want %v", op, dy.Shape(), tensor.Shape{xs[0], g.co, g.oh, g.ow})
	}
	return
}

// convGradFilter computes dL/dw from (x, dy).
type convGradFilter struct {
	opBase
	k, pad int
	work   *convWork
	out    buffer
}

func (op *convGradFilter) Arity() int { return 2 }
func (op *convGradFilter) Type() hm.Type {
	t := hm.TypeVariable('a')
	return hm.NewFnType(tensorType(4, t), tensorType(4, t), tensorType(4, t))
}
func (op *convGradFilter) String() string {
	return fmt.Sprintf("Conv2dGradFilter{k=%d,pad=%d}", op.k, op.pad)
}
func (op *convGradFilter) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *convGradFilter) Hashcode() uint32      { return hashcode(op) }
func (op *convGradFilter) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: expected 2 inputs, got %d", op, len(in))
	}
	xs, err := shapeOf(op, in[0])
	if err != nil {
		return nil, err
	}
	dys, err := shapeOf(op, in[1])
	if err != nil {
		return nil, err
	}
	if len(xs) != 4 || len(dys) != 4 {
		return nil, fmt.Errorf("%v: expected (N,C,H,W) shapes, got %v and %v", op, xs, dys)
	}
	return tensor.Shape{dys[1], xs[1], op.k, op.k}, nil
}

func (op *convGradFilter) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	x, err := dense(op, "input", in[0], 4)
	if err != nil {
		return nil, err
	}
	dy, err := dense(op, "output gradient", in[1], 4)
	if err != nil {
		return nil, err
	}
	if err := sameDtype(op, x, dy); err != nil {
		return nil, err
	}
	xs := x.Shape()
	g := newGeom(xs[1], xs[2], xs[3], dy.Shape()[1], op.k, op.pad)
	if !dy.Shape().Eq(tensor.Shape{xs[0], g.co, g.oh, g.ow}) {
		return nil, fmt.Errorf("%v: output gradient has shape %v, want %v", op, dy.Shape(), tensor.Shape{xs[0], g.co, g.oh, g.ow})
	}
	dw := op.out.get(x.Dtype(), g.co, g.c, g.k, g.k)
	op.work.Lock()
	defer op.work.Unlock()
	if x.Dtype() == tensor.Float32 {
		convBackwardFilter[float32](g, xs[0], data[float32](x), data[float32](dy), data[float32](dw), &op.work.cols, &op.work.parts)
	} else {
		convBackwardFilter[float64](g, xs[0], data[float64](x), data[float64](dy), data[float64](dw), &op.work.cols, &op.work.parts)
	}
	return dw, nil
}

func convBackwardFilter[T Float](g geom, n int, x, dy, dw []T, s, ps *scratch) {
	p := workers(n)
	gr := g.group()
	bufs := scratchFor[T](s, 2*p, max(g.rows, g.co)*g.cols*gr)
	parts := scratchFor[T](ps, p, len(dw))
	in := g.c * g.h * g.w
	parallel(n, p, func(wk, lo, hi int) {
		col, dyg, part := bufs[2*wk], bufs[2*wk+1][:g.co*g.cols*gr], parts[wk]
		beta := T(0)
		for i0 := lo; i0 < hi; i0 += gr {
			m := min(gr, hi-i0)
			ld := m * g.cols
			for i := 0; i < m; i++ {
				im2col(g, x[(i0+i)*in:(i0+i+1)*in], col[i*g.cols:], ld)
			}
			gemm(false, true, g.co, g.rows, ld, gatherGroup(g, dy, dyg, i0, m), ld, col, ld, beta, part, g.rows)
			beta = 1
		}
	})
	copy(dw, parts[0])
	for _, part := range parts[1:] {
		for j, v := range part {
			dw[j] += v
		}
	}
}

// convGradBias computes dL/db from dy: the sum over images and positions.
type convGradBias struct {
	opBase
	out buffer
}

func (op *convGradBias) Arity() int { return 1 }
func (op *convGradBias) Type() hm.Type {
	t := hm.TypeVariable('a')
	return hm.NewFnType(tensorType(4, t), tensorType(1, t))
}
func (op *convGradBias) String() string        { return "Conv2dGradBias" }
func (op *convGradBias) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *convGradBias) Hashcode() uint32      { return hashcode(op) }
func (op *convGradBias) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("%v: expected 1 input, got %d", op, len(in))
	}
	s, err := shapeOf(op, in[0])
	if err != nil {
		return nil, err
	}
	if len(s) != 4 {
		return nil, fmt.Errorf("%v: expected (N,C,H,W), got %v", op, s)
	}
	return tensor.Shape{s[1]}, nil
}

func (op *convGradBias) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	dy, err := dense(op, "output gradient", in[0], 4)
	if err != nil {
		return nil, err
	}
	s := dy.Shape()
	db := op.out.get(dy.Dtype(), s[1])
	if dy.Dtype() == tensor.Float32 {
		sumChannels[float32](s[0], s[1], s[2]*s[3], data[float32](dy), data[float32](db))
	} else {
		sumChannels[float64](s[0], s[1], s[2]*s[3], data[float64](dy), data[float64](db))
	}
	return db, nil
}

// sumChannels sums x (n, c, hw) over n and hw into out (c).
func sumChannels[T Float](n, c, hw int, x, out []T) {
	clear(out)
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			var s T
			for _, v := range x[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				s += v
			}
			out[ch] += s
		}
	}
}
