package graph

import (
	"runtime"
	"sync"

	gonum "gonum.org/v1/gonum/blas"

	"github.com/centerloss-go/centerloss/internal/blas"
)

// Float is the element type of the fast kernels.
type Float interface{ ~float32 | ~float64 }

// gemm computes c = a·b + beta·c (row-major), with a and b optionally
// transposed, in bl (nil: blas.Default, for the ops built outside a Net).
func gemm[T Float](bl *blas.Implementation, tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if bl == nil {
		bl = blas.Default()
	}
	switch a := any(a).(type) {
	case []float32:
		bl.Sgemm(trans(tA), trans(tB), m, n, k, 1, a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		bl.Dgemm(trans(tA), trans(tB), m, n, k, 1, a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

func trans(t bool) gonum.Transpose {
	if t {
		return gonum.Trans
	}
	return gonum.NoTrans
}

// workers is how many goroutines a kernel splits a batch over: one per core,
// since the BLAS runs single-threaded inside each of them.
func workers(n int) int {
	p := runtime.GOMAXPROCS(0)
	if n < p {
		p = n
	}
	if p < 1 {
		p = 1
	}
	return p
}

// elementWorkers is how many goroutines an elementwise kernel over size
// values in n images uses: small inputs are not worth a goroutine.
func elementWorkers(n, size int) int { return min(workers(n), size/16384+1) }

// parallel splits [0, n) into p contiguous chunks and runs fn(worker, lo, hi)
// for each, the first on the calling goroutine and the others in goroutines
// of their own.
func parallel(n, p int, fn func(w, lo, hi int)) {
	if p <= 1 {
		fn(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for w := 1; w < p; w++ {
		lo, hi := w*n/p, (w+1)*n/p
		if lo == hi {
			continue
		}
		wg.Add(1)
		go func(w, lo, hi int) {
			defer wg.Done()
			fn(w, lo, hi)
		}(w, lo, hi)
	}
	if hi := n / p; hi > 0 {
		fn(0, 0, hi)
	}
	wg.Wait()
}

// geom is the geometry of a stride-1 convolution with a square kernel.
type geom struct {
	c, h, w    int // input channels and size
	k, pad     int // kernel size and zero padding
	oh, ow     int // output size
	co         int // output channels
	rows, cols int // im2col matrix: c*k*k rows, oh*ow columns
}

func newGeom(c, h, w, co, k, pad int) geom {
	g := geom{c: c, h: h, w: w, k: k, pad: pad, co: co}
	g.oh, g.ow = h+2*pad-k+1, w+2*pad-k+1
	g.rows, g.cols = c*k*k, g.oh*g.ow
	return g
}

// group is how many images share one matrix product. Small maps (7×7,
// 14×14) make thin products that spend their time packing the filter;
// putting several images side by side gives the BLAS about 800 columns.
func (g geom) group() int { return max(1, 800/g.cols) }

// im2col writes the patches of one image x (c×h×w) into col, a rows×cols
// block of a matrix whose rows are ld apart.
func im2col[T Float](g geom, x, col []T, ld int) {
	r := 0
	for c := 0; c < g.c; c++ {
		plane := x[c*g.h*g.w : (c+1)*g.h*g.w]
		for ki := 0; ki < g.k; ki++ {
			for kj := 0; kj < g.k; kj++ {
				dst := col[r*ld : r*ld+g.cols]
				r++
				// Output rows [top, bottom) read input row ih = oh+ki-pad inside
				// the image, output columns [lo, hi) input column iw = ow+kj-pad.
				top, bottom := max(0, g.pad-ki), min(g.oh, g.h+g.pad-ki)
				lo, hi := max(0, g.pad-kj), min(g.ow, g.w+g.pad-kj)
				if top >= bottom || lo >= hi {
					clear(dst)
					continue
				}
				clear(dst[:top*g.ow])
				clear(dst[bottom*g.ow:])
				for oh := top; oh < bottom; oh++ {
					row := dst[oh*g.ow : (oh+1)*g.ow]
					for j := range lo { // at most pad values: cheaper than a call
						row[j] = 0
					}
					src := oh*g.w + (ki-g.pad)*g.w + kj - g.pad
					copy(row[lo:hi], plane[src+lo:src+hi])
					for j := hi; j < len(row); j++ {
						row[j] = 0
					}
				}
			}
		}
	}
}

// col2im adds the patch gradients in col (a rows×cols block whose rows are
// ld apart) into one image dx (c×h×w), which the caller has zeroed.
func col2im[T Float](g geom, col, dx []T, ld int) {
	if g.k == 5 && g.pad == 2 && g.w >= 5 {
		col2im5(g, col, dx, ld)
		return
	}
	r := 0
	for c := 0; c < g.c; c++ {
		plane := dx[c*g.h*g.w : (c+1)*g.h*g.w]
		for ki := 0; ki < g.k; ki++ {
			for kj := 0; kj < g.k; kj++ {
				src := col[r*ld : r*ld+g.cols]
				r++
				lo, hi := max(0, g.pad-kj), min(g.ow, g.w+g.pad-kj)
				if lo >= hi {
					continue
				}
				for oh := 0; oh < g.oh; oh++ {
					ih := oh + ki - g.pad
					if ih < 0 || ih >= g.h {
						continue
					}
					d := plane[ih*g.w+lo+kj-g.pad : ih*g.w+hi+kj-g.pad]
					s := src[oh*g.ow+lo : oh*g.ow+hi]
					s = s[:len(d)] // lets the compiler drop the bounds checks
					for i := range d {
						d[i] += s[i]
					}
				}
			}
		}
	}
}

// col2im5 is col2im for LeNet++'s 5×5 kernels with padding 2, whose output
// has the input's size, on maps at least 5 wide. It gathers the five kernel
// columns of a kernel row into each input pixel in one pass, instead of
// adding five shifted rows into the image one after the other.
func col2im5[T Float](g geom, col, dx []T, ld int) {
	w := g.w
	for c := 0; c < g.c; c++ {
		plane := dx[c*g.h*w : (c+1)*g.h*w]
		for ki := 0; ki < 5; ki++ {
			base := (c*25 + ki*5) * ld
			r0, r1, r2 := col[base:base+g.cols], col[base+ld:base+ld+g.cols], col[base+2*ld:base+2*ld+g.cols]
			r3, r4 := col[base+3*ld:base+3*ld+g.cols], col[base+4*ld:base+4*ld+g.cols]
			// Output row oh reads input row ih = oh+ki-2.
			for oh := max(0, 2-ki); oh < min(g.oh, g.h+2-ki); oh++ {
				d := plane[(oh+ki-2)*w : (oh+ki-1)*w]
				o := oh * w
				// Input column iw gets r_kj[iw+2-kj] for every kj with
				// 0 <= iw+2-kj < w.
				a0, a1, a2, a3, a4 := r0[o:o+w], r1[o:o+w], r2[o:o+w], r3[o:o+w], r4[o:o+w]
				for iw := range 2 {
					s := a2[iw] + a1[iw+1] + a0[iw+2]
					if iw >= 1 {
						s += a3[iw-1]
					}
					d[iw] += s
				}
				for iw := 2; iw < w-2; iw++ {
					d[iw] += a0[iw+2] + a1[iw+1] + a2[iw] + a3[iw-1] + a4[iw-2]
				}
				for iw := w - 2; iw < w; iw++ {
					s := a2[iw] + a3[iw-1] + a4[iw-2]
					if iw+1 < w {
						s += a1[iw+1]
					}
					d[iw] += s
				}
			}
		}
	}
}
