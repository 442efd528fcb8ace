//go:build linux && amd64

package graph

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/internal/onednn"
)

// dnnlPlan is LeNet++'s convolutional trunk as oneDNN primitives, created
// once per graph (the batch size is part of every descriptor), and one
// gorgonia op for its forward pass and one for its backward pass. The
// activations stay in the plan's buffers, in the layout oneDNN's
// convolutions prefer (nChw16c on AVX-512, NHWC for bfloat16 on AMX),
// from the first convolution to the last pooling; the images enter in
// NCHW, and the last pooling hands fc1 float32 NCHW.
//
// No primitive of a plan runs oneDNN's reference loop, which is tens of
// times slower than its generated kernels: each is chosen from candidates
// (see conv, prelu and pool), and a plan that finds none for some layer
// fails, so that the caller runs its own kernels or says why it cannot.
type dnnlPlan struct {
	lib    *onednn.Library
	eng    *onednn.Engine
	act    onednn.Tag
	dt     onednn.DataType // of the activations and of the weights the convolutions read
	convs  []*dnnlConv
	prelus []*dnnlPReLU
	pools  []*dnnlPool
	notes  []string // the choices that depart from the plain plan, for describe

	// The activations in the trunk's layout and type: the outputs of the
	// convolutions, the PReLUs and the first two poolings (the last one's
	// is the trunk op's value), and the gradients of activations, in
	// two buffers that the backward primitives write in turn.
	conv, prelu, pool [][]float32
	diff              [2][]float32
	acts              map[string]*planActivation // by the names of Net.Activation
	ran               bool                       // whether a forward pass has filled the activations
	grads             []gradPart                 // the parameters, in the trunk op's order
	gradSize          int                        // the number of their entries
}

var tagNames = map[onednn.Tag]string{
	onednn.ABcd16b: "nChw16c", onednn.ABcd8b: "nChw8c", onednn.ACDB: "NHWC", onednn.ABCD: "NCHW",
}

var typeNames = map[onednn.DataType]string{onednn.DataF32: "float32", onednn.DataBF16: "bfloat16"}

// planHooks let tests and benchmarks steer a plan: reject turns down a
// candidate primitive by its description (as if oneDNN had only its
// reference loop for it), act forces the activations' layout.
var planHooks struct {
	reject func(what string) bool
	act    onednn.Tag
}

// loadOneDNN returns the oneDNN this process has opened (see openOneDNN),
// or opens the default one.
func loadOneDNN() (*onednn.Library, error) { return onednn.Load() }

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
// and PReLUs accumulate in float32).
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
		c, err := p.newConv("conv"+l.name, n, in, l.out, h, i == 0)
		if err != nil {
			return nil, err
		}
		p.convs = append(p.convs, c)
		pr, err := p.newPReLU("prelu"+l.name, n, l.out, h)
		if err != nil {
			return nil, err
		}
		p.prelus = append(p.prelus, pr)
		if i%2 == 1 {
			pl, err := p.newPool(poolName(i/2), n, l.out, h, i == len(convLayers)-1)
			if err != nil {
				return nil, err
			}
			p.pools = append(p.pools, pl)
			h /= 2
		}
		in = l.out
	}
	if err := p.allocate(); err != nil {
		return nil, err
	}
	return p, nil
}

// allocate makes the buffers of the activations and their gradients, and
// lays out the parameters' gradients in one vector.
func (p *dnnlPlan) allocate() error {
	p.acts = map[string]*planActivation{}
	d := descs{lib: p.lib}
	hold := func(name string, s tensor.Shape) []float32 {
		desc := d.of(s, p.dt, p.act)
		if d.err != nil {
			return nil
		}
		buf := floats(p.lib.Size(desc))
		p.acts[name] = &planActivation{buf: buf, shape: s}
		for k := range p.diff {
			if len(p.diff[k]) < len(buf) {
				p.diff[k] = make([]float32, len(buf))
			}
		}
		return buf
	}
	off := 0
	for i, l := range convLayers {
		c := p.convs[i]
		p.conv = append(p.conv, hold("conv"+l.name, c.out))
		p.prelu = append(p.prelu, hold("prelu"+l.name, c.out))
		if i%2 == 1 && i < len(convLayers)-1 {
			p.pool = append(p.pool, hold(poolName(i/2), p.pools[i/2].out))
		}
		for _, q := range []gradPart{{name: "conv" + l.name + ".weight", shape: c.w}, {name: "conv" + l.name + ".bias", shape: c.w[:1]},
			{name: "prelu" + l.name + ".weight", shape: c.w[:1]}} {
			q.off, off = off, off+q.shape.TotalSize()
			p.grads = append(p.grads, q)
		}
	}
	p.gradSize = off
	return d.err
}

