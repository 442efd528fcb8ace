package graph

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MaxPool2x2 takes the maximum of each 2×2 window with stride 2 over x
// (N,C,H,W), giving (N,C,H/2,W/2); an odd last row or column is dropped
// (Caffe's and PyTorch's floor rounding: 7 -> 3). Its gradient goes to the
// first maximum of each window, found again from x, so it keeps no state
// between the forward and the backward pass and works for any batch size.
func MaxPool2x2(x *G.Node) (*G.Node, error) {
	if x.Dims() != 4 {
		return nil, fmt.Errorf("MaxPool2x2: input must be (N,C,H,W), got shape %v", x.Shape())
	}
	a := hm.TypeVariable('a')
	return G.ApplyOp(&kernel{name: "MaxPool2x2", typ: hm.NewFnType(a, a), arity: 1,
		shape: poolShape, do: poolForward, wrt: []bool{true}, diff: poolDiff}, x)
}

func poolShape(op *kernel, in []tensor.Shape) (tensor.Shape, error) {
	s := in[0]
	if len(s) != 4 || s[2] < 2 || s[3] < 2 {
		return nil, fmt.Errorf("%v: input must be (N,C,H,W) with H,W >= 2, got %v", op, s)
	}
	return tensor.Shape{s[0], s[1], s[2] / 2, s[3] / 2}, nil
}

func poolForward(op *kernel, in []G.Value) (G.Value, error) {
	x, err := dense(op, "input", in[0], 4)
	if err != nil {
		return nil, err
	}
	s := x.Shape()
	if s[2] < 2 || s[3] < 2 {
		return nil, fmt.Errorf("%v: input %v is smaller than the window", op, s)
	}
	y := op.out.get(x.Dtype(), s[0], s[1], s[2]/2, s[3]/2)
	if x.Dtype() == tensor.Float32 {
		maxPool(s, data[float32](x), data[float32](y), nil)
	} else {
		maxPool(s, data[float64](x), data[float64](y), nil)
	}
	return y, nil
}

// maxPool computes the forward pass into y, or, when dy is not nil, routes
// dy to the window maxima of x and writes the result into y (shaped as x).
func maxPool[T Float](s tensor.Shape, x, y, dy []T) {
	n, c, h, w := s[0], s[1], s[2], s[3]
	oh, ow := h/2, w/2
	parallel(n, elementWorkers(n, len(x)), func(_, lo, hi int) {
		for p := lo * c; p < hi*c; p++ {
			in := x[p*h*w : (p+1)*h*w]
			var out []T
			if dy != nil {
				out = y[p*h*w : (p+1)*h*w]
				clear(out)
			} else {
				out = y[p*oh*ow : (p+1)*oh*ow]
			}
			for i := 0; i < oh; i++ {
				r0, r1 := in[2*i*w:], in[(2*i+1)*w:]
				for j := 0; j < ow; j++ {
					best, at := r0[2*j], 2*i*w+2*j
					if v := r0[2*j+1]; v > best {
						best, at = v, 2*i*w+2*j+1
					}
					if v := r1[2*j]; v > best {
						best, at = v, (2*i+1)*w+2*j
					}
					if v := r1[2*j+1]; v > best {
						best, at = v, (2*i+1)*w+2*j+1
					}
					if dy != nil {
						out[at] = dy[p*oh*ow+i*ow+j]
					} else {
						out[i*ow+j] = best
					}
				}
			}
		}
	})
}

// poolDiff builds dL/dx of MaxPool2x2 from (x, dy).
func poolDiff(_ *kernel, in G.Nodes, grad *G.Node) (G.Nodes, error) {
	a := hm.TypeVariable('a')
	dx, err := G.ApplyOp(&kernel{name: "MaxPool2x2Grad", typ: hm.NewFnType(a, a, a), arity: 2,
		shape: func(_ *kernel, in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil },
		do:    poolBackward}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

func poolBackward(op *kernel, in []G.Value) (G.Value, error) {
	x, err := dense(op, "input", in[0], 4)
	if err != nil {
		return nil, err
	}
	dy, err := dense(op, "output gradient", in[1], 4)
	if err != nil {
		return nil, err
	}
	s := x.Shape()
	if want := (tensor.Shape{s[0], s[1], s[2] / 2, s[3] / 2}); !dy.Shape().Eq(want) || dy.Dtype() != x.Dtype() {
		return nil, fmt.Errorf("%v: output gradient %v %v, want %v %v", op, dy.Dtype(), dy.Shape(), x.Dtype(), want)
	}
	dx := op.out.get(x.Dtype(), s...)
	if x.Dtype() == tensor.Float32 {
		maxPool(s, data[float32](x), data[float32](dx), data[float32](dy))
	} else {
		maxPool(s, data[float64](x), data[float64](dx), data[float64](dy))
	}
	return dx, nil
}
