//go:build linux && amd64

package graph

import (
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/internal/blas"
	"github.com/centerloss-go/centerloss/internal/onednn"
)

// dnnlPlan is LeNet++'s convolutional trunk as oneDNN primitives, created
// once per graph (the batch size is part of every descriptor). The
// activations stay in the layout oneDNN's convolutions prefer (nChw16c on
// AVX-512) from the first convolution to the last pooling: the values of
// those nodes hold that layout, with the (N,C,H,W) shape of the plain
// tensor. The images enter in NCHW, and the last pooling hands fc1 NCHW.
type dnnlPlan struct {
	lib    *onednn.Library
	eng    *onednn.Engine
	act    onednn.Tag
	dt     onednn.DataType // of the activations and of the weights the convolutions read
	convs  []*dnnlConv
	prelus []*dnnlPReLU
	pools  []*dnnlPool
}

var tagNames = map[onednn.Tag]string{
	onednn.ABcd16b: "nChw16c", onednn.ABcd8b: "nChw8c", onednn.ACDB: "NHWC", onednn.ABCD: "NCHW",
}

// loadOneDNN opens oneDNN unless CENTERLOSS_BLAS keeps it out.
func loadOneDNN() (*onednn.Library, error) {
	if err := blas.OneDNNExcluded(); err != nil {
		return nil, err
	}
	return onednn.Load()
}

// bf16Available reports why the trunk cannot run in bfloat16 here, or nil.
func bf16Available() error {
	lib, err := loadOneDNN()
	if err != nil {
		return err
	}
	if !lib.HasBF16() {
		return fmt.Errorf("this CPU has no bfloat16 instructions (oneDNN's kernels are for %s; bf16 needs AVX512_BF16 or AMX)", lib.ISA)
	}
	return nil
}

// newDNNLPlan creates every primitive of the trunk for batches of n, in
// float32 or, with bf16, in bfloat16: activations and the weights the
// convolutions read are bfloat16, while the images, the master weights,
// the slopes and every parameter gradient stay float32 (the convolutions
// and PReLUs accumulate in float32 and write float32 weight gradients).
// In bfloat16 the nodes of the trunk hold their values in the first half of
// their float32 tensors.
func newDNNLPlan(n int, bf16 bool) (*dnnlPlan, error) {
	if bf16 {
		if err := bf16Available(); err != nil {
			return nil, err
		}
	}
	lib, err := loadOneDNN()
	if err != nil {
		return nil, err
	}
	eng, err := lib.NewEngine()
	if err != nil {
		return nil, err
	}
	p := &dnnlPlan{lib: lib, eng: eng, dt: onednn.DataF32}
	if bf16 {
		p.dt = onednn.DataBF16
	}
	if p.act, err = p.activationLayout(n); err != nil {
		return nil, err
	}
	in, h := 1, Rows
	for i, l := range convLayers {
		c, err := p.newConv(n, in, l.out, h, i == 0)
		if err != nil {
			return nil, fmt.Errorf("conv%s: %w", l.name, err)
		}
		p.convs = append(p.convs, c)
		pr, err := p.newPReLU(n, l.out, h)
		if err != nil {
			return nil, fmt.Errorf("prelu%s: %w", l.name, err)
		}
		p.prelus = append(p.prelus, pr)
		if i%2 == 1 {
			pl, err := p.newPool(n, l.out, h, i == len(convLayers)-1)
			if err != nil {
				return nil, fmt.Errorf("pool%d: %w", i/2+1, err)
			}
			p.pools = append(p.pools, pl)
			h /= 2
		}
		in = l.out
	}
	return p, nil
}

