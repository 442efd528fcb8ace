//go:build linux && amd64

package onednn

import (
	"math"
	"math/rand/v2"
	"testing"
)

func load(t testing.TB) (*Library, *Engine) {
	t.Helper()
	l, err := Load()
	if err != nil {
		t.Skipf("oneDNN not available: %v", err)
	}
	e, err := l.NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	return l, e
}

func desc(t testing.TB, l *Library, shape []int, tag Tag) *Desc {
	t.Helper()
	d, err := l.NewDesc(shape, DataF32, tag)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

func near(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}

// TestConvolution checks a padded 3×3 convolution with bias, its input
// gradient and its weight and bias gradients, all in plain NCHW, against
// sums written out here.
func TestConvolution(t *testing.T) {
	l, e := load(t)
	const n, c, h, w, co, k, pad = 2, 3, 5, 4, 4, 3, 1
	rng := rand.New(rand.NewPCG(1, 2))
	x, wt, b := randSlice(rng, n*c*h*w), randSlice(rng, co*c*k*k), randSlice(rng, co)
	src, dst := desc(t, l, []int{n, c, h, w}, ABCD), desc(t, l, []int{n, co, h, w}, ABCD)
	wd, bd := desc(t, l, []int{co, c, k, k}, ABCD), desc(t, l, []int{co}, A)
	fwd, err := e.ConvForward(ForwardTraining, src, wd, bd, dst, pad)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float32, n*co*h*w)
	if err := fwd.Execute(F32(ArgSrc, x), F32(ArgWeights, wt), F32(ArgBias, b), F32(ArgDst, y)); err != nil {
		t.Fatal(err)
	}
	at := func(s []float32, i, ch, r, q, cs int) float32 {
		if r < 0 || r >= h || q < 0 || q >= w {
			return 0
		}
		return s[((i*cs+ch)*h+r)*w+q]
	}
	want := make([]float32, len(y))
	for i := 0; i < n; i++ {
		for o := 0; o < co; o++ {
			for r := 0; r < h; r++ {
				for q := 0; q < w; q++ {
					s := b[o]
					for ch := 0; ch < c; ch++ {
						for u := 0; u < k; u++ {
							for v := 0; v < k; v++ {
								s += wt[((o*c+ch)*k+u)*k+v] * at(x, i, ch, r+u-pad, q+v-pad, c)
							}
						}
					}
					want[((i*co+o)*h+r)*w+q] = s
				}
			}
		}
	}
	near(t, "y", y, want, 1e-5)

	// Gradients of L = Σ y·g.
	g := randSlice(rng, len(y))
	bd2, err := e.ConvBackwardData(src, wd, dst, pad, fwd)
	if err != nil {
		t.Fatal(err)
	}
	dx := make([]float32, len(x))
	if err := bd2.Execute(F32(ArgDiffDst, g), F32(ArgWeights, wt), F32(ArgDiffSrc, dx)); err != nil {
		t.Fatal(err)
	}
	bw, err := e.ConvBackwardWeights(src, wd, bd, dst, pad, fwd)
	if err != nil {
		t.Fatal(err)
	}
	dw, db := make([]float32, len(wt)), make([]float32, co)
	if err := bw.Execute(F32(ArgSrc, x), F32(ArgDiffDst, g), F32(ArgDiffWeights, dw), F32(ArgDiffBias, db)); err != nil {
		t.Fatal(err)
	}
	wantDx, wantDw, wantDb := make([]float32, len(x)), make([]float32, len(wt)), make([]float32, co)
	for i := 0; i < n; i++ {
		for o := 0; o < co; o++ {
			for r := 0; r < h; r++ {
				for q := 0; q < w; q++ {
					gv := g[((i*co+o)*h+r)*w+q]
					wantDb[o] += gv
					for ch := 0; ch < c; ch++ {
						for u := 0; u < k; u++ {
							for v := 0; v < k; v++ {
								rr, qq := r+u-pad, q+v-pad
								if rr < 0 || rr >= h || qq < 0 || qq >= w {
									continue
								}
								wantDx[((i*c+ch)*h+rr)*w+qq] += gv * wt[((o*c+ch)*k+u)*k+v]
								wantDw[((o*c+ch)*k+u)*k+v] += gv * x[((i*c+ch)*h+rr)*w+qq]
							}
						}
					}
				}
			}
		}
	}
	near(t, "dx", dx, wantDx, 1e-4)
	near(t, "dw", dw, wantDw, 1e-4)
	near(t, "db", db, wantDb, 1e-4)
}

