package graph

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/internal/value"
)

// SoftmaxCrossEntropy is the mean softmax cross-entropy of logits (N,K)
// against integer labels (N, dtype tensor.Int): -1/N Σ_i log softmax(z_i)[y_i].
// It is computed through log-sum-exp, so large logits do not overflow, and its
// gradient is (softmax(z_i) - onehot(y_i)) / N.
func SoftmaxCrossEntropy(logits, labels *G.Node) (*G.Node, error) {
	if logits.Dims() != 2 {
		return nil, fmt.Errorf("SoftmaxCrossEntropy: logits must be (N,K), got shape %v", logits.Shape())
	}
	t := hm.TypeVariable('t')
	return G.ApplyOp(&kernel{name: "SoftmaxCrossEntropy", typ: hm.NewFnType(tensorType(2, t), tensorType(1, tensor.Int), t), arity: 2,
		shape: func(*kernel, []tensor.Shape) (tensor.Shape, error) { return tensor.ScalarShape(), nil },
		do:    xentDo, wrt: []bool{true, false}, diff: xentDiff}, logits, labels)
}

// xentArgs validates logits (N,K) and labels (N) in [0,K).
func xentArgs(op fmt.Stringer, zv, yv G.Value) (z *tensor.Dense, labels []int, err error) {
	if z, err = dense(op, "logits", zv, 2); err != nil {
		return
	}
	y, ok := yv.(*tensor.Dense)
	if !ok || y.Dtype() != tensor.Int {
		return nil, nil, fmt.Errorf("%v: labels must be a tensor.Int vector, got %T", op, yv)
	}
	labels = y.Ints()
	n, k := z.Shape()[0], z.Shape()[1]
	if len(labels) != n {
		return nil, nil, fmt.Errorf("%v: %d labels for %d rows of logits", op, len(labels), n)
	}
	for i, l := range labels {
		if l < 0 || l >= k {
			return nil, nil, fmt.Errorf("%v: label %d of row %d is outside [0,%d)", op, l, i, k)
		}
	}
	return z, labels, nil
}

func xentDo(op *kernel, in []G.Value) (G.Value, error) {
	z, labels, err := xentArgs(op, in[0], in[1])
	if err != nil {
		return nil, err
	}
	k := z.Shape()[1]
	if z.Dtype() == tensor.Float32 {
		return G.NewF32(float32(xent(k, data[float32](z), labels, nil, 0))), nil
	}
	return G.NewF64(xent(k, data[float64](z), labels, nil, 0)), nil
}

// xent returns the mean cross-entropy; when dz is not nil it also writes
// scale·(softmax - onehot)/N into it.
func xent[T Float](k int, z []T, labels []int, dz []T, scale float64) float64 {
	n := len(labels)
	var loss float64
	for i, l := range labels {
		row := z[i*k : (i+1)*k]
		m := float64(row[0])
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(sum)
		loss += lse - float64(row[l])
		if dz != nil {
			d := dz[i*k : (i+1)*k]
			for j, v := range row {
				p := math.Exp(float64(v) - lse)
				if j == l {
					p--
				}
				d[j] = T(scale * p / float64(n))
			}
		}
	}
	return loss / float64(n)
}

// xentDiff builds dL/dz from (logits, labels, upstream scalar gradient).
func xentDiff(_ *kernel, in G.Nodes, grad *G.Node) (G.Nodes, error) {
	t := hm.TypeVariable('t')
	dz, err := G.ApplyOp(&kernel{name: "SoftmaxCrossEntropyGrad", typ: hm.NewFnType(tensorType(2, t), tensorType(1, tensor.Int), t, tensorType(2, t)),
		arity: 3, shape: shapeOfInput(0), do: xentGradDo}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dz, nil}, nil
}

func xentGradDo(op *kernel, in []G.Value) (G.Value, error) {
	z, labels, err := xentArgs(op, in[0], in[1])
	if err != nil {
		return nil, err
	}
	scale, err := value.Scalar(in[2])
	if err != nil {
		return nil, fmt.Errorf("%v: upstream gradient: %w", op, err)
	}
	dz := op.out.get(z.Dtype(), z.Shape()...)
	k := z.Shape()[1]
	if z.Dtype() == tensor.Float32 {
		xent(k, data[float32](z), labels, data[float32](dz), scale)
	} else {
		xent(k, data[float64](z), labels, data[float64](dz), scale)
	}
	return dz, nil
}