// activationLayout asks oneDNN which layout its convolution wants for
// LeNet++'s 28×28, 32-channel maps; the whole trunk then uses it.
func (p *dnnlPlan) activationLayout(n int) (onednn.Tag, error) {
	shape := []int{n, 32, Rows, Cols}
	anyAct, err := p.adesc(shape, onednn.Any)
	if err != nil {
		return 0, err
	}
	w, err := p.adesc([]int{32, 32, 5, 5}, onednn.Any)
	if err != nil {
		return 0, err
	}
	fwd, err := p.eng.ConvForward(onednn.ForwardTraining, anyAct, w, nil, anyAct, 2)
	if err != nil {
		return 0, err
	}
	chosen := fwd.Desc(onednn.ArgDst)
	for _, tag := range []onednn.Tag{onednn.ABcd16b, onednn.ABcd8b, onednn.ACDB, onednn.ABCD} {
		d, err := p.adesc(shape, tag)
		if err != nil {
			return 0, err
		}
		if p.lib.Equal(chosen, d) {
			return tag, nil
		}
	}
	return 0, errors.New("the convolution chose a layout other than nChw16c, nChw8c, NHWC or NCHW")
}

// desc describes a float32 tensor, adesc one in the activations' type.
func (p *dnnlPlan) desc(shape []int, tag onednn.Tag) (*onednn.Desc, error) {
	return p.lib.NewDesc(shape, onednn.DataF32, tag)
}

func (p *dnnlPlan) adesc(shape []int, tag onednn.Tag) (*onednn.Desc, error) {
	return p.lib.NewDesc(shape, p.dt, tag)
}

// floats allocates a float32 buffer that holds at least n bytes.
func floats(n int) []float32 { return make([]float32, (n+3)/4) }

// reorder converts one tensor between the caller's layout and a
// primitive's, through a buffer that holds the primitive's side. A nil
// *reorder stands for two layouts that are the same: its methods then pass
// the caller's memory through.
type reorder struct {
	p   *onednn.Primitive
	buf []float32
}

// newReorder copies from into to; own describes the side the buffer holds.
func (p *dnnlPlan) newReorder(from, to, own *onednn.Desc) (*reorder, error) {
	if p.lib.Equal(from, to) {
		return nil, nil
	}
	r, err := p.eng.Reorder(from, to)
	if err != nil {
		return nil, err
	}
	return &reorder{p: r, buf: floats(p.lib.Size(own))}, nil
}

// in converts x into the buffer and returns the buffer, or x itself.
func (r *reorder) in(x []float32) ([]float32, error) {
	if r == nil {
		return x, nil
	}
	return r.buf, r.p.Execute(onednn.F32(onednn.ArgFrom, x), onednn.F32(onednn.ArgTo, r.buf))
}

// stage is the primitive's side of y: the buffer, which out then copies
// into y (or which in filled from it), or y itself.
func (r *reorder) stage(y []float32) []float32 {
	if r == nil {
		return y
	}
	return r.buf
}

// out converts the buffer into y; nothing when the layouts are the same.
func (r *reorder) out(y []float32) error {
	if r == nil {
		return nil
	}
	return r.p.Execute(onednn.F32(onednn.ArgFrom, r.buf), onednn.F32(onednn.ArgTo, y))
}

// dnnlConv is one 5×5 convolution with padding 2: its forward pass, the
// gradients of its input (but for the first layer) and of its weights and
// bias, and the reorders between the weights' OIHW layout (the parameter's,
// PyTorch's) and the layouts the primitives chose.
type dnnlConv struct {
	in, out, w         tensor.Shape
	fwd, bwdData, bwdW *onednn.Primitive
	wFwd, wBwd         *reorder // the weights into the forward and backward-data layouts
	dw                 *reorder // the weight gradient back to OIHW
	src                *reorder // first layer in bfloat16: the images to bfloat16, for both passes
	db                 []float32
}

