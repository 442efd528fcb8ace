//go:build linux && amd64

package onednn

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Library is the loaded oneDNN.
type Library struct {
	Path    string // the name it was opened by, e.g. libdnnl.so.2
	Version string // e.g. "2.6.3"
	Runtime string // CPU threading runtime: "OpenMP", "TBB", "sequential", ...
	Threads int    // threads a primitive runs on
	ISA     string // instruction set its kernels are generated for, e.g. "avx512_core_bf16"

	h     uintptr
	major int
	f     funcs
	attr  uintptr // primitive attributes: user-provided scratchpad
	isa   uint32
}

// HasBF16 reports whether the kernels run bfloat16 arithmetic in hardware
// (AVX512_BF16 or AMX).
func (l *Library) HasBF16() bool { return l.isa&isaBF16 == isaBF16 }

// Handle is the dlopen handle, for looking up other entry points.
func (l *Library) Handle() uintptr { return l.h }

type funcs struct {
	engineCreate, engineDestroy, streamCreate, streamDestroy uintptr
	mdInitByTag, mdEqual, mdGetSize                          uintptr
	mdCreate, mdDestroy                                      uintptr // 3.x: descriptors are handles
	memCreate, memSetHandle, memDestroy                      uintptr
	pdCreate, pdQuery, pdQueryMD, pdDestroy                  uintptr
	primCreate, primExecute, primDestroy                     uintptr
	reorderPD                                                uintptr
	attrCreate, attrScratchpad                               uintptr
	convFwd, convBwdData, convBwdWeights                     uintptr
	poolFwd, poolBwd, preluFwd, preluBwd                     uintptr
}

// Options say which oneDNN to open.
type Options struct {
	// Library is the file to open: a soname such as libdnnl.so.2 or a
	// path such as /opt/onednn/lib/libdnnl.so.3. Empty means the
	// sonames of DefaultLibraries, in order.
	Library string
}

// DefaultLibraries are the sonames Open tries, in order, when Options
// name none: 2.x first, the release every measurement and test of this
// project was first made on, then 3.x, as upstream names it
// (libdnnl.so.3) and as Debian 13 and Ubuntu 25.10 on do (libdnnl.so.3.6).
// Where both are installed, Options.Library chooses.
var DefaultLibraries = []string{"libdnnl.so.2", "libdnnl.so.3", "libdnnl.so.3.6"}

// A process uses one oneDNN: two releases loaded side by side would
// resolve each other's symbols. The first library opened stays; results
// are kept per name asked for.
var opened struct {
	sync.Mutex
	lib   *Library
	tries map[string]result
}

type result struct {
	lib *Library
	err error
}

// Open opens the oneDNN that o names, once per process: a later call for
// the same library returns the same result, and a call for another one,
// once a library is loaded, fails and names both.
func Open(o Options) (*Library, error) {
	opened.Lock()
	defer opened.Unlock()
	if opened.tries == nil {
		opened.tries = map[string]result{}
	}
	names := DefaultLibraries
	if o.Library != "" {
		names = []string{o.Library}
	}
	if l := opened.lib; l != nil {
		if o.Library == "" || o.Library == l.Path {
			return l, nil
		}
		return nil, fmt.Errorf("onednn: %s is loaded already; a process uses one oneDNN, so %s cannot be opened beside it", l.Path, o.Library)
	}
	var errs []error
	for _, name := range names {
		r, ok := opened.tries[name]
		if !ok {
			r.lib, r.err = open(name)
			opened.tries[name] = r
		}
		if r.err == nil {
			opened.lib = r.lib
			return r.lib, nil
		}
		errs = append(errs, r.err)
	}
	return nil, errors.Join(errs...)
}

// Load returns the library this process has opened, or opens the default
// one (see Open).
func Load() (*Library, error) { return Open(Options{}) }