// activationLayout asks oneDNN which layout its convolution wants for
// LeNet++'s 28×28, 32-channel maps; the whole trunk then uses it.
func (p *dnnlPlan) activationLayout(n int) (onednn.Tag, error) {
	if planHooks.act != 0 {
		return planHooks.act, nil
	}
	shape := []int{n, 32, Rows, Cols}
	anyAct, err := p.lib.NewDesc(shape, p.dt, onednn.Any)
	if err != nil {
		return 0, err
	}
	w, err := p.lib.NewDesc([]int{32, 32, 5, 5}, p.dt, onednn.Any)
	if err != nil {
		return 0, err
	}
	fwd, err := p.eng.ConvForward(onednn.ForwardTraining, anyAct, w, nil, anyAct, 2)
	if err != nil {
		return 0, err
	}
	chosen := fwd.Desc(onednn.ArgDst)
	for _, tag := range []onednn.Tag{onednn.ABcd16b, onednn.ABcd8b, onednn.ACDB, onednn.ABCD} {
		d, err := p.lib.NewDesc(shape, p.dt, tag)
		if err != nil {
			return 0, err
		}
		if p.lib.Equal(chosen, d) {
			return tag, nil
		}
	}
	return 0, errors.New("the convolution chose a layout other than nChw16c, nChw8c, NHWC or NCHW")
}

// descs describes the tensors of one primitive; the first error sticks.
type descs struct {
	lib *onednn.Library
	err error
}

func (d *descs) of(shape []int, dt onednn.DataType, tag onednn.Tag) *onednn.Desc {
	if d.err != nil {
		return nil
	}
	var m *onednn.Desc
	m, d.err = d.lib.NewDesc(shape, dt, tag)
	return m
}

// floats allocates a float32 buffer that holds at least n bytes.
func floats(n int) []float32 { return make([]float32, (n+3)/4) }

// prim is a primitive together with the descriptors of what the trunk's
// tensors hold for its arguments. Where the primitive chose another layout
// or element type for an argument (the weights' blocked layouts, bfloat16
// weights, a layer computed in float32 inside a bfloat16 trunk), a reorder
// converts it: inputs before the primitive runs, outputs after.
type prim struct {
	*onednn.Primitive
	what     string
	reorders []*reorder
}

// reorder converts one argument of a prim between the trunk's side and the
// primitive's, through a buffer that holds the primitive's side.
type reorder struct {
	*onednn.Primitive
	kind int  // the argument
	out  bool // the primitive's output, converted after it runs
	buf  []float32
}

// arg is one argument of a primitive as the trunk holds it.
type arg struct {
	kind int
	desc *onednn.Desc
}

// outputs are the argument kinds a primitive writes.
var outputs = map[int]bool{onednn.ArgDst: true, onednn.ArgDiffSrc: true, onednn.ArgDiffWeights: true, onednn.ArgDiffBias: true}

// accept checks that q is no reference loop (nor turned down by the test
// hook) and adds the reorders from the trunk's descriptors outer to the
// primitive's own; it fails when one of those is a reference loop too.
func (p *dnnlPlan) accept(what string, q *onednn.Primitive, err error, outer ...arg) (*prim, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := p.usable(what, q); err != nil {
		return nil, err
	}
	pr := &prim{Primitive: q, what: what}
	for _, a := range outer {
		own := q.Desc(a.kind)
		if p.lib.Equal(a.desc, own) {
			continue
		}
		from, to := a.desc, own
		if outputs[a.kind] {
			from, to = own, a.desc
		}
		r, err := p.eng.Reorder(from, to)
		if err != nil {
			return nil, fmt.Errorf("%s: reorder of argument %d: %w", what, a.kind, err)
		}
		if err := p.usable(what+" reorder", r); err != nil {
			return nil, err
		}
		pr.reorders = append(pr.reorders, &reorder{Primitive: r, kind: a.kind, out: outputs[a.kind], buf: floats(p.lib.Size(own))})
	}
	return pr, nil
}

