package graph

import (
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// stockLayers builds LeNet++'s layers from gorgonia's own ops: Conv2d plus a
// broadcast bias, PReLU composed as relu(x) + a·(x - relu(x)), MaxPool2D and
// Mul. It is the slow reference the custom ops are checked against.
//
// gorgonia's machine lets the op that reads a value last overwrite it in
// place, and the backward pass of these ops does so with the outputs of
// the convolutions and of fc1: Net.Activation reads copies, which keep
// takes.
func stockLayers() layers {
	// channelShape is a (C) vector reshaped to broadcast over axis 1 of x.
	channelShape := func(x, v *G.Node) (*G.Node, []byte, error) {
		shape := make(tensor.Shape, x.Dims())
		var pattern []byte
		for i := range shape {
			shape[i] = 1
			if i != 1 {
				pattern = append(pattern, byte(i))
			}
		}
		shape[1] = v.Shape()[0]
		r, err := G.Reshape(v, shape)
		return r, pattern, err
	}
	return layers{
		conv: func(x, w, b *G.Node) (*G.Node, error) {
			y, err := G.Conv2d(x, w, tensor.Shape{5, 5}, []int{2, 2}, []int{1, 1}, []int{1, 1})
			if err != nil {
				return nil, err
			}
			bb, pat, err := channelShape(y, b)
			if err != nil {
				return nil, err
			}
			return G.BroadcastAdd(y, bb, nil, pat)
		},
		prelu: func(x, a *G.Node) (*G.Node, error) {
			pos, err := G.Rectify(x)
			if err != nil {
				return nil, err
			}
			neg, err := G.Sub(x, pos)
			if err != nil {
				return nil, err
			}
			ab, pat, err := channelShape(x, a)
			if err != nil {
				return nil, err
			}
			scaled, err := G.BroadcastHadamardProd(neg, ab, nil, pat)
			if err != nil {
				return nil, err
			}
			return G.Add(pos, scaled)
		},
		pool: func(x *G.Node) (*G.Node, error) {
			return G.MaxPool2D(x, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2})
		},
		keep: func(x *G.Node) (*G.Node, error) {
			a := hm.TypeVariable('a')
			return G.ApplyOp(&kernel{name: "Keep", typ: hm.NewFnType(a, a), arity: 1, shape: shapeOfInput(0),
				do: func(op *kernel, in []G.Value) (G.Value, error) {
					x, err := dense(op, "input", in[0], -1)
					if err != nil {
						return nil, err
					}
					y := op.out.get(x.Dtype(), x.Shape()...)
					return y, tensor.Copy(y, x)
				}}, x)
		},
		fc: func(x, w, b *G.Node) (*G.Node, error) {
			if x.Dims() != 2 {
				var err error
				if x, err = G.Reshape(x, tensor.Shape{x.Shape()[0], x.Shape().TotalSize() / x.Shape()[0]}); err != nil {
					return nil, err
				}
			}
			wt, err := G.Transpose(w)
			if err != nil {
				return nil, err
			}
			y, err := G.Mul(x, wt)
			if err != nil || b == nil {
				return y, err
			}
			bb, err := G.Reshape(b, tensor.Shape{1, b.Shape()[0]})
			if err != nil {
				return nil, err
			}
			return G.BroadcastAdd(y, bb, nil, []byte{0})
		},
	}
}