func (p *dnnlPlan) newConv(n, cin, co, h int, first bool) (*dnnlConv, error) {
	c := &dnnlConv{in: tensor.Shape{n, cin, h, h}, out: tensor.Shape{n, co, h, h}, w: tensor.Shape{co, cin, 5, 5}}
	srcTag := p.act
	if first {
		srcTag = onednn.ABCD // one channel: the images as they are
	}
	src, err1 := p.adesc(c.in, srcTag)
	dst, err2 := p.adesc(c.out, p.act)
	wAny, err3 := p.adesc(c.w, onednn.Any)
	dwAny, err4 := p.desc(c.w, onednn.Any)
	wPlain, err5 := p.desc(c.w, onednn.ABCD)
	bias, err6 := p.desc([]int{co}, onednn.A)
	images, err7 := p.desc(c.in, onednn.ABCD)
	if err := errors.Join(err1, err2, err3, err4, err5, err6, err7); err != nil {
		return nil, err
	}
	var err error
	if first {
		if c.src, err = p.newReorder(images, src, src); err != nil {
			return nil, err
		}
	}
	if c.fwd, err = p.eng.ConvForward(onednn.ForwardTraining, src, wAny, bias, dst, 2); err != nil {
		return nil, err
	}
	wFwd := c.fwd.Desc(onednn.ArgWeights)
	if c.wFwd, err = p.newReorder(wPlain, wFwd, wFwd); err != nil {
		return nil, err
	}
	if !first {
		if c.bwdData, err = p.eng.ConvBackwardData(src, wAny, dst, 2, c.fwd); err != nil {
			return nil, err
		}
		wBwd := c.bwdData.Desc(onednn.ArgWeights)
		if c.wBwd, err = p.newReorder(wPlain, wBwd, wBwd); err != nil {
			return nil, err
		}
	}
	if c.bwdW, err = p.eng.ConvBackwardWeights(src, dwAny, bias, dst, 2, c.fwd); err != nil {
		return nil, err
	}
	dw := c.bwdW.Desc(onednn.ArgDiffWeights)
	if c.dw, err = p.newReorder(dw, wPlain, dw); err != nil {
		return nil, err
	}
	c.db = make([]float32, co)
	return c, nil
}

// dnnlPReLU is a per-channel PReLU on the trunk's layout; the slopes, a (C)
// vector, are the bytes of a 1×C×1×1 tensor in that layout too.
type dnnlPReLU struct {
	shape    tensor.Shape
	fwd, bwd *onednn.Primitive
	da       []float32
}

func (p *dnnlPlan) newPReLU(n, c, h int) (*dnnlPReLU, error) {
	pr := &dnnlPReLU{shape: tensor.Shape{n, c, h, h}, da: make([]float32, c)}
	data, err1 := p.adesc(pr.shape, p.act)
	// The slopes (float32) in the data's own layout: the generated kernel
	// wants that.
	w, err2 := p.desc([]int{1, c, 1, 1}, p.act)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if p.lib.Size(w) != 4*c {
		return nil, fmt.Errorf("%d slopes take %d bytes in the trunk's layout", c, p.lib.Size(w))
	}
	var err error
	if pr.fwd, err = p.eng.PReLUForward(onednn.ForwardTraining, data, w); err != nil {
		return nil, err
	}
	if pr.bwd, err = p.eng.PReLUBackward(data, w, data, w, pr.fwd); err != nil {
		return nil, err
	}
	return pr, nil
}

// dnnlPool is a 2×2 max pooling with stride 2, rounding down (7 -> 3). The
// forward pass records the position of each maximum in a workspace, which
// the backward pass reads. The last one also reorders its output to NCHW
// for fc1, and the gradient coming back from fc1 to the trunk's layout.
type dnnlPool struct {
	in, out  tensor.Shape
	fwd, bwd *onednn.Primitive
	ws       []byte
	toPlain  *reorder // last pooling only: its output to NCHW,
	toAct    *reorder // and its output gradient back to the trunk's layout
}