// TestBlockedPoolPReLU runs PReLU and a floor-rounded 2×2 max pooling
// (5×5 -> 2×2) on 16 channels in the blocked nChw16c layout, reached and left
// by reorders, and checks values and gradients by hand.
func TestBlockedPoolPReLU(t *testing.T) {
	l, e := load(t)
	const n, c, h = 2, 16, 5
	rng := rand.New(rand.NewPCG(3, 4))
	x, a := randSlice(rng, n*c*h*h), randSlice(rng, c)
	plain, blocked := desc(t, l, []int{n, c, h, h}, ABCD), desc(t, l, []int{n, c, h, h}, ABcd16b)
	if l.Size(blocked) != 4*len(x) {
		t.Fatalf("nChw16c of %d channels takes %d bytes, want %d", c, l.Size(blocked), 4*len(x))
	}
	toB, err := e.Reorder(plain, blocked)
	if err != nil {
		t.Fatal(err)
	}
	xb := make([]float32, len(x))
	if err := toB.Execute(F32(ArgFrom, x), F32(ArgTo, xb)); err != nil {
		t.Fatal(err)
	}
	// nChw16c: element (i, ch, r, q) sits at ((i*(c/16) + ch/16)*h*h + r*h + q)*16 + ch%16.
	if i, ch, r, q := 1, 9, 3, 2; xb[((i*(c/16)+ch/16)*h*h+r*h+q)*16+ch%16] != x[((i*c+ch)*h+r)*h+q] {
		t.Fatal("reorder to nChw16c misplaced an element")
	}

	ad := desc(t, l, []int{1, c, 1, 1}, ABcd16b)
	pf, err := e.PReLUForward(ForwardTraining, blocked, ad)
	if err != nil {
		t.Fatal(err)
	}
	yb := make([]float32, len(x))
	if err := pf.Execute(F32(ArgSrc, xb), F32(ArgWeights, a), F32(ArgDst, yb)); err != nil {
		t.Fatal(err)
	}
	gb := randSlice(rng, len(x))
	pb, err := e.PReLUBackward(blocked, ad, blocked, ad, pf)
	if err != nil {
		t.Fatal(err)
	}
	dxb, da := make([]float32, len(x)), make([]float32, c)
	if err := pb.Execute(F32(ArgSrc, xb), F32(ArgWeights, a), F32(ArgDiffDst, gb), F32(ArgDiffSrc, dxb), F32(ArgDiffWeights, da)); err != nil {
		t.Fatal(err)
	}
	wantY, wantDx, wantDa := make([]float32, len(x)), make([]float32, len(x)), make([]float32, c)
	for j, v := range xb {
		ch := j % 16
		if v > 0 {
			wantY[j], wantDx[j] = v, gb[j]
		} else {
			wantY[j], wantDx[j] = a[ch]*v, a[ch]*gb[j]
			wantDa[ch] += v * gb[j]
		}
	}
	near(t, "prelu y", yb, wantY, 1e-6)
	near(t, "prelu dx", dxb, wantDx, 1e-6)
	near(t, "prelu da", da, wantDa, 1e-4)

	const oh = h / 2
	pooled := desc(t, l, []int{n, c, oh, oh}, ABcd16b)
	mf, err := e.MaxPoolForward(ForwardTraining, blocked, pooled, 2, -1)
	if err != nil {
		t.Fatal(err)
	}
	zb, ws := make([]float32, n*c*oh*oh), make([]byte, mf.Size(ArgWorkspace))
	if err := mf.Execute(F32(ArgSrc, xb), F32(ArgDst, zb), Bytes(ArgWorkspace, ws)); err != nil {
		t.Fatal(err)
	}
	gz := randSlice(rng, len(zb))
	mb, err := e.MaxPoolBackward(blocked, pooled, 2, -1, mf)
	if err != nil {
		t.Fatal(err)
	}
	dpb := make([]float32, len(x))
	if err := mb.Execute(F32(ArgDiffDst, gz), Bytes(ArgWorkspace, ws), F32(ArgDiffSrc, dpb)); err != nil {
		t.Fatal(err)
	}
	bi := func(i, ch, r, q, s int) int { return ((i*(c/16)+ch/16)*s*s+r*s+q)*16 + ch%16 }
	wantZ, wantDp := make([]float32, len(zb)), make([]float32, len(x))
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for r := 0; r < oh; r++ {
				for q := 0; q < oh; q++ {
					best := bi(i, ch, 2*r, 2*q, h)
					for _, d := range [][2]int{{0, 1}, {1, 0}, {1, 1}} {
						if j := bi(i, ch, 2*r+d[0], 2*q+d[1], h); xb[j] > xb[best] {
							best = j
						}
					}
					wantZ[bi(i, ch, r, q, oh)] = xb[best]
					wantDp[best] += gz[bi(i, ch, r, q, oh)]
				}
			}
		}
	}
	near(t, "pool y", zb, wantZ, 0)
	near(t, "pool dx", dpb, wantDp, 0)
}

// TestUnimplemented checks that a descriptor oneDNN rejects is an error, not a crash.
func TestBadDescriptor(t *testing.T) {
	l, e := load(t)
	src, dst := desc(t, l, []int{1, 4, 5, 5}, ABCD), desc(t, l, []int{1, 4, 9, 9}, ABCD)
	if _, err := e.MaxPoolForward(ForwardTraining, src, dst, 2, 0); err == nil {
		t.Fatal("pooling 5×5 to 9×9 was accepted")
	}
}

// TestCreateAtEveryStackDepth creates a primitive at many stack depths on
// fresh goroutines, so that at some depth the stack grows, and moves, in
// the middle of the calls: descriptors that C fills in must not live on a
// goroutine's stack.
func TestCreateAtEveryStackDepth(t *testing.T) {
	l, e := load(t)
	src, err := l.NewDesc([]int{2, 16, 7, 7}, DataF32, Any)
	if err != nil {
		t.Fatal(err)
	}
	w, err := l.NewDesc([]int{16, 16, 5, 5}, DataF32, Any)
	if err != nil {
		t.Fatal(err)
	}
	for depth := 0; depth < 400; depth += 3 {
		errs := make(chan error)
		go func() {
			errs <- atDepth(depth, func() error { _, err := e.ConvForward(ForwardTraining, src, w, nil, src, 2); return err })
		}()
		if err := <-errs; err != nil {
			t.Fatalf("at depth %d: %v", depth, err)
		}
	}
}

// atDepth calls fn under depth frames of about 100 bytes each.
//
//go:noinline
func atDepth(depth int, fn func() error) error {
	var pad [12]int64
	pad[depth%12] = int64(depth)
	if depth == 0 {
		return fn()
	}
	err := atDepth(depth-1, fn)
	if pad[depth%12] != int64(depth) { // keeps pad in the frame
		panic("stack corrupted")
	}
	return err
}
