//go:build linux && amd64

package blas

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/centerloss-go/centerloss/internal/onednn"
)

// fastSgemm is oneDNN's dnnl_sgemm: a row-major single-precision product
// whose kernels are generated at run time for the processor (AVX-512 where
// the processor has it), whatever OPENBLAS_CORETYPE says.
type fastSgemm struct {
	path    string
	version string
	threads int // threads of one product
	fn      uintptr
	// oneThread is OpenMP's omp_set_num_threads, called with 1 on the
	// calling thread before each product and with maxThreads' value after
	// it; 0 for other runtimes.
	oneThread  uintptr
	maxThreads uintptr // OpenMP's omp_get_max_threads
}

// sgemmCall is the argument block of one dnnl_sgemm call; dnnl_amd64.s
// reads its fields by name.
type sgemmCall struct {
	fn          uintptr
	oneThread   uintptr
	maxThreads  uintptr
	ta, tb      uintptr // 'N' or 'T'
	m, n, k     int64
	a           uintptr
	lda         int64
	b           uintptr
	ldb         int64
	c           uintptr
	ldc         int64
	alpha, beta float32
	status      int64
}

var dnnlSgemmABI0 uintptr // the address of the trampoline in dnnl_amd64.s

//go:linkname runtime_cgocall runtime.cgocall
//go:noescape
func runtime_cgocall(fn uintptr, arg unsafe.Pointer) int32

var callPool = sync.Pool{New: func() any { return new(sgemmCall) }}

// openFast takes dnnl_sgemm from the oneDNN that package onednn opened
// (its signature is the same in 2.x and 3.x) and checks that it computes
// correctly.
//
// With oneThread, each product runs on one thread: the im2col kernels call
// it from one goroutine per core. oneDNN has no call that sizes its
// threads (neither 2.x nor 3.x: dnnl_threadpool_interop_set_max_concurrency
// serves only the threadpool runtime); on OpenMP a parallel region takes
// omp_get_max_threads threads, a setting of the calling thread, which
// omp_set_num_threads changes. The trampoline sets it to one on the thread
// that makes the call, in the same foreign call, as goroutines move between
// threads, and back after the product: left at one, it would also shrink
// every oneDNN primitive and product that thread runs later, and make
// their sums depend on which thread ran them. Without oneThread, products take the library's threads, as
// suits a caller that runs one at a time (the linear layers beside oneDNN's
// primitives, which measured faster so than on one thread).
func openFast(lib *onednn.Library, oneThread bool) (*fastSgemm, error) {
	f := &fastSgemm{path: lib.Path, version: lib.Version, threads: lib.Threads}
	var err error
	if f.fn, err = purego.Dlsym(lib.Handle(), "dnnl_sgemm"); err != nil {
		return nil, fmt.Errorf("%s: %w", lib.Path, err)
	}
	if oneThread && lib.Runtime == "OpenMP" {
		if f.oneThread, err = purego.Dlsym(lib.Handle(), "omp_set_num_threads"); err != nil {
			return nil, fmt.Errorf("%s: %w", lib.Path, err)
		}
		if f.maxThreads, err = purego.Dlsym(lib.Handle(), "omp_get_max_threads"); err != nil {
			return nil, fmt.Errorf("%s: %w", lib.Path, err)
		}
		f.threads = 1
	}
	if err := f.selfTest(); err != nil {
		return nil, fmt.Errorf("%s: %w", lib.Path, err)
	}
	return f, nil
}

func (f *fastSgemm) name() string {
	return fmt.Sprintf("oneDNN %s sgemm (%s, %d threads)", f.version, f.path, f.threads)
}

// sgemm computes row-major c = alpha·op(a)·op(b) + beta·c; the arguments
// have been checked by the caller.
func (f *fastSgemm) sgemm(aT, bT bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	s := callPool.Get().(*sgemmCall)
	*s = sgemmCall{
		fn: f.fn, oneThread: f.oneThread, maxThreads: f.maxThreads, ta: uintptr(flag(aT)), tb: uintptr(flag(bT)),
		m: int64(m), n: int64(n), k: int64(k),
		a: uintptr(unsafe.Pointer(&a[0])), lda: int64(lda),
		b: uintptr(unsafe.Pointer(&b[0])), ldb: int64(ldb),
		c: uintptr(unsafe.Pointer(&c[0])), ldc: int64(ldc),
		alpha: alpha, beta: beta,
	}
	runtime_cgocall(dnnlSgemmABI0, unsafe.Pointer(s))
	status := int32(s.status)
	callPool.Put(s)
	// The Go heap does not move; this keeps the operands alive until here.
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
	if status != 0 {
		// Only invalid arguments fail, and the caller has ruled them out.
		panic(fmt.Sprintf("blas: dnnl_sgemm returned status %d", status))
	}
}

// selfTest checks the product, with every transposition, on a small case.
func (f *fastSgemm) selfTest() error {
	// A is 2×3, B is 3×2 (row-major); A·B = [[4 5] [10 11]].
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{1, 0, 0, 1, 1, 1}
	at := []float32{1, 4, 2, 5, 3, 6}
	bt := []float32{1, 0, 1, 0, 1, 1}
	want := []float64{4, 5, 10, 11}
	for _, tc := range []struct {
		aT, bT bool
		a, b   []float32
		lda    int
		ldb    int
	}{
		{false, false, a, b, 3, 2}, {true, false, at, b, 2, 2},
		{false, true, a, bt, 3, 3}, {true, true, at, bt, 2, 3},
	} {
		c := []float32{1, 1, 1, 1}
		f.sgemm(tc.aT, tc.bT, 2, 2, 3, 2, tc.a, tc.lda, tc.b, tc.ldb, -1, c, 2)
		got := to64(c)
		for i := range got {
			got[i] = (got[i] + 1) / 2
		}
		if !same64(got, want) {
			return fmt.Errorf("sgemm self-test (transposed %v, %v): got %v, want 2·%v - 1", tc.aT, tc.bT, c, want)
		}
	}
	return nil
}