func (p *dnnlPlan) newPool(n, c, h int, last bool) (*dnnlPool, error) {
	oh := h / 2
	pl := &dnnlPool{in: tensor.Shape{n, c, h, h}, out: tensor.Shape{n, c, oh, oh}}
	src, err1 := p.adesc(pl.in, p.act)
	dst, err2 := p.adesc(pl.out, p.act)
	plain, err3 := p.desc(pl.out, onednn.ABCD)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	padR := 2*oh - h // -1 for an odd size: the last row and column are dropped
	var err error
	if pl.fwd, err = p.eng.MaxPoolForward(onednn.ForwardTraining, src, dst, 2, padR); err != nil {
		return nil, err
	}
	if pl.bwd, err = p.eng.MaxPoolBackward(src, dst, 2, padR, pl.fwd); err != nil {
		return nil, err
	}
	pl.ws = make([]byte, pl.fwd.Size(onednn.ArgWorkspace))
	if last {
		if pl.toPlain, err = p.newReorder(dst, plain, dst); err != nil {
			return nil, err
		}
		if pl.toAct, err = p.newReorder(plain, dst, dst); err != nil {
			return nil, err
		}
	}
	return pl, nil
}

// describe names the kernels oneDNN chose, for the run's log.
func (p *dnnlPlan) describe() string {
	var conv, pool, prelu []string
	add := func(list *[]string, s string) {
		if s != "" && !slices.Contains(*list, s) {
			*list = append(*list, s)
		}
	}
	for _, c := range p.convs {
		add(&conv, c.fwd.Implementation())
		if c.bwdData != nil {
			add(&conv, c.bwdData.Implementation())
		}
		add(&conv, c.bwdW.Implementation())
	}
	for _, pl := range p.pools {
		add(&pool, pl.fwd.Implementation())
	}
	for _, pr := range p.prelus {
		add(&prelu, pr.fwd.Implementation())
	}
	precision := "float32"
	if p.dt == onednn.DataBF16 {
		precision = "bfloat16"
	}
	return fmt.Sprintf("oneDNN %s primitives in %s (convolution %s, pooling %s, PReLU %s; %s; %s, %d threads, %s)",
		p.lib.Version, precision, strings.Join(conv, "/"), strings.Join(pool, "/"), strings.Join(prelu, "/"),
		tagNames[p.act], p.lib.Runtime, p.lib.Threads, p.lib.ISA)
}

// layers returns the trunk's layers for build; they must be called in
// LeNet++'s order, which build does.
func (p *dnnlPlan) layers() layers {
	var nc, np, npool int
	return layers{
		conv: func(x, w, b *G.Node) (*G.Node, error) {
			c := p.convs[nc]
			nc++
			return c.apply(x, w, b)
		},
		prelu: func(x, a *G.Node) (*G.Node, error) {
			if np >= len(p.prelus) {
				return PReLU(x, a) // prelu_fc1, on the 2-D features
			}
			pr := p.prelus[np]
			np++
			return pr.apply(x, a)
		},
		pool: func(x *G.Node) (*G.Node, error) {
			pl := p.pools[npool]
			npool++
			return pl.apply(x)
		},
		fc: Linear,
	}
}

// dnnlOp is a gorgonia op that runs oneDNN primitives: a name, the shapes
// of its inputs and output, and the function that fills its output.
type dnnlOp struct {
	opBase
	name string
	in   []tensor.Shape
	out  tensor.Shape
	run  func(in [][]float32, out []float32) error
	diff func(in G.Nodes, grad *G.Node) (G.Nodes, error) // nil: no gradient
	wrt  []bool
	buf  buffer
}