// usable rejects oneDNN's reference loops.
func (p *dnnlPlan) usable(what string, q *onednn.Primitive) error {
	impl := q.Implementation()
	if strings.HasPrefix(impl, "ref") || planHooks.reject != nil && planHooks.reject(what) {
		return fmt.Errorf("%s: oneDNN offers only its reference loop (%s)", what, impl)
	}
	return nil
}

// run executes the primitive on args given as the trunk holds them.
func (q *prim) run(args ...onednn.Arg) error {
	var saved [8]onednn.Arg // the trunk's side of the arguments converted
	for _, r := range q.reorders {
		for i, a := range args {
			if a.Kind != r.kind {
				continue
			}
			saved[i] = a
			if !r.out {
				if err := r.Execute(onednn.Arg{Kind: onednn.ArgFrom, Data: a.Data}, onednn.F32(onednn.ArgTo, r.buf)); err != nil {
					return fmt.Errorf("%s: reorder of argument %d: %w", q.what, r.kind, err)
				}
			}
			args[i] = onednn.F32(a.Kind, r.buf)
		}
	}
	if err := q.Execute(args...); err != nil {
		return fmt.Errorf("%s: %w", q.what, err)
	}
	for _, r := range q.reorders {
		for i, a := range args {
			if a.Kind == r.kind && r.out {
				if err := r.Execute(onednn.F32(onednn.ArgFrom, r.buf), onednn.Arg{Kind: onednn.ArgTo, Data: saved[i].Data}); err != nil {
					return fmt.Errorf("%s: reorder of argument %d: %w", q.what, r.kind, err)
				}
			}
		}
	}
	return nil
}

// dnnlConv is one 5×5 convolution with padding 2: its forward pass, the
// gradient of its input (but for the first layer) and those of its weights
// and bias, each with the reorders between the parameters' layouts
// (PyTorch's OIHW, float32) and the ones the primitives chose.
type dnnlConv struct {
	in, out, w         tensor.Shape
	fwd, bwdData, bwdW *prim
}

