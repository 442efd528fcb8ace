//go:build (linux || darwin) && (amd64 || arm64)

package blas

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// library is an opened OpenBLAS. Its routines are reached through the
// Fortran interface (every argument a pointer), which purego.SyscallN passes
// in integer registers and stack slots without reflection.
type library struct {
	path   string
	config string
	core   string

	fnSgemm, fnDgemm, fnSgemv, fnDgemv, fnSger, fnDger uintptr
	setNumThreads                                      uintptr
}

func libraryNames() []string {
	switch runtime.GOOS {
	case "darwin":
		return []string{
			"libopenblas.dylib",
			"/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
			"/usr/local/opt/openblas/lib/libopenblas.dylib",
		}
	default:
		// libopenblasp is the pthreads build's name on Fedora and RHEL.
		return []string{"libopenblas.so.0", "libopenblasp.so.0", "libopenblas.so", "libopenblaso.so.0"}
	}
}

func openLibrary(path string) (*library, error) {
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	l := &library{path: path}
	for _, s := range []struct {
		name string
		dst  *uintptr
	}{
		{"sgemm_", &l.fnSgemm}, {"dgemm_", &l.fnDgemm},
		{"sgemv_", &l.fnSgemv}, {"dgemv_", &l.fnDgemv},
		{"sger_", &l.fnSger}, {"dger_", &l.fnDger},
	} {
		if *s.dst, err = purego.Dlsym(h, s.name); err != nil {
			_ = purego.Dlclose(h)
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	// Optional: present in OpenBLAS, absent in other BLAS libraries.
	l.setNumThreads, _ = purego.Dlsym(h, "openblas_set_num_threads")
	l.config = cString(h, "openblas_get_config")
	l.core = cString(h, "openblas_get_corename")
	if err := l.selfTest(); err != nil {
		_ = purego.Dlclose(h)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// The handle stays open for the life of the process.
	return l, nil
}

// cString calls the C function name() returning a const char*, if present.
func cString(h uintptr, name string) string {
	if _, err := purego.Dlsym(h, name); err != nil {
		return ""
	}
	var f func() string
	purego.RegisterLibFunc(&f, h, name)
	return strings.TrimSpace(f())
}

func (l *library) name() string {
	switch {
	case l.config != "" && !strings.Contains(l.config, l.core):
		return fmt.Sprintf("%s, core %s (%s)", l.config, l.core, l.path)
	case l.config != "":
		return fmt.Sprintf("%s (%s)", l.config, l.path)
	default:
		return fmt.Sprintf("BLAS (%s)", l.path)
	}
}

func (l *library) setThreads(n int) {
	if l.setNumThreads != 0 {
		purego.SyscallN(l.setNumThreads, uintptr(n))
	}
}

// args holds the scalar arguments of one call, passed by address. Every
// integer gets a zeroed 8-byte slot, so the call is right for both 32-bit
// (LP64) and 64-bit (ILP64) BLAS integers on these little-endian targets.
type args struct {
	ta, tb        [8]byte
	m, n, k       int64
	lda, ldb, ldc int64
	incX, incY    int64
	salpha, sbeta float32
	dalpha, dbeta float64
	_             [8]byte
}

var argsPool = sync.Pool{New: func() any { return new(args) }}

func flag(t bool) byte {
	if t {
		return 'T'
	}
	return 'N'
}

func getArgs() *args {
	p := argsPool.Get().(*args)
	*p = args{}
	return p
}

// A row-major m×n matrix with stride ld is, read column-major, its n×m
// transpose; so row-major C = op(A) op(B) is column-major Cᵀ = op(B)ᵀ op(A)ᵀ,
// the same call with A and B (and m and n) swapped and the flags unchanged.

func (l *library) sgemm(aT, bT bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	p := getArgs()
	p.ta[0], p.tb[0] = flag(bT), flag(aT)
	p.m, p.n, p.k = int64(n), int64(m), int64(k)
	p.lda, p.ldb, p.ldc = int64(ldb), int64(lda), int64(ldc)
	p.salpha, p.sbeta = alpha, beta
	purego.SyscallN(l.fnSgemm,
		uintptr(unsafe.Pointer(&p.ta)), uintptr(unsafe.Pointer(&p.tb)),
		uintptr(unsafe.Pointer(&p.m)), uintptr(unsafe.Pointer(&p.n)), uintptr(unsafe.Pointer(&p.k)),
		uintptr(unsafe.Pointer(&p.salpha)),
		uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&p.lda)),
		uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&p.ldb)),
		uintptr(unsafe.Pointer(&p.sbeta)),
		uintptr(unsafe.Pointer(&c[0])), uintptr(unsafe.Pointer(&p.ldc)),
		1, 1) // lengths of the two character arguments
	argsPool.Put(p)
}

