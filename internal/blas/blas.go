package blas

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/centerloss-go/centerloss/internal/onednn"
)

// Implementation is a BLAS. It embeds gonum's pure-Go implementation, so it
// satisfies gonum's blas.Float32, blas.Float64, blas.Complex64 and
// blas.Complex128 (and can be passed to gorgonia.Use); when an OpenBLAS
// library is loaded, Sgemm, Dgemm, Sgemv, Dgemv, Sger and Dger run in it,
// and when oneDNN is loaded too, Sgemm runs in oneDNN.
//
// The zero value is the pure-Go implementation. An Implementation is safe for
// concurrent use.
type Implementation struct {
	gonum.Implementation
	lib  *library   // nil: pure Go
	fast *fastSgemm // nil: Sgemm in lib (or gonum)
}

var (
	_ blas.Float32    = (*Implementation)(nil)
	_ blas.Float64    = (*Implementation)(nil)
	_ blas.Complex64  = (*Implementation)(nil)
	_ blas.Complex128 = (*Implementation)(nil)
)

// Gonum returns the pure-Go implementation.
func Gonum() *Implementation { return &Implementation{} }

// Name describes the implementation, e.g.
// "oneDNN 2.6.3 sgemm (libdnnl.so.2) + OpenBLAS 0.3.21 ... Haswell
// MAX_THREADS=64 (libopenblas.so.0)" or "gonum (pure Go)".
func (i *Implementation) Name() string {
	var parts []string
	if i != nil && i.fast != nil {
		parts = append(parts, i.fast.name())
	}
	if i != nil && i.lib != nil {
		parts = append(parts, i.lib.name())
	} else {
		parts = append(parts, "gonum (pure Go)")
	}
	return strings.Join(parts, " + ")
}

// IsOpenBLAS reports whether OpenBLAS is loaded.
func (i *Implementation) IsOpenBLAS() bool { return i != nil && i.lib != nil }

// IsNative reports whether the single-precision matrix products, which are
// nearly all of training's work, run in a native library (oneDNN or
// OpenBLAS) rather than in pure Go.
func (i *Implementation) IsNative() bool { return i != nil && (i.lib != nil || i.fast != nil) }

// Load opens OpenBLAS under its usual names (libopenblas.so.0,
// libopenblas.so, ...). It never panics, and
// returns an error naming every attempt when no library could be used.
func Load() (*Implementation, error) {
	return loadFirst(libraryNames())
}

// LoadPath opens the OpenBLAS library at path (a file name or a name for the
// dynamic loader to look up).
func LoadPath(path string) (*Implementation, error) {
	return loadFirst([]string{path})
}