// open loads the library at path and checks its release.
func open(path string) (*Library, error) {
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("onednn: %w", err)
	}
	l := &Library{Path: path, h: h}
	version, err := purego.Dlsym(h, "dnnl_version")
	if err != nil {
		return nil, fmt.Errorf("onednn: %s: %w", path, err)
	}
	v := ReadVersion(version)
	l.Version, l.major = v.String(), v.Major
	switch {
	case v.Major == 2 && v.Minor >= 2: // PReLU came in 2.2
		err = l.bind2()
	case v.Major == 3:
		err = l.bind3()
	default:
		return nil, fmt.Errorf("onednn: %s is version %s; 2.x from 2.2 on and 3.x are supported", path, l.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("onednn: %s: %w", path, err)
	}
	l.Runtime = runtimes[v.CPURuntime]
	if l.Runtime == "" {
		l.Runtime = fmt.Sprintf("runtime %d", v.CPURuntime)
	}
	l.Threads = 1
	if v.CPURuntime == RuntimeOpenMP {
		l.Threads = OpenMPThreads()
	} else if v.CPURuntime != runtimeSeq {
		l.Threads = runtime.NumCPU()
	}
	isa, err := purego.Dlsym(h, "dnnl_get_effective_cpu_isa")
	if err != nil {
		return nil, fmt.Errorf("onednn: %s: %w", path, err)
	}
	r, _, _ := purego.SyscallN(isa)
	l.isa = uint32(r)
	l.ISA = isaNames[l.isa]
	if l.major == 3 {
		l.ISA = isaNames3[l.isa]
	}
	if l.ISA == "" {
		l.ISA = fmt.Sprintf("isa %#x", r)
	}
	return l, nil
}

// symbols looks up each entry point of a list in l's library.
func (l *Library) symbols(list []symbol) error {
	for _, s := range list {
		p, err := purego.Dlsym(l.h, s.name)
		if err != nil {
			return err
		}
		*s.p = p
	}
	return nil
}

type symbol struct {
	p    *uintptr
	name string
}

// common are the entry points both APIs share.
func (f *funcs) common() []symbol {
	return []symbol{
		{&f.engineCreate, "dnnl_engine_create"}, {&f.engineDestroy, "dnnl_engine_destroy"},
		{&f.streamCreate, "dnnl_stream_create"}, {&f.streamDestroy, "dnnl_stream_destroy"},
		{&f.mdEqual, "dnnl_memory_desc_equal"}, {&f.mdGetSize, "dnnl_memory_desc_get_size"},
		{&f.memCreate, "dnnl_memory_create"}, {&f.memSetHandle, "dnnl_memory_set_data_handle"},
		{&f.memDestroy, "dnnl_memory_destroy"},
		{&f.pdQuery, "dnnl_primitive_desc_query"},
		{&f.pdQueryMD, "dnnl_primitive_desc_query_md"}, {&f.pdDestroy, "dnnl_primitive_desc_destroy"},
		{&f.primCreate, "dnnl_primitive_create"}, {&f.primExecute, "dnnl_primitive_execute"},
		{&f.primDestroy, "dnnl_primitive_destroy"},
		{&f.reorderPD, "dnnl_reorder_primitive_desc_create"},
		{&f.attrCreate, "dnnl_primitive_attr_create"},
		{&f.attrScratchpad, "dnnl_primitive_attr_set_scratchpad_mode"},
	}
}

// bind2 looks up the 2.x primitive API.
func (l *Library) bind2() error {
	f := &l.f
	err := l.symbols(append(f.common(),
		symbol{&f.mdInitByTag, "dnnl_memory_desc_init_by_tag"},
		symbol{&f.pdCreate, "dnnl_primitive_desc_create"},
		symbol{&f.convFwd, "dnnl_convolution_forward_desc_init"},
		symbol{&f.convBwdData, "dnnl_convolution_backward_data_desc_init"},
		symbol{&f.convBwdWeights, "dnnl_convolution_backward_weights_desc_init"},
		symbol{&f.poolFwd, "dnnl_pooling_forward_desc_init"}, symbol{&f.poolBwd, "dnnl_pooling_backward_desc_init"},
		symbol{&f.preluFwd, "dnnl_prelu_forward_desc_init"}, symbol{&f.preluBwd, "dnnl_prelu_backward_desc_init"},
	))
	if err != nil {
		return err
	}
	return l.scratchpadAttr()
}