func (l *library) dgemm(aT, bT bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	p := getArgs()
	p.ta[0], p.tb[0] = flag(bT), flag(aT)
	p.m, p.n, p.k = int64(n), int64(m), int64(k)
	p.lda, p.ldb, p.ldc = int64(ldb), int64(lda), int64(ldc)
	p.dalpha, p.dbeta = alpha, beta
	purego.SyscallN(l.fnDgemm,
		uintptr(unsafe.Pointer(&p.ta)), uintptr(unsafe.Pointer(&p.tb)),
		uintptr(unsafe.Pointer(&p.m)), uintptr(unsafe.Pointer(&p.n)), uintptr(unsafe.Pointer(&p.k)),
		uintptr(unsafe.Pointer(&p.dalpha)),
		uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&p.lda)),
		uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&p.ldb)),
		uintptr(unsafe.Pointer(&p.dbeta)),
		uintptr(unsafe.Pointer(&c[0])), uintptr(unsafe.Pointer(&p.ldc)),
		1, 1)
	argsPool.Put(p)
}

// Row-major y = op(A) x is, with A read column-major as Aᵀ, the opposite
// transposition of an n×m matrix. Negative increments have the reference
// BLAS meaning in both gonum and OpenBLAS, so the slices pass unchanged.

func (l *library) sgemv(aT bool, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
	p := getArgs()
	p.ta[0] = flag(!aT)
	p.m, p.n, p.lda, p.incX, p.incY = int64(n), int64(m), int64(lda), int64(incX), int64(incY)
	p.salpha, p.sbeta = alpha, beta
	purego.SyscallN(l.fnSgemv,
		uintptr(unsafe.Pointer(&p.ta)), uintptr(unsafe.Pointer(&p.m)), uintptr(unsafe.Pointer(&p.n)),
		uintptr(unsafe.Pointer(&p.salpha)), uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&p.lda)),
		uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&p.incX)),
		uintptr(unsafe.Pointer(&p.sbeta)), uintptr(unsafe.Pointer(&y[0])), uintptr(unsafe.Pointer(&p.incY)),
		1)
	argsPool.Put(p)
}

func (l *library) dgemv(aT bool, m, n int, alpha float64, a []float64, lda int, x []float64, incX int, beta float64, y []float64, incY int) {
	p := getArgs()
	p.ta[0] = flag(!aT)
	p.m, p.n, p.lda, p.incX, p.incY = int64(n), int64(m), int64(lda), int64(incX), int64(incY)
	p.dalpha, p.dbeta = alpha, beta
	purego.SyscallN(l.fnDgemv,
		uintptr(unsafe.Pointer(&p.ta)), uintptr(unsafe.Pointer(&p.m)), uintptr(unsafe.Pointer(&p.n)),
		uintptr(unsafe.Pointer(&p.dalpha)), uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&p.lda)),
		uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&p.incX)),
		uintptr(unsafe.Pointer(&p.dbeta)), uintptr(unsafe.Pointer(&y[0])), uintptr(unsafe.Pointer(&p.incY)),
		1)
	argsPool.Put(p)
}

