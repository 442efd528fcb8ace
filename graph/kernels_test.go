package graph

import (
	"math"
	"math/rand/v2"
	"testing"
)

// col2imRef is the plain definition of col2im: every patch value is added
// to the input pixel it was read from.
func col2imRef(g geom, col, dx []float64, ld int) {
	for c := 0; c < g.c; c++ {
		for ki := 0; ki < g.k; ki++ {
			for kj := 0; kj < g.k; kj++ {
				row := (c*g.k+ki)*g.k + kj
				for oh := 0; oh < g.oh; oh++ {
					for ow := 0; ow < g.ow; ow++ {
						ih, iw := oh+ki-g.pad, ow+kj-g.pad
						if ih >= 0 && ih < g.h && iw >= 0 && iw < g.w {
							dx[(c*g.h+ih)*g.w+iw] += col[row*ld+oh*g.ow+ow]
						}
					}
				}
			}
		}
	}
}

// TestCol2im checks col2im (with its 5×5 fast path) and im2col against the
// definition on the map sizes of LeNet++ and a few odd ones, with a leading
// dimension wider than the block as in grouped products.
func TestCol2im(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ c, h, k, pad int }{
		{2, 28, 5, 2}, {3, 14, 5, 2}, {2, 7, 5, 2}, {1, 3, 5, 2}, {1, 1, 5, 2}, {2, 2, 5, 2},
		{2, 6, 3, 1}, {1, 5, 5, 0},
	} {
		g := newGeom(tc.c, tc.h, tc.h, 4, tc.k, tc.pad)
		ld := g.cols + 3
		col := make([]float64, g.rows*ld)
		for i := range col {
			col[i] = r.NormFloat64()
		}
		got, want := make([]float64, g.c*g.h*g.w), make([]float64, g.c*g.h*g.w)
		col2im(g, col, got, ld)
		col2imRef(g, col, want, ld)
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-12 {
				t.Fatalf("%+v: dx[%d] = %v, want %v", tc, i, got[i], want[i])
			}
		}

		// im2col is col2im's adjoint: <im2col(x), col> = <x, col2im(col)>.
		x := make([]float64, g.c*g.h*g.w)
		for i := range x {
			x[i] = r.NormFloat64()
		}
		patches := make([]float64, g.rows*ld)
		im2col(g, x, patches, ld)
		var lhs, rhs float64
		for row := 0; row < g.rows; row++ {
			for j := 0; j < g.cols; j++ {
				lhs += patches[row*ld+j] * col[row*ld+j]
			}
		}
		for i := range x {
			rhs += x[i] * want[i]
		}
		if math.Abs(lhs-rhs) > 1e-9*(1+math.Abs(rhs)) {
			t.Errorf("%+v: <im2col(x), col> = %v, <x, col2im(col)> = %v", tc, lhs, rhs)
		}
	}
}
