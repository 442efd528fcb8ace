package centerloss

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/internal/value"
)

// Loss returns the scalar node
//
//	L_C = 1/(2N) Σ_i ||x_i - c_{y_i}||²
//
// for features, an N x D matrix node of the dtype of c, and labels, a vector
// node of N values of dtype tensor.Int. Its gradient with respect to x_i is
// (x_i - c_{y_i})/N; there is none with respect to the labels or the centers.
// The centers are read when the graph runs, so updates made between runs
// are seen by the next run.
//
// Loss checks dtypes and shapes when building the graph; a label outside
// [0, K) is reported as an error when the graph runs.
func Loss(features, labels *gorgonia.Node, c *Centers) (*gorgonia.Node, error) {
	if c == nil || c.t == nil {
		return nil, fmt.Errorf("centerloss: loss: %w", errNoCenters)
	}
	if features == nil || labels == nil {
		return nil, fmt.Errorf("centerloss: loss: nil features or labels node: %w", ErrShape)
	}
	if dt := features.Dtype(); dt != c.Dtype() {
		return nil, fmt.Errorf("centerloss: loss: features dtype %v, centers dtype %v: %w", dt, c.Dtype(), ErrDtype)
	}
	if dt := labels.Dtype(); dt != tensor.Int {
		return nil, fmt.Errorf("centerloss: loss: labels dtype %v, want int: %w", dt, ErrDtype)
	}
	n, err := gorgonia.ApplyOp(&lossOp{c: c}, features, labels)
	if err != nil {
		return nil, fmt.Errorf("centerloss: loss: %w", err)
	}
	return n, nil
}

// lossOp is the forward operation: (features, labels) → L_C.
type lossOp struct {
	c *Centers
}

// Compile-time checks of the interfaces the machines look for.
var (
	_ gorgonia.SDOp = (*lossOp)(nil)
	_ gorgonia.ADOp = (*lossOp)(nil)
	_ gorgonia.Op   = (*gradOp)(nil)
)

// The methods of lossOp and gradOp without a comment implement gorgonia.Op.

func (op *lossOp) Arity() int { return 2 }

func (op *lossOp) Type() hm.Type {
	dt := op.c.Dtype()
	return hm.NewFnType(
		gorgonia.TensorType{Dims: 2, Of: dt},
		gorgonia.TensorType{Dims: 1, Of: tensor.Int},
		dt,
	)
}

func (op *lossOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	if _, err := inferBatch(op.c, in); err != nil {
		return nil, err
	}
	return tensor.ScalarShape(), nil
}

// inferBatch checks the shapes of the features and labels inputs and returns
// the shape of the features.
func inferBatch(c *Centers, in []gorgonia.DimSizer) (tensor.Shape, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("need features and labels shapes, got %d: %w", len(in), ErrShape)
	}
	xs, ok1 := in[0].(tensor.Shape)
	ys, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("input shapes are %T and %T, want tensor.Shape: %w", in[0], in[1], ErrShape)
	}
	if len(xs) != 2 || xs[1] != c.d {
		return nil, fmt.Errorf("features shape %v, want (N, %d): %w", xs, c.d, ErrShape)
	}
	if len(ys) != 1 || ys[0] != xs[0] {
		return nil, fmt.Errorf("labels shape %v, want (%d): %w", ys, xs[0], ErrShape)
	}
	return xs, nil
}

func (op *lossOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	x, labels, err := doInputs(in)
	if err != nil {
		return nil, fmt.Errorf("centerloss: %v: %w", op, err)
	}
	if op.c.Dtype() == tensor.Float32 {
		l, err := loss[float32](op.c, x, labels)
		if err != nil {
			return nil, fmt.Errorf("centerloss: %v: %w", op, err)
		}
		return gorgonia.NewF32(float32(l)), nil
	}
	l, err := loss[float64](op.c, x, labels)
	if err != nil {
		return nil, fmt.Errorf("centerloss: %v: %w", op, err)
	}
	return gorgonia.NewF64(l), nil
}