// Row-major A += alpha x yᵀ is column-major Aᵀ += alpha y xᵀ.

func (l *library) sger(m, n int, alpha float32, x []float32, incX int, y []float32, incY int, a []float32, lda int) {
	p := getArgs()
	p.m, p.n, p.lda, p.incX, p.incY = int64(n), int64(m), int64(lda), int64(incY), int64(incX)
	p.salpha = alpha
	purego.SyscallN(l.fnSger,
		uintptr(unsafe.Pointer(&p.m)), uintptr(unsafe.Pointer(&p.n)), uintptr(unsafe.Pointer(&p.salpha)),
		uintptr(unsafe.Pointer(&y[0])), uintptr(unsafe.Pointer(&p.incX)),
		uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&p.incY)),
		uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&p.lda)))
	argsPool.Put(p)
}

func (l *library) dger(m, n int, alpha float64, x []float64, incX int, y []float64, incY int, a []float64, lda int) {
	p := getArgs()
	p.m, p.n, p.lda, p.incX, p.incY = int64(n), int64(m), int64(lda), int64(incY), int64(incX)
	p.dalpha = alpha
	purego.SyscallN(l.fnDger,
		uintptr(unsafe.Pointer(&p.m)), uintptr(unsafe.Pointer(&p.n)), uintptr(unsafe.Pointer(&p.dalpha)),
		uintptr(unsafe.Pointer(&y[0])), uintptr(unsafe.Pointer(&p.incX)),
		uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&p.incY)),
		uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&p.lda)))
	argsPool.Put(p)
}

// selfTest checks every routine on a small problem, so that a library with
// an unexpected interface is refused instead of computing garbage.
func (l *library) selfTest() error {
	// A is 2×3, B is 3×2 (row-major); A·B = [[4 5] [10 11]].
	a := []float64{1, 2, 3, 4, 5, 6}
	b := []float64{1, 0, 0, 1, 1, 1}
	want := []float64{4, 5, 10, 11}
	c := make([]float64, 4)
	l.dgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2)
	if !same64(c, want) {
		return fmt.Errorf("dgemm self-test: got %v, want %v", c, want)
	}
	af, bf, cf := to32(a), to32(b), make([]float32, 4)
	l.sgemm(false, false, 2, 2, 3, 1, af, 3, bf, 2, 0, cf, 2)
	if !same64(to64(cf), want) {
		return fmt.Errorf("sgemm self-test: got %v, want %v", cf, want)
	}
	// A·x with x = (1, 1, 1) is (6, 15); Aᵀ·y with y = (1, 1) is (5, 7, 9).
	y := make([]float64, 2)
	l.dgemv(false, 2, 3, 1, a, 3, []float64{1, 1, 1}, 1, 0, y, 1)
	z := make([]float32, 3)
	l.sgemv(true, 2, 3, 1, af, 3, []float32{1, 1}, 1, 0, z, 1)
	if !same64(y, []float64{6, 15}) || !same64(to64(z), []float64{5, 7, 9}) {
		return fmt.Errorf("gemv self-test: got %v and %v", y, z)
	}
	// (1, 2)ᵀ(1, 0, 1) added to zero.
	g := make([]float64, 6)
	l.dger(2, 3, 1, []float64{1, 2}, 1, []float64{1, 0, 1}, 1, g, 3)
	gf := make([]float32, 6)
	l.sger(2, 3, 1, []float32{1, 2}, 1, []float32{1, 0, 1}, 1, gf, 3)
	wantG := []float64{1, 0, 1, 2, 0, 2}
	if !same64(g, wantG) || !same64(to64(gf), wantG) {
		return fmt.Errorf("ger self-test: got %v and %v", g, gf)
	}
	return nil
}

func same64(x, y []float64) bool {
	for i := range x {
		if math.Abs(x[i]-y[i]) > 1e-6 {
			return false
		}
	}
	return len(x) == len(y)
}

func to32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

func to64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}