func (op *dnnlOp) Arity() int { return len(op.in) }
func (op *dnnlOp) Type() hm.Type {
	t := hm.TypeVariable('a')
	ts := make([]hm.Type, 0, len(op.in)+1)
	for _, s := range op.in {
		ts = append(ts, tensorType(len(s), t))
	}
	return hm.NewFnType(append(ts, tensorType(len(op.out), t))...)
}
func (op *dnnlOp) String() string        { return fmt.Sprintf("%s%v", op.name, op.in) }
func (op *dnnlOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *dnnlOp) Hashcode() uint32      { return hashcode(op) }
func (op *dnnlOp) DiffWRT(n int) []bool {
	if op.wrt == nil {
		return make([]bool, n)
	}
	return op.wrt
}
func (op *dnnlOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != len(op.in) {
		return nil, fmt.Errorf("%v: expected %d inputs, got %d", op, len(op.in), len(in))
	}
	return op.out.Clone(), nil
}

func (op *dnnlOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.diff == nil {
		return nil, fmt.Errorf("%v has no gradient", op)
	}
	return op.diff(in, grad)
}

func (op *dnnlOp) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	xs := make([][]float32, len(in))
	for i, v := range in {
		t, ok := v.(*tensor.Dense)
		if !ok || t.Dtype() != tensor.Float32 || !t.Shape().Eq(op.in[i]) {
			return nil, fmt.Errorf("%v: input %d is %v, want a float32 tensor of shape %v", op, i, describeValue(v), op.in[i])
		}
		xs[i] = t.Float32s()
	}
	y := op.buf.get(tensor.Float32, op.out...)
	if err := op.run(xs, y.Float32s()); err != nil {
		return nil, fmt.Errorf("%v: %w", op, err)
	}
	return y, nil
}

func describeValue(v G.Value) string {
	if t, ok := v.(tensor.Tensor); ok {
		return fmt.Sprintf("%v %v", t.Dtype(), t.Shape())
	}
	return fmt.Sprintf("%T", v)
}

func apply(op *dnnlOp, in ...*G.Node) (*G.Node, error) { return G.ApplyOp(op, in...) }

func (c *dnnlConv) apply(x, w, b *G.Node) (*G.Node, error) {
	first := c.bwdData == nil
	fwd := &dnnlOp{
		name: "oneDNN.Conv2d", in: []tensor.Shape{c.in, c.w, {c.w[0]}}, out: c.out,
		wrt: []bool{!first, true, true},
		run: func(in [][]float32, y []float32) error {
			w, err := c.wFwd.in(in[1])
			if err != nil {
				return err
			}
			x, err := c.src.in(in[0])
			if err != nil {
				return err
			}
			return c.fwd.Execute(onednn.F32(onednn.ArgSrc, x), onednn.F32(onednn.ArgWeights, w),
				onednn.F32(onednn.ArgBias, in[2]), onednn.F32(onednn.ArgDst, y))
		},
	}
	fwd.diff = func(in G.Nodes, grad *G.Node) (G.Nodes, error) {
		var dx *G.Node
		if !first {
			var err error
			if dx, err = apply(&dnnlOp{
				name: "oneDNN.Conv2dGradInput", in: []tensor.Shape{c.w, c.out}, out: c.in,
				run: func(in [][]float32, dx []float32) error {
					w, err := c.wBwd.in(in[0])
					if err != nil {
						return err
					}
					return c.bwdData.Execute(onednn.F32(onednn.ArgWeights, w), onednn.F32(onednn.ArgDiffDst, in[1]), onednn.F32(onednn.ArgDiffSrc, dx))
				},
			}, in[1], grad); err != nil {
				return nil, err
			}
		}
		dw, err := apply(&dnnlOp{
			name: "oneDNN.Conv2dGradFilter", in: []tensor.Shape{c.in, c.out}, out: c.w,
			run: func(in [][]float32, dw []float32) error {
				// One primitive computes both gradients; the bias's waits in
				// c.db for the op below.
				// The images as the forward pass converted them.
				x := c.src.stage(in[0])
				if err := c.bwdW.Execute(onednn.F32(onednn.ArgSrc, x), onednn.F32(onednn.ArgDiffDst, in[1]),
					onednn.F32(onednn.ArgDiffWeights, c.dw.stage(dw)), onednn.F32(onednn.ArgDiffBias, c.db)); err != nil {
					return err
				}
				return c.dw.out(dw)
			},
		}, in[0], grad)
		if err != nil {
			return nil, err
		}
		// Taking dw as its input orders this op after the one that fills c.db.
		db, err := apply(&dnnlOp{
			name: "oneDNN.Conv2dGradBias", in: []tensor.Shape{c.w}, out: tensor.Shape{c.w[0]},
			run: func(_ [][]float32, db []float32) error { copy(db, c.db); return nil },
		}, dw)
		if err != nil {
			return nil, err
		}
		return G.Nodes{dx, dw, db}, nil
	}
	return apply(fwd, x, w, b)
}