// bind3 looks up the 3.x primitive API: one primitive-descriptor
// constructor per kind instead of the operation descriptors, and memory
// descriptors as handles. The signatures are those of the 3.0 to 3.13
// headers, which agree on every function used here.
func (l *Library) bind3() error {
	f := &l.f
	err := l.symbols(append(f.common(),
		symbol{&f.mdCreate, "dnnl_memory_desc_create_with_tag"}, symbol{&f.mdDestroy, "dnnl_memory_desc_destroy"},
		symbol{&f.convFwd, "dnnl_convolution_forward_primitive_desc_create"},
		symbol{&f.convBwdData, "dnnl_convolution_backward_data_primitive_desc_create"},
		symbol{&f.convBwdWeights, "dnnl_convolution_backward_weights_primitive_desc_create"},
		symbol{&f.poolFwd, "dnnl_pooling_forward_primitive_desc_create"},
		symbol{&f.poolBwd, "dnnl_pooling_backward_primitive_desc_create"},
		symbol{&f.preluFwd, "dnnl_prelu_forward_primitive_desc_create"},
		symbol{&f.preluBwd, "dnnl_prelu_backward_primitive_desc_create"},
	))
	if err != nil {
		return err
	}
	return l.scratchpadAttr()
}

// Major is the library's major version, 2 or 3.
func (l *Library) Major() int { return l.major }

// scratchpadAttr creates the attributes every primitive is created with:
// each gets its scratchpad from Go (see Primitive), as oneDNN's own is a
// per-thread buffer bound when a primitive is created, which breaks when it
// runs on another thread than the one that created it.
func (l *Library) scratchpadAttr() error {
	if err := l.call("dnnl_primitive_attr_create", l.f.attrCreate, uintptr(unsafe.Pointer(&l.attr))); err != nil {
		return err
	}
	return l.call("dnnl_primitive_attr_set_scratchpad_mode", l.f.attrScratchpad, l.attr, 1 /* user */)
}

// CPU threading runtimes of Version.CPURuntime.
const (
	runtimeSeq    = 1
	RuntimeOpenMP = 2
)

