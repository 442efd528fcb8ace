package graph

import (
	"fmt"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/internal/blas"
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
	c := &conv{k: w.Shape()[2], pad: pad, inputGrad: inputGrad, work: work}
	return G.ApplyOp(&kernel{name: fmt.Sprintf("Conv2d{k=%d,pad=%d,inputGrad=%t}", c.k, c.pad, c.inputGrad), typ: fnType(4, 4, 1, 4), arity: 3,
		shape: c.shape, do: c.forward, wrt: []bool{inputGrad, true, true}, diff: c.diff}, x, w, b)
}

// conv is one convolution layer: its filter size and padding, whether
// its input has a gradient, and the working memory it shares; its
// methods are the functions of its kernels.
type conv struct {
	k, pad    int
	inputGrad bool // whether to differentiate with respect to x
	work      *convWork
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
	blas        *blas.Implementation // the products' BLAS; nil: blas.Default
}

func (c *conv) shape(op *kernel, in []tensor.Shape) (tensor.Shape, error) {
	xs, ws := in[0], in[1]
	g, err := c.geom(op, xs, ws)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{xs[0], g.co, g.oh, g.ow}, nil
}

func (c *conv) geom(op *kernel, xs, ws tensor.Shape) (geom, error) {
	if len(xs) != 4 || len(ws) != 4 {
		return geom{}, fmt.Errorf("%v: input must be (N,C,H,W) and filter (Co,C,k,k), got %v and %v", op, xs, ws)
	}
	if ws[1] != xs[1] || ws[2] != c.k || ws[3] != c.k {
		return geom{}, fmt.Errorf("%v: filter %v does not fit input %v", op, ws, xs)
	}
	g := newGeom(xs[1], xs[2], xs[3], ws[0], c.k, c.pad)
	if g.oh < 1 || g.ow < 1 {
		return geom{}, fmt.Errorf("%v: input %v is smaller than the filter", op, xs)
	}
	return g, nil
}

func (c *conv) forward(op *kernel, in []G.Value) (G.Value, error) {
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
	g, err := c.geom(op, x.Shape(), w.Shape())
	if err != nil {
		return nil, err
	}
	if b.Shape()[0] != g.co {
		return nil, fmt.Errorf("%v: bias has %d entries for %d filters", op, b.Shape()[0], g.co)
	}
	n := x.Shape()[0]
	y := op.out.get(x.Dtype(), n, g.co, g.oh, g.ow)
	c.work.Lock()
	defer c.work.Unlock()
	if x.Dtype() == tensor.Float32 {
		convForward[float32](g, n, data[float32](x), data[float32](w), data[float32](b), data[float32](y), &c.work.cols, c.work.blas)
	} else {
		convForward[float64](g, n, data[float64](x), data[float64](w), data[float64](b), data[float64](y), &c.work.cols, c.work.blas)
	}
	return y, nil
}

func convForward[T Float](g geom, n int, x, w, b, y []T, s *scratch, bl *blas.Implementation) {
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
				gemm(bl, false, false, g.co, ld, g.rows, w, g.rows, col, ld, 0, yi, ld)
				for c := 0; c < g.co; c++ {
					bc, dst := b[c], yi[c*g.cols:(c+1)*g.cols]
					for j := range dst {
						dst[j] += bc
					}
				}
				continue
			}
			gemm(bl, false, false, g.co, ld, g.rows, w, g.rows, col, ld, 0, prod, ld)
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

// diff builds the gradients: dL/dx from (x, w, dy) (x only gives the
// shape), dL/dw from (x, dy), and dL/db from dy, the sum over images and
// positions.
func (c *conv) diff(_ *kernel, in G.Nodes, grad *G.Node) (G.Nodes, error) {
	x, w := in[0], in[1]
	var dx *G.Node
	if c.inputGrad {
		var err error
		if dx, err = G.ApplyOp(&kernel{name: fmt.Sprintf("Conv2dGradInput{k=%d,pad=%d}", c.k, c.pad), typ: fnType(4, 4, 4, 4), arity: 3,
			shape: shapeOfInput(0), do: c.gradInput}, x, w, grad); err != nil {
			return nil, err
		}
	}
	dw, err := G.ApplyOp(&kernel{name: fmt.Sprintf("Conv2dGradFilter{k=%d,pad=%d}", c.k, c.pad), typ: fnType(4, 4, 4), arity: 2,
		shape: c.filterShape, do: c.gradFilter}, x, grad)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(&kernel{name: "Conv2dGradBias", typ: fnType(4, 1), arity: 1, shape: biasShape, do: gradBias}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw, db}, nil
}