func (pr *dnnlPReLU) apply(x, a *G.Node) (*G.Node, error) {
	c := pr.shape[1]
	fwd := &dnnlOp{
		name: "oneDNN.PReLU", in: []tensor.Shape{pr.shape, {c}}, out: pr.shape, wrt: []bool{true, true},
		run: func(in [][]float32, y []float32) error {
			return pr.fwd.Execute(onednn.F32(onednn.ArgSrc, in[0]), onednn.F32(onednn.ArgWeights, in[1]), onednn.F32(onednn.ArgDst, y))
		},
	}
	fwd.diff = func(in G.Nodes, grad *G.Node) (G.Nodes, error) {
		dx, err := apply(&dnnlOp{
			name: "oneDNN.PReLUGrad", in: []tensor.Shape{pr.shape, {c}, pr.shape}, out: pr.shape,
			run: func(in [][]float32, dx []float32) error {
				return pr.bwd.Execute(onednn.F32(onednn.ArgSrc, in[0]), onednn.F32(onednn.ArgWeights, in[1]),
					onednn.F32(onednn.ArgDiffDst, in[2]), onednn.F32(onednn.ArgDiffSrc, dx), onednn.F32(onednn.ArgDiffWeights, pr.da))
			},
		}, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		// Taking dx as its input orders this op after the one that fills pr.da.
		da, err := apply(&dnnlOp{
			name: "oneDNN.PReLUGradSlope", in: []tensor.Shape{pr.shape}, out: tensor.Shape{c},
			run: func(_ [][]float32, da []float32) error { copy(da, pr.da); return nil },
		}, dx)
		if err != nil {
			return nil, err
		}
		return G.Nodes{dx, da}, nil
	}
	return apply(fwd, x, a)
}

func (pl *dnnlPool) apply(x *G.Node) (*G.Node, error) {
	fwd := &dnnlOp{
		name: "oneDNN.MaxPool2x2", in: []tensor.Shape{pl.in}, out: pl.out, wrt: []bool{true},
		run: func(in [][]float32, y []float32) error {
			if err := pl.fwd.Execute(onednn.F32(onednn.ArgSrc, in[0]), onednn.F32(onednn.ArgDst, pl.toPlain.stage(y)), onednn.Bytes(onednn.ArgWorkspace, pl.ws)); err != nil {
				return err
			}
			return pl.toPlain.out(y)
		},
	}
	var y *G.Node
	fwd.diff = func(_ G.Nodes, grad *G.Node) (G.Nodes, error) {
		// Taking y as its input orders this op after the forward pass that
		// wrote the workspace.
		dx, err := apply(&dnnlOp{
			name: "oneDNN.MaxPool2x2Grad", in: []tensor.Shape{pl.out, pl.out}, out: pl.in,
			run: func(in [][]float32, dx []float32) error {
				dy, err := pl.toAct.in(in[1])
				if err != nil {
					return err
				}
				return pl.bwd.Execute(onednn.F32(onednn.ArgDiffDst, dy), onednn.Bytes(onednn.ArgWorkspace, pl.ws), onednn.F32(onednn.ArgDiffSrc, dx))
			},
		}, y, grad)
		return G.Nodes{dx}, err
	}
	var err error
	y, err = apply(fwd, x)
	return y, err
}