// newConv chooses each of the three primitives of a convolution on its
// own, the first candidate with a generated kernel, in this order:
//   - the trunk's type, then float32 (in a bfloat16 trunk, for a layer
//     without a bfloat16 kernel);
//   - for the first layer, whose one-channel images are the same bytes in
//     NCHW and NHWC, the source in NHWC where that is the trunk's layout
//     (oneDNN's AMX kernels take no other), then NCHW, then a blocked
//     trunk layout (the images padded with zero channels);
//   - bfloat16 weight gradients in a bfloat16 layer, as PyTorch's autocast
//     asks for, then float32 ones.
//
// The reorders of prim bridge the choices: a backward primitive may read
// another layout or type than the forward one wrote.
func (p *dnnlPlan) newConv(name string, n, cin, co, h int, first bool) (*dnnlConv, error) {
	c := &dnnlConv{in: tensor.Shape{n, cin, h, h}, out: tensor.Shape{n, co, h, h}, w: tensor.Shape{co, cin, 5, 5}}
	d := descs{lib: p.lib}
	// What the trunk holds: the images or its activations, the
	// parameters in float32.
	src := d.of(c.in, p.dt, p.act)
	if first {
		src = d.of(c.in, onednn.DataF32, onednn.ABCD)
	}
	act := d.of(c.out, p.dt, p.act)
	wPlain := d.of(c.w, onednn.DataF32, onednn.ABCD)
	bias := d.of([]int{co}, onednn.DataF32, onednn.A)
	if d.err != nil {
		return nil, d.err
	}
	srcTags := []onednn.Tag{p.act}
	if first {
		srcTags = []onednn.Tag{onednn.ABCD, onednn.ACDB}
		if p.act == onednn.ACDB {
			srcTags = []onednn.Tag{onednn.ACDB, onednn.ABCD}
		} else if p.act != onednn.ABCD {
			srcTags = append(srcTags, p.act)
		}
	}
	// A convolution in one type with one source layout: the forward
	// primitive, which is also the hint its backward primitives need.
	type form struct {
		dt  onednn.DataType
		tag onednn.Tag
	}
	var forms []form
	for _, dt := range p.inTypes() {
		for _, tag := range srcTags {
			forms = append(forms, form{dt, tag})
		}
	}
	type fwdOf struct {
		q   *onednn.Primitive
		err error
	}
	fwds := map[form]fwdOf{}
	forward := func(f form) (*onednn.Primitive, *onednn.Desc, *onednn.Desc, *onednn.Desc, error) {
		d := descs{lib: p.lib}
		own, dst, wAny := d.of(c.in, f.dt, f.tag), d.of(c.out, f.dt, p.act), d.of(c.w, f.dt, onednn.Any)
		if d.err != nil {
			return nil, nil, nil, nil, d.err
		}
		r, ok := fwds[f]
		if !ok {
			r.q, r.err = p.eng.ConvForward(onednn.ForwardTraining, own, wAny, bias, dst, 2)
			fwds[f] = r
		}
		return r.q, own, dst, wAny, r.err
	}
	describe := func(f form, role string, more ...string) string {
		s := fmt.Sprintf("%s %s in %s", name, role, typeNames[f.dt])
		if first {
			more = append([]string{"source " + tagNames[f.tag]}, more...)
		}
		if len(more) > 0 {
			s += " (" + strings.Join(more, ", ") + ")"
		}
		return s
	}
	var errs []error
	choose := func(role string, candidates int, try func(i int) (*prim, error)) *prim {
		var q *prim
		i, err := firstWorking(candidates, func(i int) (err error) {
			q, err = try(i)
			return err
		})
		if err != nil {
			errs = append(errs, err, fmt.Errorf("%s %s: no candidate with a generated kernel", name, role))
			return nil
		}
		if i > 0 {
			p.notes = append(p.notes, q.what)
		}
		return q
	}
	c.fwd = choose("forward", len(forms), func(i int) (*prim, error) {
		q, _, _, _, err := forward(forms[i])
		return p.accept(describe(forms[i], "forward"), q, err,
			arg{onednn.ArgSrc, src}, arg{onednn.ArgWeights, wPlain}, arg{onednn.ArgBias, bias}, arg{onednn.ArgDst, act})
	})
	if !first && c.fwd != nil {
		c.bwdData = choose("backward data", len(forms), func(i int) (*prim, error) {
			hint, own, dst, wAny, err := forward(forms[i])
			if err != nil {
				return nil, err
			}
			q, err := p.eng.ConvBackwardData(own, wAny, dst, 2, hint)
			return p.accept(describe(forms[i], "backward data"), q, err,
				arg{onednn.ArgWeights, wPlain}, arg{onednn.ArgDiffDst, act}, arg{onednn.ArgDiffSrc, src})
		})
	}
	if c.fwd != nil && (first || c.bwdData != nil) {
		// Each form with the weight gradient in its own type, then float32.
		type wform struct {
			form
			dw onednn.DataType
		}
		var wforms []wform
		for _, f := range forms {
			wforms = append(wforms, wform{f, f.dt})
			if f.dt != onednn.DataF32 {
				wforms = append(wforms, wform{f, onednn.DataF32})
			}
		}
		c.bwdW = choose("backward weights", len(wforms), func(i int) (*prim, error) {
			f := wforms[i]
			hint, own, dst, _, err := forward(f.form)
			if err != nil {
				return nil, err
			}
			dwAny, err := p.lib.NewDesc(c.w, f.dw, onednn.Any)
			if err != nil {
				return nil, err
			}
			q, err := p.eng.ConvBackwardWeights(own, dwAny, bias, dst, 2, hint)
			return p.accept(describe(f.form, "backward weights", "weight gradient "+typeNames[f.dw]), q, err,
				arg{onednn.ArgSrc, src}, arg{onednn.ArgDiffDst, act}, arg{onednn.ArgDiffWeights, wPlain}, arg{onednn.ArgDiffBias, bias})
		})
	}
	if c.fwd == nil || (!first && c.bwdData == nil) || c.bwdW == nil {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// inTypes are the element types a layer of the trunk may run in: the
// trunk's, then float32 for a layer with no bfloat16 kernel.
func (p *dnnlPlan) inTypes() []onednn.DataType {
	if p.dt == onednn.DataF32 {
		return []onednn.DataType{p.dt}
	}
	return []onednn.DataType{p.dt, onednn.DataF32}
}

// dnnlPReLU is a per-channel PReLU on the trunk's layout; the slopes, a (C)
// vector, are the bytes of a 1×C×1×1 float32 tensor in that layout too.
type dnnlPReLU struct {
	shape    tensor.Shape
	fwd, bwd *prim
}

func (p *dnnlPlan) newPReLU(name string, n, c, h int) (*dnnlPReLU, error) {
	pr := &dnnlPReLU{shape: tensor.Shape{n, c, h, h}}
	d := descs{lib: p.lib}
	act := d.of(pr.shape, p.dt, p.act)
	// The slopes in the data's own layout: the generated kernel wants that.
	w := d.of([]int{1, c, 1, 1}, onednn.DataF32, p.act)
	if d.err != nil {
		return nil, d.err
	}
	if p.lib.Size(w) != 4*c {
		return nil, fmt.Errorf("%s: %d slopes take %d bytes in the trunk's layout", name, c, p.lib.Size(w))
	}
	types := p.inTypes()
	i, err := firstWorking(len(types), func(i int) error {
		what := fmt.Sprintf("%s in %s", name, typeNames[types[i]])
		data, err := p.lib.NewDesc(pr.shape, types[i], p.act)
		if err != nil {
			return err
		}
		q, err := p.eng.PReLUForward(onednn.ForwardTraining, data, w)
		if pr.fwd, err = p.accept(what+" forward", q, err, arg{onednn.ArgSrc, act}, arg{onednn.ArgDst, act}); err != nil {
			return err
		}
		q, err = p.eng.PReLUBackward(data, w, data, w, pr.fwd.Primitive)
		pr.bwd, err = p.accept(what+" backward", q, err, arg{onednn.ArgSrc, act}, arg{onednn.ArgDiffDst, act}, arg{onednn.ArgDiffSrc, act})
		return err
	})
	if err != nil {
		return nil, err
	}
	p.noteType(name, types[i])
	return pr, nil
}

// dnnlPool is a 2×2 max pooling with stride 2, rounding down (7 -> 3). The
// forward pass records the position of each maximum in a workspace, which
// the backward pass reads. The last one hands fc1 its output in NCHW, and
// takes the gradient coming back from fc1 in NCHW.
type dnnlPool struct {
	in, out  tensor.Shape
	fwd, bwd *prim
	ws       []byte
}

func (p *dnnlPlan) newPool(name string, n, c, h int, last bool) (*dnnlPool, error) {
	oh := h / 2
	pl := &dnnlPool{in: tensor.Shape{n, c, h, h}, out: tensor.Shape{n, c, oh, oh}}
	d := descs{lib: p.lib}
	in := d.of(pl.in, p.dt, p.act)
	out := d.of(pl.out, p.dt, p.act)
	if last {
		out = d.of(pl.out, onednn.DataF32, onednn.ABCD)
	}
	if d.err != nil {
		return nil, d.err
	}
	padR := 2*oh - h // -1 for an odd size: the last row and column are dropped
	types := p.inTypes()
	i, err := firstWorking(len(types), func(i int) error {
		what := fmt.Sprintf("%s in %s", name, typeNames[types[i]])
		d := descs{lib: p.lib}
		src, dst := d.of(pl.in, types[i], p.act), d.of(pl.out, types[i], p.act)
		if d.err != nil {
			return d.err
		}
		q, err := p.eng.MaxPoolForward(onednn.ForwardTraining, src, dst, 2, padR)
		if pl.fwd, err = p.accept(what+" forward", q, err, arg{onednn.ArgSrc, in}, arg{onednn.ArgDst, out}); err != nil {
			return err
		}
		q, err = p.eng.MaxPoolBackward(src, dst, 2, padR, pl.fwd.Primitive)
		pl.bwd, err = p.accept(what+" backward", q, err, arg{onednn.ArgDiffDst, out}, arg{onednn.ArgDiffSrc, in})
		return err
	})
	if err != nil {
		return nil, err
	}
	p.noteType(name, types[i])
	pl.ws = make([]byte, pl.fwd.Size(onednn.ArgWorkspace))
	return pl, nil
}

// firstWorking calls try on the candidates 0, 1, ... until one succeeds
// and returns its number, or -1 and every candidate's error.
func firstWorking(candidates int, try func(i int) error) (int, error) {
	var errs []error
	for i := range candidates {
		err := try(i)
		if err == nil {
			return i, nil
		}
		errs = append(errs, err)
	}
	return -1, errors.Join(errs...)
}

// noteType records a layer that runs in another type than the trunk's.
func (p *dnnlPlan) noteType(name string, dt onednn.DataType) {
	if dt != p.dt {
		p.notes = append(p.notes, fmt.Sprintf("%s in %s", name, typeNames[dt]))
	}
}

// primitives lists every primitive of the plan, its reorders included.
func (p *dnnlPlan) primitives() []*prim {
	var all []*prim
	for _, c := range p.convs {
		all = append(all, c.fwd, c.bwdW)
		if c.bwdData != nil {
			all = append(all, c.bwdData)
		}
	}
	for _, pr := range p.prelus {
		all = append(all, pr.fwd, pr.bwd)
	}
	for _, pl := range p.pools {
		all = append(all, pl.fwd, pl.bwd)
	}
	return all
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
	notes := ""
	if len(p.notes) > 0 {
		notes = "; " + strings.Join(p.notes, ", ")
	}
	return fmt.Sprintf("oneDNN %s primitives in %s (convolution %s, pooling %s, PReLU %s; %s%s; %s, %d threads, %s)",
		p.lib.Version, typeNames[p.dt], strings.Join(conv, "/"), strings.Join(pool, "/"), strings.Join(prelu, "/"),
		tagNames[p.act], notes, p.lib.Runtime, p.lib.Threads, p.lib.ISA)
}

// layers returns the layers for build: the trunk as one op, and this
// package's own PReLU and Linear for the layers past it.
func (p *dnnlPlan) layers() layers {
	return layers{trunk: p.apply, activation: p.activation, prelu: PReLU, fc: Linear}
}

// input is the tensor convolution i reads: the images, a PReLU's output or
// a pooling's.
func (p *dnnlPlan) input(i int, images []float32) []float32 {
	switch {
	case i == 0:
		return images
	case i%2 == 1:
		return p.prelu[i-1]
	}
	return p.pool[i/2-1]
}

// constShape is a kernel's shape function for an output of fixed shape.
func constShape(s tensor.Shape) func(*kernel, []tensor.Shape) (tensor.Shape, error) {
	return func(*kernel, []tensor.Shape) (tensor.Shape, error) { return s.Clone(), nil }
}

// float32Inputs is a kernel's do function that checks that its inputs are
// float32 tensors of the given shapes and hands their data to run, which
// fills the output.
func float32Inputs(names []string, shapes []tensor.Shape, run func(op *kernel, in [][]float32) (G.Value, error)) func(*kernel, []G.Value) (G.Value, error) {
	in := make([][]float32, len(shapes))
	return func(op *kernel, vs []G.Value) (G.Value, error) {
		for i, v := range vs {
			t, ok := v.(*tensor.Dense)
			if !ok || t.Dtype() != tensor.Float32 || !t.Shape().Eq(shapes[i]) {
				return nil, fmt.Errorf("%v: %s is %v, want a float32 tensor of shape %v", op, names[i], describeValue(v), shapes[i])
			}
			in[i] = t.Float32s()
		}
		return run(op, in)
	}
}

// describeValue names a value's type and shape, for errors.
func describeValue(v G.Value) string {
	if t, ok := v.(tensor.Tensor); ok {
		return fmt.Sprintf("%v %v", t.Dtype(), t.Shape())
	}
	return fmt.Sprintf("%T", v)
}

// ranks lists the ranks of shapes, for fnType.
func ranks(shapes ...tensor.Shape) []int {
	r := make([]int, len(shapes))
	for i, s := range shapes {
		r[i] = len(s)
	}
	return r
}

// apply builds the trunk's op on the images x and params, the trunk's
// parameters in the order of Net.Params (each layer's convolution weights
// and bias, then its PReLU's slopes). Its value is the last pooling's
// output, float32 in NCHW; every other activation stays in the plan's
// buffers, in the layout and type its primitives chose.
func (p *dnnlPlan) apply(x *G.Node, params G.Nodes) (*G.Node, error) {
	names, shapes := []string{"images"}, []tensor.Shape{p.convs[0].in}
	for _, q := range p.grads {
		names, shapes = append(names, q.name), append(shapes, q.shape)
	}
	if len(params) != len(p.grads) {
		return nil, fmt.Errorf("the trunk takes %d parameters, got %d", len(p.grads), len(params))
	}
	wrt := make([]bool, len(shapes))
	for i := range params {
		wrt[1+i] = true // the images need no gradient
	}
	out := p.pools[len(p.pools)-1].out
	op := &kernel{name: p.name(""), typ: fnType(append(ranks(shapes...), len(out))...), arity: len(shapes),
		shape: constShape(out), do: float32Inputs(names, shapes, p.forward), wrt: wrt, diff: p.gradient}
	return G.ApplyOp(op, append(G.Nodes{x}, params...)...)
}

// name names the trunk's ops: the forward op, and with a suffix the others.
func (p *dnnlPlan) name(suffix string) string {
	return fmt.Sprintf("oneDNN.Trunk%s{batch=%d,%s,%s}", suffix, p.convs[0].in[0], typeNames[p.dt], tagNames[p.act])
}

// forward runs the trunk's primitives: in holds the images and the
// parameters, as apply takes them.
func (p *dnnlPlan) forward(op *kernel, in [][]float32) (G.Value, error) {
	p.ran = false // until every activation is this pass's
	last := p.pools[len(p.pools)-1]
	y := op.out.get(tensor.Float32, last.out...)
	for i, c := range p.convs {
		w, b, a := in[1+3*i], in[2+3*i], in[3+3*i]
		if err := c.fwd.run(onednn.F32(onednn.ArgSrc, p.input(i, in[0])), onednn.F32(onednn.ArgWeights, w),
			onednn.F32(onednn.ArgBias, b), onednn.F32(onednn.ArgDst, p.conv[i])); err != nil {
			return nil, fmt.Errorf("%v: %w", op, err)
		}
		if err := p.prelus[i].fwd.run(onednn.F32(onednn.ArgSrc, p.conv[i]), onednn.F32(onednn.ArgWeights, a),
			onednn.F32(onednn.ArgDst, p.prelu[i])); err != nil {
			return nil, fmt.Errorf("%v: %w", op, err)
		}
		if i%2 == 1 {
			pl, dst := p.pools[i/2], y.Float32s()
			if pl != last {
				dst = p.pool[i/2]
			}
			if err := pl.fwd.run(onednn.F32(onednn.ArgSrc, p.prelu[i]), onednn.F32(onednn.ArgDst, dst),
				onednn.Bytes(onednn.ArgWorkspace, pl.ws)); err != nil {
				return nil, fmt.Errorf("%v: %w", op, err)
			}
		}
	}
	p.ran = true
	return y, nil
}

// gradient builds the trunk's gradients: one op computes all of them into
// one vector, from the activations the forward op left in the plan and
// what else the backward primitives read: the images, the weights of the
// convolutions but the first (for their input gradients), every PReLU's
// slopes and the output gradient. Each parameter's gradient is a view of
// its part. A machine runs the forward op first wherever the output
// gradient depends on the trunk's output; the backward op fails if no
// forward pass has run.
func (p *dnnlPlan) gradient(_ *kernel, in G.Nodes, grad *G.Node) (G.Nodes, error) {
	reads, names, shapes := G.Nodes{in[0]}, []string{"images"}, []tensor.Shape{p.convs[0].in}
	read := func(j int) { // parameter j
		reads, names, shapes = append(reads, in[1+j]), append(names, p.grads[j].name), append(shapes, p.grads[j].shape)
	}
	for i := range p.convs {
		if i > 0 { // the first convolution has no input gradient, the only reader of its weights
			read(3 * i)
		}
		read(3*i + 2)
	}
	last := p.pools[len(p.pools)-1]
	reads, names, shapes = append(reads, grad), append(names, "output gradient"), append(shapes, last.out)
	op := &kernel{name: p.name("Grad"), typ: fnType(append(ranks(shapes...), 1)...), arity: len(shapes),
		shape: constShape(tensor.Shape{p.gradSize}), do: float32Inputs(names, shapes, p.backward)}
	all, err := G.ApplyOp(op, reads...)
	if err != nil {
		return nil, err
	}
	grads := make(G.Nodes, len(in)) // the images' stays nil
	for j, q := range p.grads {
		if grads[1+j], err = q.of(p.name("Grad["+q.name+"]"), all); err != nil {
			return nil, err
		}
	}
	return grads, nil
}

// backward runs the trunk's backward primitives on in, as gradient passes it,
// and returns every parameter gradient in one vector, in the order of
// apply's parameters. The activations' gradients pass through two
// buffers in turn: each primitive reads one and writes the other.
func (p *dnnlPlan) backward(op *kernel, in [][]float32) (G.Value, error) {
	if !p.ran {
		return nil, fmt.Errorf("%v: no forward pass has computed the activations it reads", op)
	}
	images, dy := in[0], in[len(in)-1]
	all := op.out.get(tensor.Float32, p.gradSize)
	part := func(j int) []float32 {
		q := p.grads[j]
		return all.Float32s()[q.off : q.off+q.shape.TotalSize()]
	}
	cur, k := dy, 0
	next := func() []float32 {
		k ^= 1
		return p.diff[k]
	}
	for i := len(p.convs) - 1; i >= 0; i-- {
		c, pr := p.convs[i], p.prelus[i]
		// The weights (but the first layer's) and the slopes, in gradient's order.
		var w []float32
		if i > 0 {
			w = in[2*i]
		}
		a := in[2*i+1]
		if i%2 == 1 {
			pl := p.pools[i/2]
			d := next()
			if err := pl.bwd.run(onednn.F32(onednn.ArgDiffDst, cur), onednn.Bytes(onednn.ArgWorkspace, pl.ws), onednn.F32(onednn.ArgDiffSrc, d)); err != nil {
				return nil, fmt.Errorf("%v: %w", op, err)
			}
			cur = d
		}
		d := next()
		if err := pr.bwd.run(onednn.F32(onednn.ArgSrc, p.conv[i]), onednn.F32(onednn.ArgWeights, a), onednn.F32(onednn.ArgDiffDst, cur),
			onednn.F32(onednn.ArgDiffSrc, d), onednn.F32(onednn.ArgDiffWeights, part(3*i+2))); err != nil {
			return nil, fmt.Errorf("%v: %w", op, err)
		}
		cur = d
		if err := c.bwdW.run(onednn.F32(onednn.ArgSrc, p.input(i, images)), onednn.F32(onednn.ArgDiffDst, cur),
			onednn.F32(onednn.ArgDiffWeights, part(3*i)), onednn.F32(onednn.ArgDiffBias, part(3*i+1))); err != nil {
			return nil, fmt.Errorf("%v: %w", op, err)
		}
		if i > 0 {
			d := next()
			if err := c.bwdData.run(onednn.F32(onednn.ArgWeights, w), onednn.F32(onednn.ArgDiffDst, cur), onednn.F32(onednn.ArgDiffSrc, d)); err != nil {
				return nil, fmt.Errorf("%v: %w", op, err)
			}
			cur = d
		}
	}
	return all, nil
}

// gradPart is one parameter's place in the trunk's gradient vector.
type gradPart struct {
	name  string
	off   int
	shape tensor.Shape
}

// of builds the parameter's gradient node: a view of its part of the
// vector all, shaped as the parameter.
func (q gradPart) of(name string, all *G.Node) (*G.Node, error) {
	size := q.shape.TotalSize()
	var view *tensor.Dense // kept while all's buffer stays the same
	return G.ApplyOp(&kernel{name: name, typ: fnType(1, len(q.shape)), arity: 1, shape: constShape(q.shape),
		do: func(op *kernel, in []G.Value) (G.Value, error) {
			t, ok := in[0].(*tensor.Dense)
			if !ok || t.Dtype() != tensor.Float32 || t.Size() < q.off+size {
				return nil, fmt.Errorf("%v: the gradient vector is %v, want float32 with at least %d entries", op, describeValue(in[0]), q.off+size)
			}
			part := t.Float32s()[q.off : q.off+size]
			if view == nil || &view.Float32s()[0] != &part[0] {
				view = tensor.New(tensor.WithShape(q.shape...), tensor.WithBacking(part))
			}
			return view, nil
		}}, all)
}

// planActivation is an activation the plan holds, in the trunk's layout
// and type.
type planActivation struct {
	buf    []float32
	shape  tensor.Shape
	toNCHW *onednn.Primitive // the reorder to float32 NCHW, made on first use
}

// activation returns a float32 NCHW copy of the named activation from the
// last forward pass.
func (p *dnnlPlan) activation(name string) (*tensor.Dense, error) {
	a, ok := p.acts[name]
	if !ok {
		return nil, fmt.Errorf("the oneDNN trunk holds no activation %s", name)
	}
	if !p.ran {
		return nil, errNoForward
	}
	if a.toNCHW == nil {
		d := descs{lib: p.lib}
		from, to := d.of(a.shape, p.dt, p.act), d.of(a.shape, onednn.DataF32, onednn.ABCD)
		if d.err != nil {
			return nil, d.err
		}
		r, err := p.eng.Reorder(from, to)
		if err != nil {
			return nil, fmt.Errorf("reorder to NCHW: %w", err)
		}
		a.toNCHW = r
	}
	t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(a.shape...))
	if err := a.toNCHW.Execute(onednn.F32(onednn.ArgFrom, a.buf), onednn.F32(onednn.ArgTo, t.Float32s())); err != nil {
		return nil, fmt.Errorf("reorder to NCHW: %w", err)
	}
	return t, nil
}