func (c *conv) gradInput(op *kernel, in []G.Value) (G.Value, error) {
	x, w, dy, g, err := convGradArgs(op, c.k, c.pad, in[0], in[1], in[2])
	if err != nil {
		return nil, err
	}
	n := x.Shape()[0]
	dx := op.out.get(x.Dtype(), x.Shape()...)
	c.work.Lock()
	defer c.work.Unlock()
	if x.Dtype() == tensor.Float32 {
		convBackwardData[float32](g, n, data[float32](w), data[float32](dy), data[float32](dx), &c.work.cols, c.work.blas)
	} else {
		convBackwardData[float64](g, n, data[float64](w), data[float64](dy), data[float64](dx), &c.work.cols, c.work.blas)
	}
	return dx, nil
}

func convBackwardData[T Float](g geom, n int, w, dy, dx []T, s *scratch, bl *blas.Implementation) {
	p := workers(n)
	gr := g.group()
	bufs := scratchFor[T](s, 2*p, max(g.rows, g.co)*g.cols*gr)
	in := g.c * g.h * g.w
	parallel(n, p, func(wk, lo, hi int) {
		col, dyg := bufs[2*wk], bufs[2*wk+1][:g.co*g.cols*gr]
		for i0 := lo; i0 < hi; i0 += gr {
			m := min(gr, hi-i0)
			ld := m * g.cols
			gemm(bl, true, false, g.rows, ld, g.co, w, g.rows, gatherGroup(g, dy, dyg, i0, m), ld, 0, col, ld)
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

func (c *conv) filterShape(op *kernel, in []tensor.Shape) (tensor.Shape, error) {
	xs, dys := in[0], in[1]
	if len(xs) != 4 || len(dys) != 4 {
		return nil, fmt.Errorf("%v: expected (N,C,H,W) shapes, got %v and %v", op, xs, dys)
	}
	return tensor.Shape{dys[1], xs[1], c.k, c.k}, nil
}

func (c *conv) gradFilter(op *kernel, in []G.Value) (G.Value, error) {
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
	g := newGeom(xs[1], xs[2], xs[3], dy.Shape()[1], c.k, c.pad)
	if !dy.Shape().Eq(tensor.Shape{xs[0], g.co, g.oh, g.ow}) {
		return nil, fmt.Errorf("%v: output gradient has shape %v, want %v", op, dy.Shape(), tensor.Shape{xs[0], g.co, g.oh, g.ow})
	}
	dw := op.out.get(x.Dtype(), g.co, g.c, g.k, g.k)
	c.work.Lock()
	defer c.work.Unlock()
	if x.Dtype() == tensor.Float32 {
		convBackwardFilter[float32](g, xs[0], data[float32](x), data[float32](dy), data[float32](dw), &c.work.cols, &c.work.parts, c.work.blas)
	} else {
		convBackwardFilter[float64](g, xs[0], data[float64](x), data[float64](dy), data[float64](dw), &c.work.cols, &c.work.parts, c.work.blas)
	}
	return dw, nil
}

func convBackwardFilter[T Float](g geom, n int, x, dy, dw []T, s, ps *scratch, bl *blas.Implementation) {
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
			gemm(bl, false, true, g.co, g.rows, ld, gatherGroup(g, dy, dyg, i0, m), ld, col, ld, beta, part, g.rows)
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

func biasShape(op *kernel, in []tensor.Shape) (tensor.Shape, error) {
	if len(in[0]) != 4 {
		return nil, fmt.Errorf("%v: expected (N,C,H,W), got %v", op, in[0])
	}
	return tensor.Shape{in[0][1]}, nil
}

func gradBias(op *kernel, in []G.Value) (G.Value, error) {
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