// Version is what a library's dnnl_version reports.
type Version struct {
	Major, Minor, Patch int
	CPURuntime          uint32 // RuntimeOpenMP, ...
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// ReadVersion calls the dnnl_version function at fn, of any oneDNN release
// (its dnnl_version_t has kept its layout from 1.x to 3.x).
func ReadVersion(fn uintptr) Version {
	r, _, _ := purego.SyscallN(fn)
	// r points to a static dnnl_version_t; the round trip through &r keeps
	// vet from reading it as a Go pointer made from an integer.
	c := *(**struct {
		major, minor, patch int32
		hash                *byte
		cpuRuntime          uint32
		gpuRuntime          uint32
	})(unsafe.Pointer(&r))
	return Version{Major: int(c.major), Minor: int(c.minor), Patch: int(c.patch), CPURuntime: c.cpuRuntime}
}

var runtimes = map[uint32]string{1: "sequential", 2: "OpenMP", 4: "TBB", 8: "threadpool"}

// isaBF16 is dnnl_cpu_isa_avx512_core_bf16; each ISA's value has the bits
// of those it extends.
const isaBF16 = 0xe7

var isaNames = map[uint32]string{
	0x0: "all", 0x1: "sse41", 0x3: "avx", 0x7: "avx2", 0x407: "avx2_vnni",
	0xf: "avx512_mic", 0x1f: "avx512_mic_4ops", 0x27: "avx512_core",
	0x67: "avx512_core_vnni", 0xe7: "avx512_core_bf16", 0x3e7: "avx512_core_amx",
}

// isaNames3 are 3.x's dnnl_cpu_isa_t values, renumbered from 2.x's.
var isaNames3 = map[uint32]string{
	0x0: "all", 0x1: "sse41", 0x3: "avx", 0x7: "avx2", 0xf: "avx2_vnni", 0x1f: "avx2_vnni_2",
	0x27: "avx512_core", 0x67: "avx512_core_vnni", 0xe7: "avx512_core_bf16",
	0x1ef: "avx512_core_fp16", 0xfef: "avx512_core_amx", 0x1fef: "avx512_core_amx_fp16",
	0x201ff: "avx10_2", 0x22fff: "avx10_2_amx_2",
}

// OpenMPThreads asks the loaded libgomp how many threads a parallel region
// would use (omp_get_max_threads); 1 when it cannot tell.
func OpenMPThreads() int {
	h, err := purego.Dlopen("libgomp.so.1", purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return 1
	}
	fn, err := purego.Dlsym(h, "omp_get_max_threads")
	if err != nil {
		return 1
	}
	n, _, _ := purego.SyscallN(fn)
	return int(int32(n))
}

var statusNames = map[int32]string{
	1: "out of memory", 2: "invalid arguments", 3: "unimplemented",
	4: "iterator ends", 5: "runtime error", 6: "not required",
}

// StatusError is a failed oneDNN call.
type StatusError struct {
	Call   string
	Status int32
}

func (e *StatusError) Error() string {
	s := statusNames[e.Status]
	if s == "" {
		s = fmt.Sprintf("status %d", e.Status)
	}
	return fmt.Sprintf("onednn: %s: %s", e.Call, s)
}

func (l *Library) call(name string, fn uintptr, args ...uintptr) error {
	r, _, _ := purego.SyscallN(fn, args...)
	if st := int32(r); st != 0 {
		return &StatusError{Call: name, Status: st}
	}
	return nil
}

// DataType is an element type (dnnl_data_type_t).
type DataType uint32

// Element types.
const (
	DataBF16 DataType = 2
	DataF32  DataType = 3
)

// Tag names a memory layout (dnnl_format_tag_t).
type Tag uint32

// Layouts, by their 2.x values (dnnl_format_tag_t); Library.tag gives
// 3.x's, which renumbered the permuted and blocked ones. The letters name
// the logical dimensions in order (a = N or O, b = C or I, ...); a capital
// letter with a number is that dimension in blocks of that size,
// innermost.
const (
	Any      Tag = 1  // let the primitive choose
	A        Tag = 2  // a vector
	ABCD     Tag = 5  // NCHW, OIHW
	ACDB     Tag = 20 // NHWC
	ABcd16b  Tag = 69 // nChw16c
	ABcd8b   Tag = 93 // nChw8c
	nDimsMax     = 12
)

// tags3 are 3.x's values of the tags whose numbers changed from 2.x (the
// same in every 3.x header from 3.0 to 3.13).
var tags3 = map[Tag]uintptr{ACDB: 22, ABcd16b: 78, ABcd8b: 102}

// tag is t's value in this library's release.
func (l *Library) tag(t Tag) uintptr {
	if v, ok := tags3[t]; ok && l.major == 3 {
		return v
	}
	return uintptr(t)
}

// Desc is a memory descriptor: dimensions, element type and layout.
type Desc struct {
	own *[mdWords]int64 // 2.x: set when the descriptor lives in Go memory
	ptr uintptr         // else the 3.x handle, or a descriptor inside a primitive descriptor, kept alive by ref
	ref *Primitive
}

// mdWords covers sizeof(dnnl_memory_desc_t), 696 bytes in 2.6, with room.
const mdWords = 128

func (d *Desc) p() uintptr {
	if d.own != nil {
		return uintptr(unsafe.Pointer(d.own))
	}
	return d.ptr
}

// Memory that C reads or writes through a uintptr must not live on a
// goroutine's stack, which moves when it grows: the functions marked
// noinline below return fresh heap memory for that.

//go:noinline
func dims(ds []int) *[nDimsMax]int64 {
	var a [nDimsMax]int64
	for i, d := range ds {
		a[i] = int64(d)
	}
	return &a
}

// NewDesc describes a tensor of the given dimensions, type and layout.
func (l *Library) NewDesc(shape []int, dt DataType, tag Tag) (*Desc, error) {
	if len(shape) == 0 || len(shape) > nDimsMax {
		return nil, fmt.Errorf("onednn: %d dimensions", len(shape))
	}
	ds := dims(shape)
	defer runtime.KeepAlive(ds)
	if l.major == 3 {
		h := newWord()
		if err := l.call("dnnl_memory_desc_create_with_tag", l.f.mdCreate, uintptr(unsafe.Pointer(h)), uintptr(len(shape)),
			uintptr(unsafe.Pointer(ds)), uintptr(dt), l.tag(tag)); err != nil {
			return nil, err
		}
		d := &Desc{ptr: *h}
		runtime.AddCleanup(d, func(h uintptr) { l.call("dnnl_memory_desc_destroy", l.f.mdDestroy, h) }, *h)
		return d, nil
	}
	d := &Desc{own: new([mdWords]int64)}
	err := l.call("dnnl_memory_desc_init_by_tag", l.f.mdInitByTag, d.p(), uintptr(len(shape)),
		uintptr(unsafe.Pointer(ds)), uintptr(dt), l.tag(tag))
	return d, err
}

// Equal reports whether two descriptors describe the same memory.
func (l *Library) Equal(a, b *Desc) bool {
	r, _, _ := purego.SyscallN(l.f.mdEqual, a.p(), b.p())
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	return int32(r) != 0
}

// Size is the number of bytes that memory described by d takes.
func (l *Library) Size(d *Desc) int {
	r, _, _ := purego.SyscallN(l.f.mdGetSize, d.p())
	runtime.KeepAlive(d)
	return int(r)
}

// Engine is a CPU engine and a stream on it.
type Engine struct {
	l         *Library
	eng, strm uintptr
}

// NewEngine creates the CPU engine and a stream.
func (l *Library) NewEngine() (*Engine, error) {
	e := &Engine{l: l}
	if err := l.call("dnnl_engine_create", l.f.engineCreate, uintptr(unsafe.Pointer(&e.eng)), 1 /* dnnl_cpu */, 0); err != nil {
		return nil, err
	}
	if err := l.call("dnnl_stream_create", l.f.streamCreate, uintptr(unsafe.Pointer(&e.strm)), e.eng, 1 /* default flags */); err != nil {
		l.call("dnnl_engine_destroy", l.f.engineDestroy, e.eng)
		return nil, err
	}
	runtime.AddCleanup(e, func(h [2]uintptr) {
		l.call("dnnl_stream_destroy", l.f.streamDestroy, h[1])
		l.call("dnnl_engine_destroy", l.f.engineDestroy, h[0])
	}, [2]uintptr{e.eng, e.strm})
	return e, nil
}

// Argument kinds of Execute (DNNL_ARG_*).
const (
	ArgSrc         = 1
	ArgDst         = 17
	ArgWeights     = 33
	ArgBias        = 41
	ArgWorkspace   = 64
	ArgDiffSrc     = 129
	ArgDiffDst     = 145
	ArgDiffWeights = 161
	ArgDiffBias    = 169
	ArgFrom        = ArgSrc
	ArgTo          = ArgDst
	argScratchpad  = 80
)

// Primitive is a primitive descriptor with its primitive, created once and
// executed many times.
type Primitive struct {
	e       *Engine
	pd      uintptr
	prim    uintptr
	impl    string
	scratch []byte // the primitive's scratchpad, nil when it needs none
	mems    map[int]*memory
	argv    []execArg
}

type memory struct {
	h    uintptr
	data unsafe.Pointer
}

// execArg mirrors dnnl_exec_arg_t.
type execArg struct {
	arg int32
	_   int32
	mem uintptr
}

// opDesc holds any operation descriptor: dnnl_convolution_desc_t, the
// largest used here, takes 5976 bytes in 2.6.
type opDesc [1024]int64

//go:noinline
func newOpDesc() *opDesc { return new(opDesc) }

//go:noinline
func newWord() *uintptr { return new(uintptr) }

// Implementation names the kernel oneDNN chose, e.g. "jit:avx512_core".
func (p *Primitive) Implementation() string { return p.impl }

func (e *Engine) create(what string, op *opDesc, hint *Primitive) (*Primitive, error) {
	l := e.l
	p := &Primitive{e: e, mems: map[int]*memory{}}
	var h uintptr
	if hint != nil {
		h = hint.pd
	}
	err := l.call("dnnl_primitive_desc_create ("+what+")", l.f.pdCreate, uintptr(unsafe.Pointer(&p.pd)), uintptr(unsafe.Pointer(op)), l.attr, e.eng, h)
	runtime.KeepAlive(op)
	runtime.KeepAlive(hint)
	if err != nil {
		return nil, err
	}
	return p, p.finish(what)
}

func (p *Primitive) finish(what string) error {
	l := p.e.l
	s := newWord()
	l.call("dnnl_primitive_desc_query", l.f.pdQuery, p.pd, 8 /* impl_info_str */, 0, uintptr(unsafe.Pointer(s)))
	p.impl = cString(*s)
	if err := l.call("dnnl_primitive_create ("+what+")", l.f.primCreate, uintptr(unsafe.Pointer(&p.prim)), p.pd); err != nil {
		l.call("dnnl_primitive_desc_destroy", l.f.pdDestroy, p.pd)
		return err
	}
	runtime.AddCleanup(p, func(h [2]uintptr) {
		l.call("dnnl_primitive_destroy", l.f.primDestroy, h[1])
		l.call("dnnl_primitive_desc_destroy", l.f.pdDestroy, h[0])
	}, [2]uintptr{p.pd, p.prim})
	if n := p.Size(argScratchpad); n > 0 {
		p.scratch = make([]byte, n)
	}
	return nil
}

func cString(p uintptr) string {
	if p == 0 {
		return ""
	}
	var b strings.Builder
	for i := uintptr(0); ; i++ {
		q := p + i
		c := **(**byte)(unsafe.Pointer(&q)) // C memory
		if c == 0 {
			return b.String()
		}
		b.WriteByte(c)
	}
}

// Desc returns the descriptor of one of the primitive's arguments (an Arg
// constant), as the primitive chose it.
func (p *Primitive) Desc(arg int) *Desc {
	r, _, _ := purego.SyscallN(p.e.l.f.pdQueryMD, p.pd, 255 /* exec_arg_md */, uintptr(arg))
	return &Desc{ptr: r, ref: p}
}

// Size is the number of bytes of the primitive's argument arg; 0 when it
// takes no such argument.
func (p *Primitive) Size(arg int) int { return p.e.l.Size(p.Desc(arg)) }

// Arg binds an argument kind to memory.
type Arg struct {
	Kind int
	Data unsafe.Pointer
}

// F32 binds an argument to a float32 slice, which must be as large as the
// argument's Size.
func F32(kind int, s []float32) Arg { return Arg{kind, unsafe.Pointer(unsafe.SliceData(s))} }

// Bytes binds an argument to a byte slice (a workspace).
func Bytes(kind int, s []byte) Arg { return Arg{kind, unsafe.Pointer(unsafe.SliceData(s))} }

// Execute runs the primitive on its engine's stream and waits for it. The
// memory must stay allocated while the call runs; Go's heap does not move.
func (p *Primitive) Execute(args ...Arg) error {
	done := dones.Get().(chan error)
	thread() <- call{p, args, done}
	err := <-done
	dones.Put(done)
	return err
}

// The primitives of the process all run on one locked OS thread. OpenMP
// keeps a team of worker threads for each thread that calls it, and a
// goroutine moves between threads: calls from many threads would leave
// more OpenMP threads than cores, which libgomp then puts to sleep between
// calls instead of keeping them spinning, and every call would pay for
// waking them (measured: the same convolutions 5-20% slower).
type call struct {
	p    *Primitive
	args []Arg
	done chan error
}

var (
	thread = sync.OnceValue(func() chan call {
		c := make(chan call)
		go func() {
			runtime.LockOSThread()
			for k := range c {
				k.done <- k.p.execute(k.args)
			}
		}()
		return c
	})
	dones = sync.Pool{New: func() any { return make(chan error) }}
)

func (p *Primitive) execute(args []Arg) error {
	l := p.e.l
	p.argv = p.argv[:0]
	if p.scratch != nil {
		args = append(args, Bytes(argScratchpad, p.scratch))
	}
	for _, a := range args {
		m := p.mems[a.Kind]
		if m == nil {
			m = &memory{}
			d := p.Desc(a.Kind)
			if err := l.call("dnnl_memory_create", l.f.memCreate, uintptr(unsafe.Pointer(&m.h)), d.p(), p.e.eng, 0); err != nil {
				return err
			}
			runtime.AddCleanup(p, func(h uintptr) { l.call("dnnl_memory_destroy", l.f.memDestroy, h) }, m.h)
			p.mems[a.Kind] = m
		}
		if m.data != a.Data {
			if err := l.call("dnnl_memory_set_data_handle", l.f.memSetHandle, m.h, uintptr(a.Data)); err != nil {
				return err
			}
			m.data = a.Data
		}
		p.argv = append(p.argv, execArg{arg: int32(a.Kind), mem: m.h})
	}
	err := l.call("dnnl_primitive_execute", l.f.primExecute, p.prim, p.e.strm, uintptr(len(p.argv)), uintptr(unsafe.Pointer(unsafe.SliceData(p.argv))))
	runtime.KeepAlive(args)
	return err
}

// op is one primitive's description, which serves both APIs: the
// arguments of its 2.x dnnl_*_desc_init function (after the operation
// descriptor) and those of its 3.x dnnl_*_primitive_desc_create (between
// the engine, with the propagation kind when there is one, and the hint
// and attributes), which differ only where an argument is named here.
type op struct {
	what string
	fn   uintptr   // the 2.x or 3.x function, as the library loaded
	prop []uintptr // the propagation kind, for forward passes
	args []uintptr // the descriptors, dimensions and algorithm, in 2.x's order
	// dilation3, for 3.x, is inserted before args[at]: 3.x takes the
	// dilations (zero: none) that 2.x's non-dilated functions leave out.
	at        int
	dilation3 uintptr
	keep      []any // the Go objects that args point into
}

// make creates the primitive o describes, after hint's forward pass.
func (e *Engine) make(o op, hint *Primitive) (*Primitive, error) {
	if e.l.major != 3 {
		return e.describe(o.what, o.fn, hint, o.keep, append(o.prop, o.args...)...)
	}
	p := &Primitive{e: e, mems: map[int]*memory{}}
	args := []uintptr{uintptr(unsafe.Pointer(&p.pd)), e.eng}
	args = append(args, o.prop...)
	if o.dilation3 != 0 {
		args = append(args, o.args[:o.at]...)
		args = append(args, o.dilation3)
		args = append(args, o.args[o.at:]...)
	} else {
		args = append(args, o.args...)
	}
	if hint != nil {
		args = append(args, hint.pd)
	}
	args = append(args, e.l.attr)
	err := e.l.call(o.what+" primitive descriptor", o.fn, args...)
	runtime.KeepAlive(o.keep)
	runtime.KeepAlive(hint)
	if err != nil {
		return nil, err
	}
	return p, p.finish(o.what)
}

// describe fills an operation descriptor with init(op, args...), a
// dnnl_*_desc_init function, and creates its primitive; keep holds the Go
// objects that args point into.
func (e *Engine) describe(what string, init uintptr, hint *Primitive, keep []any, args ...uintptr) (*Primitive, error) {
	op := newOpDesc()
	err := e.l.call(what+" descriptor", init, append([]uintptr{uintptr(unsafe.Pointer(op))}, args...)...)
	runtime.KeepAlive(keep)
	if err != nil {
		return nil, err
	}
	return e.create(what, op, hint)
}

func (l *Library) descs(ds ...*Desc) []uintptr {
	out := make([]uintptr, len(ds))
	for i, d := range ds {
		if d != nil {
			out[i] = d.p()
		}
	}
	return out
}

// Reorder copies memory from one layout to another.
func (e *Engine) Reorder(from, to *Desc) (*Primitive, error) {
	l := e.l
	p := &Primitive{e: e, mems: map[int]*memory{}}
	err := l.call("dnnl_reorder_primitive_desc_create", l.f.reorderPD, uintptr(unsafe.Pointer(&p.pd)), from.p(), e.eng, to.p(), e.eng, l.attr)
	runtime.KeepAlive(from)
	runtime.KeepAlive(to)
	if err != nil {
		return nil, err
	}
	return p, p.finish("reorder")
}

// ForwardTraining is the propagation kind of a forward pass that a
// backward pass follows.
const ForwardTraining = 64

// ConvForward is a stride-1 convolution with padding pad on every side,
// y = conv(x, w) + b; bias may be nil.
func (e *Engine) ConvForward(prop int, src, weights, bias, dst *Desc, pad int) (*Primitive, error) {
	st, pl, dl := dims([]int{1, 1}), dims([]int{pad, pad}), dims([]int{0, 0})
	ds := e.l.descs(src, weights, bias, dst)
	return e.make(op{what: "convolution forward", fn: e.l.f.convFwd, prop: []uintptr{uintptr(prop)},
		args: []uintptr{convDirect, ds[0], ds[1], ds[2], ds[3], ptr(st), ptr(pl), ptr(pl)}, at: 6, dilation3: ptr(dl),
		keep: []any{src, weights, bias, dst, st, pl, dl}}, nil)
}

// ConvBackwardData computes the gradient of a convolution's input.
func (e *Engine) ConvBackwardData(diffSrc, weights, diffDst *Desc, pad int, fwd *Primitive) (*Primitive, error) {
	st, pl, dl := dims([]int{1, 1}), dims([]int{pad, pad}), dims([]int{0, 0})
	ds := e.l.descs(diffSrc, weights, diffDst)
	return e.make(op{what: "convolution backward data", fn: e.l.f.convBwdData,
		args: []uintptr{convDirect, ds[0], ds[1], ds[2], ptr(st), ptr(pl), ptr(pl)}, at: 5, dilation3: ptr(dl),
		keep: []any{diffSrc, weights, diffDst, st, pl, dl}}, fwd)
}

// ConvBackwardWeights computes the gradients of a convolution's weights and
// bias (diffBias may be nil).
func (e *Engine) ConvBackwardWeights(src, diffWeights, diffBias, diffDst *Desc, pad int, fwd *Primitive) (*Primitive, error) {
	st, pl, dl := dims([]int{1, 1}), dims([]int{pad, pad}), dims([]int{0, 0})
	ds := e.l.descs(src, diffWeights, diffBias, diffDst)
	return e.make(op{what: "convolution backward weights", fn: e.l.f.convBwdWeights,
		args: []uintptr{convDirect, ds[0], ds[1], ds[2], ds[3], ptr(st), ptr(pl), ptr(pl)}, at: 6, dilation3: ptr(dl),
		keep: []any{src, diffWeights, diffBias, diffDst, st, pl, dl}}, fwd)
}

// Algorithm kinds: dnnl_convolution_direct and dnnl_pooling_max.
const (
	convDirect = 1
	poolMax    = 0x1ff
)

// MaxPoolForward takes the maximum over k×k windows with stride k. padR is
// the padding on the bottom and right (negative drops the rows and columns
// that a floor-rounded pooling ignores). For training (prop
// ForwardTraining) it writes a workspace for the backward pass.
func (e *Engine) MaxPoolForward(prop int, src, dst *Desc, k, padR int) (*Primitive, error) {
	win, pl, pr, dl := dims([]int{k, k}), dims([]int{0, 0}), dims([]int{padR, padR}), dims([]int{0, 0})
	ds := e.l.descs(src, dst)
	return e.make(op{what: "max pooling forward", fn: e.l.f.poolFwd, prop: []uintptr{uintptr(prop)},
		args: []uintptr{poolMax, ds[0], ds[1], ptr(win), ptr(win), ptr(pl), ptr(pr)}, at: 5, dilation3: ptr(dl),
		keep: []any{src, dst, win, pl, pr, dl}}, nil)
}

// MaxPoolBackward routes the output gradient to the window maxima recorded
// in the forward pass's workspace.
func (e *Engine) MaxPoolBackward(diffSrc, diffDst *Desc, k, padR int, fwd *Primitive) (*Primitive, error) {
	win, pl, pr, dl := dims([]int{k, k}), dims([]int{0, 0}), dims([]int{padR, padR}), dims([]int{0, 0})
	ds := e.l.descs(diffSrc, diffDst)
	return e.make(op{what: "max pooling backward", fn: e.l.f.poolBwd,
		args: []uintptr{poolMax, ds[0], ds[1], ptr(win), ptr(win), ptr(pl), ptr(pr)}, at: 5, dilation3: ptr(dl),
		keep: []any{diffSrc, diffDst, win, pl, pr, dl}}, fwd)
}

// PReLUForward is y = x where x > 0, a·x elsewhere, with the slopes a
// broadcast from weights (e.g. 1×C×1×1 for one slope per channel).
func (e *Engine) PReLUForward(prop int, data, weights *Desc) (*Primitive, error) {
	ds := e.l.descs(data, weights)
	args := []uintptr{ds[0], ds[1]}
	if e.l.major == 3 {
		args = append(args, ds[0]) // 3.x describes the destination too
	}
	return e.make(op{what: "PReLU forward", fn: e.l.f.preluFwd, prop: []uintptr{uintptr(prop)}, args: args,
		keep: []any{data, weights}}, nil)
}

// PReLUBackward computes the gradients of PReLU's input and slopes.
func (e *Engine) PReLUBackward(data, weights, diffData, diffWeights *Desc, fwd *Primitive) (*Primitive, error) {
	ds := e.l.descs(data, weights, diffData, diffWeights)
	args := []uintptr{ds[0], ds[1], ds[2], ds[3]}
	if e.l.major == 3 {
		args = append(args, ds[2]) // 3.x describes the destination's gradient too
	}
	return e.make(op{what: "PReLU backward", fn: e.l.f.preluBwd, args: args,
		keep: []any{data, weights, diffData, diffWeights}}, fwd)
}

// ptr passes dimensions to C.
func ptr(d *[nDimsMax]int64) uintptr { return uintptr(unsafe.Pointer(d)) }
