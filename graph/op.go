package graph

import (
	"fmt"
	"hash"
	"hash/fnv"
	"unsafe"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// opBase holds what every op of this package answers the same way: each
// returns a fresh value (its own buffer), calls no external code gorgonia
// must know of and never overwrites an input.
type opBase struct{}

func (opBase) ReturnsPtr() bool     { return false }
func (opBase) CallsExtern() bool    { return false }
func (opBase) OverwritesInput() int { return -1 }

func writeHash(h hash.Hash, op fmt.Stringer) { fmt.Fprint(h, op.String()) }

func hashcode(op fmt.Stringer) uint32 {
	h := fnv.New32a()
	fmt.Fprint(h, op.String())
	return h.Sum32()
}

// tensorType is the gorgonia type of a dims-dimensional tensor of element t.
func tensorType(dims int, t hm.Type) hm.Type { return G.TensorType{Dims: dims, Of: t} }

// kernel is the one op type of this package, configured by functions:
// every layer, on oneDNN's primitives or on this package's own kernels, is
// a kernel with its name, type, output shape and the function that
// computes it; a differentiable one also says which inputs have gradients
// and builds the nodes that compute them.
type kernel struct {
	opBase
	name  string
	typ   hm.Type // the function type, from the inputs to the output
	arity int
	shape func(op *kernel, in []tensor.Shape) (tensor.Shape, error)
	do    func(op *kernel, in []G.Value) (G.Value, error)
	wrt   []bool                                                      // the inputs with a gradient; nil: none
	diff  func(op *kernel, in G.Nodes, grad *G.Node) (G.Nodes, error) // builds their gradients
	out   buffer                                                      // the output, for do
}

func (op *kernel) Arity() int            { return op.arity }
func (op *kernel) Type() hm.Type         { return op.typ }
func (op *kernel) String() string        { return op.name }
func (op *kernel) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *kernel) Hashcode() uint32      { return hashcode(op) }

func (op *kernel) DiffWRT(n int) []bool {
	if op.wrt == nil {
		return make([]bool, n)
	}
	return op.wrt
}

func (op *kernel) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	shapes := make([]tensor.Shape, len(in))
	for i, d := range in {
		s, err := shapeOf(op, d)
		if err != nil {
			return nil, err
		}
		shapes[i] = s
	}
	return op.shape(op, shapes)
}

func (op *kernel) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	return op.do(op, in)
}

func (op *kernel) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.diff == nil {
		return nil, fmt.Errorf("%v has no gradient", op)
	}
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	return op.diff(op, in, grad)
}

// shapeOfInput is a kernel's shape function when its output is shaped as
// input i.
func shapeOfInput(i int) func(*kernel, []tensor.Shape) (tensor.Shape, error) {
	return func(_ *kernel, in []tensor.Shape) (tensor.Shape, error) { return in[i].Clone(), nil }
}

// fnType is the type of a function of tensors of the given ranks, the
// last the output's, all of one element type; rank 0 is a scalar.
func fnType(ranks ...int) hm.Type {
	t := hm.TypeVariable('t')
	ts := make([]hm.Type, len(ranks))
	for i, r := range ranks {
		ts[i] = t
		if r > 0 {
			ts[i] = tensorType(r, t)
		}
	}
	return hm.NewFnType(ts...)
}

// buffer is an output tensor that an op owns and refills on every run, so
// that steady-state training allocates nothing for it. A value returned from
// it is only valid until the op runs again.
type buffer struct{ t *tensor.Dense }

func (b *buffer) get(dt tensor.Dtype, shape ...int) *tensor.Dense {
	if b.t == nil || b.t.Dtype() != dt || !b.t.Shape().Eq(tensor.Shape(shape)) {
		b.t = tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	}
	return b.t
}

// scratch is per-worker working memory, kept across runs.
type scratch struct {
	f32 [][]float32
	f64 [][]float64
}

// scratchFor returns p slices of n elements each, reusing the memory of
// earlier calls when it is large enough.
func scratchFor[T Float](s *scratch, p, n int) [][]T {
	grow := func(bufs [][]T) [][]T {
		for len(bufs) < p {
			bufs = append(bufs, nil)
		}
		for i := range bufs[:p] {
			if cap(bufs[i]) < n {
				bufs[i] = make([]T, n)
			}
			bufs[i] = bufs[i][:n]
		}
		return bufs[:p]
	}
	switch any(*new(T)).(type) {
	case float32:
		s.f32 = any(grow(any(s.f32).([][]T))).([][]float32)
		return any(s.f32).([][]T)
	default:
		s.f64 = any(grow(any(s.f64).([][]T))).([][]float64)
		return any(s.f64).([][]T)
	}
}

// dense checks that v is a dense float tensor of the given rank (or any rank
// when rank < 0) and returns it.
func dense(op fmt.Stringer, name string, v G.Value, rank int) (*tensor.Dense, error) {
	t, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%v: %s must be a *tensor.Dense, got %T", op, name, v)
	}
	if dt := t.Dtype(); dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("%v: %s must be float32 or float64, got %v", op, name, dt)
	}
	if rank >= 0 && t.Dims() != rank {
		return nil, fmt.Errorf("%v: %s must have %d dimensions, got shape %v", op, name, rank, t.Shape())
	}
	return t, nil
}

// sameDtype reports an error unless all tensors share the first one's dtype.
func sameDtype(op fmt.Stringer, ts ...*tensor.Dense) error {
	for _, t := range ts[1:] {
		if t.Dtype() != ts[0].Dtype() {
			return fmt.Errorf("%v: mixed dtypes %v and %v", op, ts[0].Dtype(), t.Dtype())
		}
	}
	return nil
}

func checkArity(op G.Op, n int) error {
	if n != op.Arity() {
		return fmt.Errorf("%v: expected %d inputs, got %d", op, op.Arity(), n)
	}
	return nil
}

// shapeOf converts a DimSizer passed to InferShape into a shape.
func shapeOf(op fmt.Stringer, d G.DimSizer) (tensor.Shape, error) {
	s, ok := d.(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("%v: expected a tensor.Shape, got %T", op, d)
	}
	return s, nil
}

// data returns t's backing slice. Dense.Data builds it through reflection
// and allocates on every call; this does not.
func data[T Float](t *tensor.Dense) []T {
	switch any(*new(T)).(type) {
	case float32:
		s := t.Float32s()
		return *(*[]T)(unsafe.Pointer(&s))
	default:
		s := t.Float64s()
		return *(*[]T)(unsafe.Pointer(&s))
	}
}