// doInputs unpacks the features and labels values given to Do.
func doInputs(in []gorgonia.Value) (tensor.Tensor, []int, error) {
	if len(in) != 2 {
		return nil, nil, fmt.Errorf("need features and labels, got %d inputs: %w", len(in), ErrShape)
	}
	x, ok := in[0].(tensor.Tensor)
	if !ok {
		return nil, nil, fmt.Errorf("features are %T, want a tensor: %w", in[0], ErrShape)
	}
	y, ok := in[1].(tensor.Tensor)
	if !ok {
		return nil, nil, fmt.Errorf("labels are %T, want a tensor: %w", in[1], ErrShape)
	}
	if y.Dtype() != tensor.Int {
		return nil, nil, fmt.Errorf("labels dtype %v, want int: %w", y.Dtype(), ErrDtype)
	}
	if y.Dims() != 1 || y.RequiresIterator() {
		return nil, nil, fmt.Errorf("labels shape %v, want a contiguous vector: %w", y.Shape(), ErrShape)
	}
	labels, ok := y.Data().([]int)
	if !ok || len(labels) < y.Size() {
		return nil, nil, fmt.Errorf("labels hold %T, want []int: %w", y.Data(), ErrDtype)
	}
	return x, labels[:y.Size()], nil
}

// loss returns L_C for a batch, checked against the centers.
func loss[T float](c *Centers, features tensor.Tensor, labels []int) (float64, error) {
	centers, err := centerData[T](c)
	if err != nil {
		return 0, err
	}
	x, err := batchData[T](c, features, labels)
	if err != nil {
		return 0, err
	}
	d := c.d
	var s float64
	for i, y := range labels {
		s += sqDist(x[i*d:i*d+d], centers[y*d:y*d+d])
	}
	return s / float64(2*len(labels)), nil
}

func (op *lossOp) ReturnsPtr() bool     { return false }
func (op *lossOp) CallsExtern() bool    { return false }
func (op *lossOp) OverwritesInput() int { return -1 }

// WriteHash includes the address of the centers so that gorgonia never
// merges the losses of two different Centers applied to the same inputs.
func (op *lossOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "CenterLoss%p", op.c) }
func (op *lossOp) Hashcode() uint32      { return hashOf(op) }
func (op *lossOp) String() string        { return fmt.Sprintf("CenterLoss{K=%d, D=%d}", op.c.k, op.c.d) }

// DiffWRT reports that the loss is differentiable with respect to the
// features only.
func (op *lossOp) DiffWRT(inputs int) []bool {
	wrt := make([]bool, inputs)
	if inputs > 0 {
		wrt[0] = true
	}
	return wrt
}

// SymDiff returns the gradient node of the features, used by gorgonia.Grad.
func (op *lossOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("centerloss: %v: symdiff with %d inputs, want 2: %w", op, len(inputs), ErrShape)
	}
	// A fresh gradOp per call: each one owns its output buffer, which is safe
	// only while a single graph node uses it.
	dx, err := gorgonia.ApplyOp(&gradOp{c: op.c}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, fmt.Errorf("centerloss: %v: symdiff: %w", op, err)
	}
	return gorgonia.Nodes{dx, nil}, nil
}

// DoDiff adds the gradient of the features into their gradient value in
// place; it is used by the LispMachine.
func (op *lossOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	if len(inputs) != 2 {
		return fmt.Errorf("centerloss: %v: dodiff with %d inputs, want 2: %w", op, len(inputs), ErrShape)
	}
	x, labels, err := doInputs([]gorgonia.Value{inputs[0].Value(), inputs[1].Value()})
	if err != nil {
		return fmt.Errorf("centerloss: %v: dodiff: %w", op, err)
	}
	up, err := output.Grad()
	if err != nil {
		return fmt.Errorf("centerloss: %v: dodiff: %w", op, err)
	}
	g, err := value.Scalar(up)
	if err != nil {
		return fmt.Errorf("centerloss: %v: dodiff: %w", op, err)
	}
	dv, err := inputs[0].Grad()
	if err != nil {
		return fmt.Errorf("centerloss: %v: dodiff: %w", op, err)
	}
	dx, ok := dv.(tensor.Tensor)
	if !ok {
		return fmt.Errorf("centerloss: %v: dodiff: features gradient is %T, want a tensor: %w", op, dv, ErrShape)
	}
	if op.c.Dtype() == tensor.Float32 {
		err = gradient[float32](op.c, x, labels, g, dx, true)
	} else {
		err = gradient[float64](op.c, x, labels, g, dx, true)
	}
	if err != nil {
		return fmt.Errorf("centerloss: %v: dodiff: %w", op, err)
	}
	return nil
}

