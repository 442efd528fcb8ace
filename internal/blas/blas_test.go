package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/centerloss-go/centerloss/internal/onednn"
)

var ref gonum.Implementation

// openBLAS returns the OpenBLAS implementation, skipping the test where the
// library is not installed.
func openBLAS(t testing.TB) *Implementation {
	t.Helper()
	impl, err := Load()
	if err != nil {
		t.Skipf("OpenBLAS not available: %v", err)
	}
	return impl
}

// impls returns the implementations to check against gonum's.
func impls(t *testing.T) map[string]*Implementation {
	m := map[string]*Implementation{"gonum": Gonum(), "default": Default()}
	if impl, err := Load(); err == nil {
		m["openblas"] = impl
		if lib, err := onednn.Load(); err != nil {
			t.Logf("oneDNN not available: %v", err)
		} else if both, err := impl.WithOneDNN(lib, true); err == nil {
			m["onednn+openblas"] = both
		}
	} else {
		t.Logf("OpenBLAS not available: %v", err)
	}
	if impl, err := LoadOneDNN(); err == nil {
		m["onednn"] = impl
	} else {
		t.Logf("oneDNN not available: %v", err)
	}
	return m
}

// oneDNN returns the implementation whose Sgemm is oneDNN's, skipping the
// test where the library is not installed.
func oneDNN(t testing.TB) *Implementation {
	t.Helper()
	impl, err := LoadOneDNN()
	if err != nil {
		t.Skipf("oneDNN not available: %v", err)
	}
	return impl
}

func rand32(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func rand64(r *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	return x
}

func close32(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s: element %d is %v, want %v", what, i, got[i], want[i])
		}
	}
}

func close64(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(got[i] - want[i]); d > tol*(1+math.Abs(want[i])) {
			t.Fatalf("%s: element %d is %v, want %v", what, i, got[i], want[i])
		}
	}
}

var transposes = []blas.Transpose{blas.NoTrans, blas.Trans}

// gemmCase is one product: op(A) is m×k, op(B) is k×n, with padding added
// to every leading dimension.
type gemmCase struct {
	m, n, k, pad int
	alpha, beta  float64
}

var gemmCases = []gemmCase{
	{1, 1, 1, 0, 1, 0},
	{3, 5, 7, 0, 1, 0},
	{5, 3, 2, 2, 0.5, 1},
	{17, 9, 33, 3, -1.5, 0.25},
	{64, 196, 100, 0, 1, 0},
	{32, 78, 800, 5, 1, 1},
	{130, 65, 257, 1, 2, -0.5},
}

// dims returns the stored rows and columns of an operand that is r×c after
// op, and its leading dimension.
func dims(trans bool, r, c, pad int) (rows, cols, ld int) {
	if trans {
		r, c = c, r
	}
	return r, c, c + pad
}

func size(rows, ld int) int { return (rows-1)*ld + ld } // full last row, padding included

func TestGemmMatchesGonum(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for name, impl := range impls(t) {
		for _, tc := range gemmCases {
			for _, tA := range transposes {
				for _, tB := range transposes {
					ar, _, lda := dims(tA == blas.Trans, tc.m, tc.k, tc.pad)
					br, _, ldb := dims(tB == blas.Trans, tc.k, tc.n, tc.pad)
					ldc := tc.n + tc.pad
					what := fmt.Sprintf("%s %c%c m=%d n=%d k=%d pad=%d", name, tA, tB, tc.m, tc.n, tc.k, tc.pad)

					a, b, c := rand32(r, size(ar, lda)), rand32(r, size(br, ldb)), rand32(r, size(tc.m, ldc))
					want := append([]float32(nil), c...)
					ref.Sgemm(tA, tB, tc.m, tc.n, tc.k, float32(tc.alpha), a, lda, b, ldb, float32(tc.beta), want, ldc)
					impl.Sgemm(tA, tB, tc.m, tc.n, tc.k, float32(tc.alpha), a, lda, b, ldb, float32(tc.beta), c, ldc)
					close32(t, "Sgemm "+what, c, want, 1e-4)

					a64, b64, c64 := rand64(r, size(ar, lda)), rand64(r, size(br, ldb)), rand64(r, size(tc.m, ldc))
					want64 := append([]float64(nil), c64...)
					ref.Dgemm(tA, tB, tc.m, tc.n, tc.k, tc.alpha, a64, lda, b64, ldb, tc.beta, want64, ldc)
					impl.Dgemm(tA, tB, tc.m, tc.n, tc.k, tc.alpha, a64, lda, b64, ldb, tc.beta, c64, ldc)
					close64(t, "Dgemm "+what, c64, want64, 1e-10)
				}
			}
		}
	}
}