func loadFirst(names []string) (*Implementation, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("blas: run-time loading of OpenBLAS is not supported on %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	lib, err := openFirst("OpenBLAS", names, openLibrary)
	if err != nil {
		return nil, err
	}
	lib.setThreads(int(threads.get()))
	register(lib)
	return &Implementation{lib: lib}, nil
}

// openFirst tries open on each name in turn and returns the first library
// that opens, or every failure joined; a panic while loading is an error.
func openFirst[N, L any](what string, names []N, open func(N) (*L, error)) (lib *L, err error) {
	defer func() {
		if r := recover(); r != nil {
			lib, err = nil, fmt.Errorf("blas: loading %s: %v", what, r)
		}
	}()
	var errs []error
	for _, n := range names {
		l, err := open(n)
		if err == nil {
			return l, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// LoadOneDNN returns the pure-Go implementation with its Sgemm replaced by
// that of the oneDNN package onednn has opened (or opens by default), one
// thread per product; pair it with OpenBLAS with [Implementation.WithOneDNN]
// instead. It never panics, and returns an error naming every attempt when
// oneDNN cannot be used.
func LoadOneDNN() (*Implementation, error) {
	lib, err := onednn.Load()
	if err != nil {
		return nil, err
	}
	return Gonum().WithOneDNN(lib, true)
}

// fasts keeps the checked products of each oneDNN library, as the library
// stays loaded anyway.
var fasts struct {
	sync.Mutex
	m map[fastKey]result[fastSgemm]
}

type fastKey struct {
	lib       *onednn.Library
	oneThread bool
}

type result[T any] struct {
	v   *T
	err error
}

// WithOneDNN returns a copy of i whose Sgemm runs in lib's dnnl_sgemm, or
// an error when that product cannot be used. With oneThread each product
// runs on one thread, for callers that run one goroutine per core; else
// on as many as lib's primitives use (lib.Threads), for a caller that runs
// one product at a time.
func (i *Implementation) WithOneDNN(lib *onednn.Library, oneThread bool) (*Implementation, error) {
	if lib == nil {
		return nil, errors.New("blas: no oneDNN library")
	}
	k := fastKey{lib, oneThread}
	fasts.Lock()
	r, ok := fasts.m[k]
	if !ok {
		r.v, r.err = openFirst("oneDNN", []fastKey{k}, func(k fastKey) (*fastSgemm, error) { return openFast(k.lib, k.oneThread) })
		if fasts.m == nil {
			fasts.m = map[fastKey]result[fastSgemm]{}
		}
		fasts.m[k] = r
	}
	fasts.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	c := &Implementation{fast: r.v}
	if i != nil {
		c.lib = i.lib
	}
	return c, nil
}

// OpenBLAS returns OpenBLAS, loaded under its usual names once per
// process ([Load] opens it again on every call).
var OpenBLAS = sync.OnceValues(Load)

var defaultImpl = sync.OnceValue(func() *Implementation {
	if impl, err := OpenBLAS(); err == nil {
		return impl
	}
	return Gonum()
})

// Default returns the fastest implementation without oneDNN: OpenBLAS
// where it loads, gonum's pure-Go BLAS otherwise. It is chosen on the
// first call and never changes afterwards.
func Default() *Implementation { return defaultImpl() }

// threadCount holds the thread count applied to every library loaded.
type threadCount struct {
	mu sync.Mutex
	n  int
}

func (t *threadCount) get() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

var (
	threads = threadCount{n: 1}
	libsMu  sync.Mutex
	libs    []*library
)

func register(l *library) {
	libsMu.Lock()
	libs = append(libs, l)
	libsMu.Unlock()
}

// SetThreads sets the number of threads OpenBLAS uses inside one call
// (openblas_set_num_threads) for every library loaded so far and loaded
// later; n < 1 means one per CPU. The default is 1: the trainer runs one
// goroutine per core itself. It does nothing when OpenBLAS is not loaded.
// Call it while no BLAS call is running.
func SetThreads(n int) {
	if n < 1 {
		n = runtime.NumCPU()
	}
	threads.mu.Lock()
	threads.n = n
	threads.mu.Unlock()
	libsMu.Lock()
	defer libsMu.Unlock()
	for _, l := range libs {
		l.setThreads(n)
	}
}

// The overriding methods below send a call to OpenBLAS only when gonum would
// compute something with it: invalid arguments (gonum panics) and quick
// returns are left to gonum, so the contract is exactly gonum's.

const maxInt32 = math.MaxInt32

func validTrans(t blas.Transpose) (trans, ok bool) {
	switch t {
	case blas.NoTrans:
		return false, true
	case blas.Trans, blas.ConjTrans:
		return true, true
	}
	return false, false
}

func fits(xs ...int) bool {
	for _, x := range xs {
		if x > maxInt32 {
			return false
		}
	}
	return true
}

// gemmArgs reports whether a gemm call with these arguments is valid and
// does real work.
func gemmArgs(tA, tB blas.Transpose, m, n, k, lda, ldb, ldc, lenA, lenB, lenC int) (aT, bT, ok bool) {
	aT, okA := validTrans(tA)
	bT, okB := validTrans(tB)
	if !okA || !okB || m <= 0 || n <= 0 || k <= 0 || ldc < n || !fits(m, n, k, lda, ldb, ldc) {
		return
	}
	if aT {
		if lda < m || lenA < (k-1)*lda+m {
			return
		}
	} else if lda < k || lenA < (m-1)*lda+k {
		return
	}
	if bT {
		if ldb < k || lenB < (n-1)*ldb+k {
			return
		}
	} else if ldb < n || lenB < (k-1)*ldb+n {
		return
	}
	if lenC < (m-1)*ldc+n {
		return
	}
	return aT, bT, true
}

func vecOK(n, inc, length int) bool {
	if inc == 0 || inc > maxInt32 || inc < -maxInt32 {
		return false
	}
	if inc < 0 {
		inc = -inc
	}
	return (n-1)*inc < length
}

// gemvArgs reports whether a gemv call is valid and does real work.
func gemvArgs(tA blas.Transpose, m, n, lda, incX, incY, lenA, lenX, lenY int) (aT, ok bool) {
	aT, okA := validTrans(tA)
	if !okA || m <= 0 || n <= 0 || lda < n || !fits(m, n, lda) || lenA < lda*(m-1)+n {
		return
	}
	nx, ny := n, m
	if aT {
		nx, ny = m, n
	}
	if !vecOK(nx, incX, lenX) || !vecOK(ny, incY, lenY) {
		return
	}
	return aT, true
}

// gerArgs reports whether a ger call is valid and does real work.
func gerArgs(m, n, lda, incX, incY, lenA, lenX, lenY int) bool {
	return m > 0 && n > 0 && lda >= n && fits(m, n, lda) && lenA >= lda*(m-1)+n &&
		vecOK(m, incX, lenX) && vecOK(n, incY, lenY)
}

// Sgemm computes C = alpha * op(A) * op(B) + beta * C (row-major), as gonum's.
func (i *Implementation) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if (i.fast != nil || i.lib != nil) && alpha != 0 {
		if aT, bT, ok := gemmArgs(tA, tB, m, n, k, lda, ldb, ldc, len(a), len(b), len(c)); ok {
			if i.fast != nil {
				i.fast.sgemm(aT, bT, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			} else {
				i.lib.sgemm(aT, bT, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			}
			return
		}
	}
	i.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemm computes C = alpha * op(A) * op(B) + beta * C (row-major), as gonum's.
func (i *Implementation) Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if i.lib != nil && alpha != 0 {
		if aT, bT, ok := gemmArgs(tA, tB, m, n, k, lda, ldb, ldc, len(a), len(b), len(c)); ok {
			i.lib.dgemm(aT, bT, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			return
		}
	}
	i.Implementation.Dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Sgemv computes y = alpha * op(A) * x + beta * y (row-major), as gonum's.
func (i *Implementation) Sgemv(tA blas.Transpose, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
	if i.lib != nil && alpha != 0 {
		if aT, ok := gemvArgs(tA, m, n, lda, incX, incY, len(a), len(x), len(y)); ok {
			i.lib.sgemv(aT, m, n, alpha, a, lda, x, incX, beta, y, incY)
			return
		}
	}
	i.Implementation.Sgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
}

// Dgemv computes y = alpha * op(A) * x + beta * y (row-major), as gonum's.
func (i *Implementation) Dgemv(tA blas.Transpose, m, n int, alpha float64, a []float64, lda int, x []float64, incX int, beta float64, y []float64, incY int) {
	if i.lib != nil && alpha != 0 {
		if aT, ok := gemvArgs(tA, m, n, lda, incX, incY, len(a), len(x), len(y)); ok {
			i.lib.dgemv(aT, m, n, alpha, a, lda, x, incX, beta, y, incY)
			return
		}
	}
	i.Implementation.Dgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
}

// Sger computes A += alpha * x * yᵀ (row-major), as gonum's.
func (i *Implementation) Sger(m, n int, alpha float32, x []float32, incX int, y []float32, incY int, a []float32, lda int) {
	if i.lib != nil && alpha != 0 && gerArgs(m, n, lda, incX, incY, len(a), len(x), len(y)) {
		i.lib.sger(m, n, alpha, x, incX, y, incY, a, lda)
		return
	}
	i.Implementation.Sger(m, n, alpha, x, incX, y, incY, a, lda)
}

// Dger computes A += alpha * x * yᵀ (row-major), as gonum's.
func (i *Implementation) Dger(m, n int, alpha float64, x []float64, incX int, y []float64, incY int, a []float64, lda int) {
	if i.lib != nil && alpha != 0 && gerArgs(m, n, lda, incX, incY, len(a), len(x), len(y)) {
		i.lib.dger(m, n, alpha, x, incX, y, incY, a, lda)
		return
	}
	i.Implementation.Dger(m, n, alpha, x, incX, y, incY, a, lda)
}