// gradOp computes the gradient of the features:
// (features, labels, upstream scalar gradient g) → g·(x_i - c_{y_i})/N.
type gradOp struct {
	c *Centers

	// out is returned by every Do and rewritten in full each time, so a
	// training step does not allocate an N x D matrix. This is safe because
	// a machine runs each node once per run, and the value of the previous
	// run is no longer needed when the node runs again; its contents are
	// never read back.
	out *tensor.Dense
}

func (op *gradOp) Arity() int { return 3 }

func (op *gradOp) Type() hm.Type {
	dt := op.c.Dtype()
	x := gorgonia.TensorType{Dims: 2, Of: dt}
	return hm.NewFnType(x, gorgonia.TensorType{Dims: 1, Of: tensor.Int}, dt, x)
}

func (op *gradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	xs, err := inferBatch(op.c, in)
	if err != nil {
		return nil, err
	}
	return xs.Clone(), nil
}

func (op *gradOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("centerloss: %v: got %d inputs, want 3: %w", op, len(in), ErrShape)
	}
	x, labels, err := doInputs(in[:2])
	if err != nil {
		return nil, fmt.Errorf("centerloss: %v: %w", op, err)
	}
	g, err := value.Scalar(in[2])
	if err != nil {
		return nil, fmt.Errorf("centerloss: %v: %w", op, err)
	}
	dt, shape := op.c.Dtype(), x.Shape()
	if op.out == nil || op.out.Dtype() != dt || !op.out.Shape().Eq(shape) || op.out.RequiresIterator() {
		// A later op may have reshaped or transposed the previous buffer in
		// place; only a contiguous buffer of the right shape is reused.
		op.out = tensor.New(tensor.Of(dt), tensor.WithShape(shape.Clone()...))
	}
	if dt == tensor.Float32 {
		err = gradient[float32](op.c, x, labels, g, op.out, false)
	} else {
		err = gradient[float64](op.c, x, labels, g, op.out, false)
	}
	if err != nil {
		return nil, fmt.Errorf("centerloss: %v: %w", op, err)
	}
	return op.out, nil
}

// gradient writes g·(x_i - c_{y_i})/N into dst, or adds it to dst if
// accumulate is set. dst must be a contiguous tensor of the shape of
// features, since it is written in place; nothing is written unless every
// input checks out.
func gradient[T float](c *Centers, features tensor.Tensor, labels []int, g float64, dst tensor.Tensor, accumulate bool) error {
	centers, err := centerData[T](c)
	if err != nil {
		return err
	}
	x, err := batchData[T](c, features, labels)
	if err != nil {
		return err
	}
	if !dst.Shape().Eq(features.Shape()) || dst.RequiresIterator() || !dst.DataOrder().IsRowMajor() {
		return fmt.Errorf("gradient shape %v, want a contiguous %v tensor: %w", dst.Shape(), features.Shape(), ErrShape)
	}
	out, ok := dst.Data().([]T)
	if !ok || len(out) < len(x) {
		return fmt.Errorf("gradient holds %T, want %d values of %v: %w", dst.Data(), len(x), c.Dtype(), ErrDtype)
	}
	d := c.d
	scale := T(g / float64(len(labels)))
	for i, y := range labels {
		ci := centers[y*d : y*d+d]
		xi := x[i*d : i*d+d]
		oi := out[i*d : i*d+d]
		if accumulate {
			for j := range oi {
				oi[j] += scale * (xi[j] - ci[j])
			}
		} else {
			for j := range oi {
				oi[j] = scale * (xi[j] - ci[j])
			}
		}
	}
	return nil
}

func (op *gradOp) ReturnsPtr() bool     { return false }
func (op *gradOp) CallsExtern() bool    { return false }
func (op *gradOp) OverwritesInput() int { return -1 }

// WriteHash includes the address of the centers, as lossOp.WriteHash does.
func (op *gradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "CenterLossGrad%p", op.c) }
func (op *gradOp) Hashcode() uint32      { return hashOf(op) }
func (op *gradOp) String() string        { return fmt.Sprintf("CenterLossGrad{K=%d, D=%d}", op.c.k, op.c.d) }

// hashOf hashes what op.WriteHash writes.
func hashOf(op gorgonia.Op) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