// TestDefault checks Default's products, including a C that is a
// sub-matrix of a larger one (ldc > n) whose padding must stay untouched.
func TestDefault(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const m, n, k, pad = 9, 14, 23, 4
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			ar, _, lda := dims(tA, m, k, pad)
			br, _, ldb := dims(tB, k, n, pad)
			ldc := n + pad
			a, b, c := rand32(r, size(ar, lda)), rand32(r, size(br, ldb)), rand32(r, size(m, ldc))
			want := append([]float32(nil), c...)
			ref.Sgemm(transpose(tA), transpose(tB), m, n, k, 1, a, lda, b, ldb, 0, want, ldc)
			Default().Sgemm(transpose(tA), transpose(tB), m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
			close32(t, fmt.Sprintf("Sgemm(%v, %v)", tA, tB), c, want, 1e-4)

			a64, b64, c64 := rand64(r, size(ar, lda)), rand64(r, size(br, ldb)), rand64(r, size(m, ldc))
			want64 := append([]float64(nil), c64...)
			ref.Dgemm(transpose(tA), transpose(tB), m, n, k, 2, a64, lda, b64, ldb, 1, want64, ldc)
			Default().Dgemm(transpose(tA), transpose(tB), m, n, k, 2, a64, lda, b64, ldb, 1, c64, ldc)
			close64(t, fmt.Sprintf("Dgemm(%v, %v)", tA, tB), c64, want64, 1e-10)
		}
	}
}

func TestGemvMatchesGonum(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	shapes := [][3]int{{1, 1, 0}, {7, 3, 0}, {3, 7, 2}, {128, 1152, 0}, {40, 33, 5}}
	incs := [][2]int{{1, 1}, {2, 3}, {-1, 1}, {1, -2}, {-3, -1}}
	for name, impl := range impls(t) {
		for _, s := range shapes {
			m, n, lda := s[0], s[1], s[1]+s[2]
			for _, tA := range transposes {
				for _, inc := range incs {
					nx, ny := n, m
					if tA == blas.Trans {
						nx, ny = m, n
					}
					lx, ly := (nx-1)*abs(inc[0])+1, (ny-1)*abs(inc[1])+1
					what := fmt.Sprintf("%s %c m=%d n=%d lda=%d inc=%v", name, tA, m, n, lda, inc)

					a, x, y := rand32(r, size(m, lda)), rand32(r, lx), rand32(r, ly)
					want := append([]float32(nil), y...)
					ref.Sgemv(tA, m, n, 1.5, a, lda, x, inc[0], 0.5, want, inc[1])
					impl.Sgemv(tA, m, n, 1.5, a, lda, x, inc[0], 0.5, y, inc[1])
					close32(t, "Sgemv "+what, y, want, 1e-4)

					a64, x64, y64 := rand64(r, size(m, lda)), rand64(r, lx), rand64(r, ly)
					want64 := append([]float64(nil), y64...)
					ref.Dgemv(tA, m, n, -0.75, a64, lda, x64, inc[0], 2, want64, inc[1])
					impl.Dgemv(tA, m, n, -0.75, a64, lda, x64, inc[0], 2, y64, inc[1])
					close64(t, "Dgemv "+what, y64, want64, 1e-10)
				}
			}
		}
	}
}

// gerNaive is A += alpha x yᵀ with the reference BLAS meaning of negative
// increments. It is the reference for ger: gonum v0.11's Sger and Dger get
// negative increments wrong (they hand them to the assembly kernels
// unadjusted), which OpenBLAS does not.
func gerNaive(m, n int, alpha float64, x func(int) float64, incX int, y func(int) float64, incY int, a func(i, j int, v float64)) {
	at := func(i, n, inc int) int {
		if inc < 0 {
			return (n - 1 - i) * -inc
		}
		return i * inc
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			a(i, j, alpha*x(at(i, m, incX))*y(at(j, n, incY)))
		}
	}
}

func TestGerMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for name, impl := range impls(t) {
		for _, s := range [][3]int{{1, 1, 0}, {5, 9, 0}, {9, 5, 3}, {64, 100, 1}} {
			m, n, lda := s[0], s[1], s[1]+s[2]
			for _, inc := range [][2]int{{1, 1}, {2, -1}, {-2, 3}} {
				if !impl.IsOpenBLAS() && (inc[0] < 0 || inc[1] < 0) {
					continue // the gonum bug above
				}
				lx, ly := (m-1)*abs(inc[0])+1, (n-1)*abs(inc[1])+1
				what := fmt.Sprintf("%s m=%d n=%d lda=%d inc=%v", name, m, n, lda, inc)

				a, x, y := rand32(r, size(m, lda)), rand32(r, lx), rand32(r, ly)
				want := append([]float32(nil), a...)
				gerNaive(m, n, 0.5, func(i int) float64 { return float64(x[i]) }, inc[0],
					func(j int) float64 { return float64(y[j]) }, inc[1],
					func(i, j int, v float64) { want[i*lda+j] += float32(v) })
				impl.Sger(m, n, 0.5, x, inc[0], y, inc[1], a, lda)
				close32(t, "Sger "+what, a, want, 1e-5)

				a64, x64, y64 := rand64(r, size(m, lda)), rand64(r, lx), rand64(r, ly)
				want64 := append([]float64(nil), a64...)
				gerNaive(m, n, -2, func(i int) float64 { return x64[i] }, inc[0],
					func(j int) float64 { return y64[j] }, inc[1],
					func(i, j int, v float64) { want64[i*lda+j] += v })
				impl.Dger(m, n, -2, x64, inc[0], y64, inc[1], a64, lda)
				close64(t, "Dger "+what, a64, want64, 1e-12)
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func panicValue(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// TestArgumentChecks checks that invalid arguments panic exactly as in
// gonum, and that empty products and alpha = 0 behave as there.
func TestArgumentChecks(t *testing.T) {
	a, b, c := make([]float32, 12), make([]float32, 12), make([]float32, 12)
	calls := map[string]func(blas.Float32){
		"bad transpose": func(i blas.Float32) { i.Sgemm('X', blas.NoTrans, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2) },
		"m < 0":         func(i blas.Float32) { i.Sgemm(blas.NoTrans, blas.NoTrans, -1, 2, 2, 1, a, 2, b, 2, 0, c, 2) },
		"lda < k":       func(i blas.Float32) { i.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2) },
		"short A":       func(i blas.Float32) { i.Sgemm(blas.Trans, blas.NoTrans, 2, 2, 3, 1, a[:3], 2, b, 2, 0, c, 2) },
		"short C":       func(i blas.Float32) { i.Sgemm(blas.NoTrans, blas.NoTrans, 3, 3, 2, 1, a, 2, b, 3, 0, c[:5], 3) },
		"gemv incX 0":   func(i blas.Float32) { i.Sgemv(blas.NoTrans, 2, 2, 1, a, 2, b, 0, 0, c, 1) },
		"gemv short y":  func(i blas.Float32) { i.Sgemv(blas.Trans, 2, 5, 1, a, 5, b, 1, 0, c[:4], 1) },
		"ger lda":       func(i blas.Float32) { i.Sger(2, 3, 1, a, 1, b, 1, c, 2) },
		"empty":         func(i blas.Float32) { i.Sgemm(blas.NoTrans, blas.NoTrans, 0, 2, 2, 1, nil, 2, b, 2, 0, nil, 2) },
		"k = 0":         func(i blas.Float32) { i.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 0, 1, a, 1, b, 2, 0, c, 2) },
	}
	for name, impl := range impls(t) {
		for what, call := range calls {
			want := panicValue(func() { call(ref) })
			got := panicValue(func() { call(impl) })
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s, %s: panic %v, want %v", name, what, got, want)
			}
		}
	}
	// k = 0 scales C by beta; alpha = 0 too.
	for name, impl := range impls(t) {
		c := []float32{1, 2, 3, 4}
		impl.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 0, 1, a, 1, b, 2, 2, c, 2)
		impl.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 2, 0, a, 2, b, 2, 0.5, c, 2)
		close32(t, name+" k = 0 and alpha = 0", c, []float32{1, 2, 3, 4}, 0)
	}
}

func TestConcurrent(t *testing.T) {
	t.Run("openblas", func(t *testing.T) { testConcurrent(t, openBLAS(t)) })
	t.Run("onednn", func(t *testing.T) { testConcurrent(t, oneDNN(t)) })
}

