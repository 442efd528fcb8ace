package blas

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// BenchmarkSgemm times the convolution products of LeNet++ (weights ×
// im2col columns for one image) in oneDNN, OpenBLAS and gonum, one call at a time
// ("serial") and from one goroutine per core ("parallel", as the trainer
// calls them). It reports GFLOP/s.
func BenchmarkSgemm(b *testing.B) {
	shapes := []struct{ m, k, n int }{
		{64, 1600, 196}, // stage 2, second conv: 64 filters of 64×5×5, 14×14 outputs
		{32, 800, 784},  // stage 1, second conv: 32 filters of 32×5×5, 28×28 outputs
	}
	type cand struct {
		name string
		impl *Implementation
	}
	var cands []cand
	for _, l := range []struct {
		name string
		load func() (*Implementation, error)
	}{{"onednn", LoadOneDNN}, {"openblas", Load}} {
		if impl, err := l.load(); err == nil {
			cands = append(cands, cand{l.name, impl})
			b.Logf("%s: %s", l.name, impl.Name())
		} else {
			b.Logf("%s not available: %v", l.name, err)
		}
	}
	cands = append(cands, cand{"gonum", Gonum()})
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range shapes {
		a, bm := rand32(r, s.m*s.k), rand32(r, s.k*s.n)
		flops := 2 * float64(s.m) * float64(s.k) * float64(s.n)
		for _, c := range cands {
			name := fmt.Sprintf("%s/M%dK%dN%d", c.name, s.m, s.k, s.n)
			b.Run(name+"/serial", func(b *testing.B) {
				out := make([]float32, s.m*s.n)
				for b.Loop() {
					c.impl.Sgemm(blas.NoTrans, blas.NoTrans, s.m, s.n, s.k, 1, a, s.k, bm, s.n, 0, out, s.n)
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
			b.Run(name+"/parallel", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					out := make([]float32, s.m*s.n)
					for pb.Next() {
						c.impl.Sgemm(blas.NoTrans, blas.NoTrans, s.m, s.n, s.k, 1, a, s.k, bm, s.n, 0, out, s.n)
					}
				})
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