func testConcurrent(t *testing.T, impl *Implementation) {
	const goroutines, rounds = 8, 40
	const m, n, k = 48, 70, 150
	r := rand.New(rand.NewPCG(9, 10))
	type job struct{ a, b, want []float32 }
	jobs := make([]job, goroutines)
	for g := range jobs {
		a, b, want := rand32(r, m*k), rand32(r, k*n), make([]float32, m*n)
		ref.Sgemm(blas.NoTrans, blas.Trans, m, n, k, 1, a, k, b, k, 0, want, n)
		jobs[g] = job{a, b, want}
	}
	var wg sync.WaitGroup
	errs := make(chan string, goroutines)
	for g := range jobs {
		wg.Add(1)
		go func(j job) {
			defer wg.Done()
			c := make([]float32, m*n)
			y := make([]float64, 1)
			for range rounds {
				impl.Sgemm(blas.NoTrans, blas.Trans, m, n, k, 1, j.a, k, j.b, k, 0, c, n)
				for i := range c {
					if math.Abs(float64(c[i]-j.want[i])) > 1e-3 {
						errs <- fmt.Sprintf("element %d is %v, want %v", i, c[i], j.want[i])
						return
					}
				}
				impl.Dgemv(blas.NoTrans, 1, 1, 1, []float64{3}, 1, []float64{2}, 1, 0, y, 1)
				if y[0] != 6 {
					errs <- fmt.Sprintf("Dgemv gave %v, want 6", y[0])
					return
				}
			}
		}(jobs[g])
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestAllocations checks that a call costs at most the one small
// allocation of purego.SyscallN's argument list.
func TestAllocations(t *testing.T) {
	impl := openBLAS(t)
	a, b, c := make([]float32, 64*64), make([]float32, 64*64), make([]float32, 64*64)
	if n := testing.AllocsPerRun(100, func() {
		impl.Sgemm(blas.NoTrans, blas.NoTrans, 64, 64, 64, 1, a, 64, b, 64, 0, c, 64)
	}); n > 1 {
		t.Errorf("Sgemm allocates %v times per call", n)
	}
	// oneDNN's product is called through a pooled argument block.
	dnn := oneDNN(t)
	if n := testing.AllocsPerRun(100, func() {
		dnn.Sgemm(blas.NoTrans, blas.NoTrans, 64, 64, 64, 1, a, 64, b, 64, 0, c, 64)
	}); n > 0 {
		t.Errorf("oneDNN Sgemm allocates %v times per call", n)
	}
}

// TestOneDNNThreads checks that a oneDNN product runs on one thread and
// leaves the thread that called it as it was: on OpenMP, the setting of
// that thread for its later parallel regions (oneDNN's primitives among
// them) is what it was before.
func TestOneDNNThreads(t *testing.T) {
	impl := oneDNN(t)
	if impl.fast.oneThread == 0 {
		t.Skipf("oneDNN runs on %s, not OpenMP", impl.fast.name())
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := onednn.OpenMPThreads()
	c := make([]float32, 4)
	impl.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 1, 1, []float32{1, 2}, 1, []float32{3, 4}, 2, 0, c, 2)
	if n := onednn.OpenMPThreads(); n != before || impl.fast.threads != 1 {
		t.Errorf("after a product, OpenMP would run %d threads on this thread (%d before) and the product says %d; want %d and 1", n, before, impl.fast.threads, before)
	}
	if !slices.Equal(c, []float32{3, 4, 6, 8}) {
		t.Errorf("product %v, want [3 4 6 8]", c)
	}
	if !impl.IsNative() || impl.IsOpenBLAS() || !strings.HasPrefix(impl.Name(), "oneDNN ") ||
		!strings.HasSuffix(impl.Name(), " + gonum (pure Go)") || !strings.Contains(impl.Name(), "1 threads") {
		t.Errorf("LoadOneDNN gave %q (native %v, OpenBLAS %v)", impl.Name(), impl.IsNative(), impl.IsOpenBLAS())
	}
}

func TestLoadFailures(t *testing.T) {
	if _, err := LoadPath("/nonexistent/libopenblas.so.0"); err == nil {
		t.Error("LoadPath of a missing file succeeded")
	}
	// A library without BLAS symbols is refused.
	for _, p := range []string{"libm.so.6", "libc.so.6"} {
		if impl, err := LoadPath(p); err == nil {
			t.Errorf("LoadPath(%q) succeeded: %s", p, impl.Name())
		}
	}
}

func TestNames(t *testing.T) {
	if got := Gonum().Name(); got != "gonum (pure Go)" {
		t.Errorf("Gonum().Name() = %q", got)
	}
	if Gonum().IsOpenBLAS() {
		t.Error("Gonum().IsOpenBLAS() is true")
	}
	if impl, err := Load(); err == nil {
		if !impl.IsOpenBLAS() || !strings.Contains(impl.Name(), "OpenBLAS") {
			t.Errorf("Load() gave %q", impl.Name())
		}
		t.Logf("OpenBLAS: %s", impl.Name())
	}
	if _, err := Load(); err == nil && !Default().IsOpenBLAS() {
		t.Errorf("OpenBLAS loads, but Default is %s", Default().Name())
	}
}

func TestSetThreads(t *testing.T) {
	impl := openBLAS(t)
	SetThreads(2)
	a, b, c := rand32(rand.New(rand.NewPCG(1, 1)), 256*256), make([]float32, 256*256), make([]float32, 256*256)
	for i := 0; i < 256; i++ {
		b[i*256+i] = 1
	}
	impl.Sgemm(blas.NoTrans, blas.NoTrans, 256, 256, 256, 1, a, 256, b, 256, 0, c, 256)
	SetThreads(1)
	close32(t, "Sgemm with 2 threads", c, a, 0)
	if threads.get() != 1 {
		t.Errorf("thread count %d after SetThreads(1)", threads.get())
	}
}

func transpose(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}
