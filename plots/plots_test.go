package plots

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// plotStreaks returns n 2-D features that look like softmax-only LeNet++
// features: ten long radial streaks from the origin, one per class, and the
// class means as centers.
func plotStreaks(n int, seed uint64) (feat []float64, labels []int, centers []float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	feat, labels = make([]float64, 2*n), make([]int, n)
	sum := make([]float64, 2*plotClasses)
	cnt := make([]float64, plotClasses)
	for i := range labels {
		l := rng.IntN(plotClasses)
		theta := 2*math.Pi*float64(l)/plotClasses + 0.3 + 0.07*rng.NormFloat64()
		r := 8 + 40*math.Abs(rng.NormFloat64()) + 15*rng.Float64()
		feat[2*i], feat[2*i+1] = r*math.Cos(theta), r*math.Sin(theta)
		labels[i] = l
		sum[2*l] += feat[2*i]
		sum[2*l+1] += feat[2*i+1]
		cnt[l]++
	}
	centers = make([]float64, 2*plotClasses)
	for j := range cnt {
		centers[2*j], centers[2*j+1] = sum[2*j]/cnt[j], sum[2*j+1]/cnt[j]
	}
	return feat, labels, centers
}

// plotClusters returns n 2-D features that look like center-loss features:
// ten tight clusters on a ring around their centers.
func plotClusters(n int, seed uint64) (feat []float64, labels []int, centers []float64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	centers = make([]float64, 2*plotClasses)
	for j := 0; j < plotClasses; j++ {
		theta := 2*math.Pi*float64(j)/plotClasses + 0.3
		centers[2*j], centers[2*j+1] = 20*math.Cos(theta), 20*math.Sin(theta)
	}
	feat, labels = make([]float64, 2*n), make([]int, n)
	for i := range labels {
		l := rng.IntN(plotClasses)
		s := 1.6
		if rng.Float64() < 0.02 { // a few stragglers
			s = 6
		}
		feat[2*i] = centers[2*l] + s*rng.NormFloat64()
		feat[2*i+1] = centers[2*l+1] + s*rng.NormFloat64()
		labels[i] = l
	}
	return feat, labels, centers
}

// plotEmbed maps 2-D points into dim dimensions: o + x*u + y*v with u, v
// orthonormal (random) and o a random offset. noise adds N(0, noise²) in every
// coordinate.
func plotEmbed(xy []float64, dim int, noise float64, rng *rand.Rand) []float64 {
	u, v := make([]float64, dim), make([]float64, dim)
	for d := range u {
		u[d], v[d] = rng.NormFloat64(), rng.NormFloat64()
	}
	plotNormalize(u)
	var dot float64
	for d := range u {
		dot += u[d] * v[d]
	}
	for d := range v {
		v[d] -= dot * u[d]
	}
	plotNormalize(v)
	o := make([]float64, dim)
	for d := range o {
		o[d] = 3 * rng.NormFloat64()
	}
	n := len(xy) / 2
	out := make([]float64, n*dim)
	for i := 0; i < n; i++ {
		for d := 0; d < dim; d++ {
			out[i*dim+d] = o[d] + xy[2*i]*u[d] + xy[2*i+1]*v[d] + noise*rng.NormFloat64()
		}
	}
	return out
}

func plotNormalize(x []float64) {
	var s float64
	for _, v := range x {
		s += v * v
	}
	s = math.Sqrt(s)
	for i := range x {
		x[i] /= s
	}
}

func plotDist(a []float64, i, j, dim int) float64 {
	var s float64
	for d := 0; d < dim; d++ {
		t := a[i*dim+d] - a[j*dim+d]
		s += t * t
	}
	return math.Sqrt(s)
}

func plotDecode(t *testing.T, b []byte) image.Image {
	t.Helper()
	im, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode png: %v", err)
	}
	return im
}

func TestFeaturePlotSize(t *testing.T) {
	feat, labels, centers := plotClusters(500, 1)
	for _, c := range []struct{ w, h, wantW, wantH int }{
		{0, 0, 800, 800},
		{640, 480, 640, 480},
		{300, 500, 300, 500},
		{1200, 0, 1200, 800},
	} {
		b, bounds, err := Features(feat, labels, centers, 2, Options{Title: "size", Width: c.w, Height: c.h})
		if err != nil {
			t.Fatalf("%dx%d: %v", c.w, c.h, err)
		}
		im := plotDecode(t, b)
		if got := im.Bounds().Size(); got.X != c.wantW || got.Y != c.wantH {
			t.Errorf("%dx%d: image is %v, want %dx%d", c.w, c.h, got, c.wantW, c.wantH)
		}
		for i := range labels {
			x, y := feat[2*i], feat[2*i+1]
			if x < bounds.XMin || x > bounds.XMax || y < bounds.YMin || y > bounds.YMax {
				t.Fatalf("%dx%d: point (%g, %g) outside fitted bounds %+v", c.w, c.h, x, y, bounds)
			}
		}
	}
}

// TestFeaturePlotEqualScale checks that one data unit is as long on both axes,
// from the layout and from the pixels: a circle must come out round.
func TestFeaturePlotEqualScale(t *testing.T) {
	const n = 720
	feat, labels := make([]float64, 2*n), make([]int, n)
	for i := range labels {
		a := 2 * math.Pi * float64(i) / n
		feat[2*i], feat[2*i+1] = 5+10*math.Cos(a), -3+10*math.Sin(a)
		labels[i] = 3
	}
	for _, sz := range [][2]int{{900, 500}, {500, 900}, {800, 800}} {
		for _, fixed := range []*Bounds{nil, {XMin: -20, XMax: 30, YMin: -15, YMax: 15}} {
			r, err := plotRender(feat, labels, nil, 2, Options{Title: "circle", Width: sz[0], Height: sz[1], Bounds: fixed})
			if err != nil {
				t.Fatal(err)
			}
			b := r.bounds
			da := r.p.DataCanvas(r.plotC)
			sx := (b.XMax - b.XMin) / float64(da.Size().X)
			sy := (b.YMax - b.YMin) / float64(da.Size().Y)
			if math.Abs(sx-sy) > 1e-6*sx {
				t.Errorf("%v fixed=%v: units per point x %g, y %g", sz, fixed != nil, sx, sy)
			}
			if fixed != nil && (b.XMin > fixed.XMin || b.XMax < fixed.XMax || b.YMin > fixed.YMin || b.YMax < fixed.YMax) {
				t.Errorf("%v: bounds %+v do not contain the requested %+v", sz, b, *fixed)
			}

			// Measure the drawn ring: the reddish pixels inside the data area.
			img := r.cv.Image()
			scale := r.cv.DPI() / 72
			h := img.Bounds().Dy()
			x0, x1 := int(float64(da.Min.X)*scale), int(float64(da.Max.X)*scale)
			y0, y1 := h-int(float64(da.Max.Y)*scale), h-int(float64(da.Min.Y)*scale)
			minX, maxX, minY, maxY := math.MaxInt, -1, math.MaxInt, -1
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					cr, cg, cb, _ := img.At(x, y).RGBA()
					if cr>>8 > cg>>8+60 && cr>>8 > cb>>8+60 {
						minX, maxX = min(minX, x), max(maxX, x)
						minY, maxY = min(minY, y), max(maxY, y)
					}
				}
			}
			if maxX < 0 {
				t.Fatalf("%v: ring not drawn", sz)
			}
			wpx, hpx := maxX-minX, maxY-minY
			if abs := wpx - hpx; abs < -2 || abs > 2 {
				t.Errorf("%v fixed=%v: ring is %d x %d pixels, want a circle", sz, fixed != nil, wpx, hpx)
			}
		}
	}
}

func TestFeaturePlotFixedBounds(t *testing.T) {
	f1, l1, c1 := plotStreaks(400, 3)
	f2, l2, c2 := plotClusters(400, 4)
	_, b1, err := Features(f1, l1, c1, 2, Options{Width: 400, Height: 300})
	if err != nil {
		t.Fatal(err)
	}
	// Re-using the returned bounds gives the same axes, for other data too.
	for _, d := range []struct {
		f []float64
		l []int
		c []float64
	}{{f1, l1, c1}, {f2, l2, c2}} {
		_, b2, err := Features(d.f, d.l, d.c, 2, Options{Width: 400, Height: 300, Bounds: &b1})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range [][2]float64{{b1.XMin, b2.XMin}, {b1.XMax, b2.XMax}, {b1.YMin, b2.YMin}, {b1.YMax, b2.YMax}} {
			if math.Abs(p[0]-p[1]) > 1e-9*(b1.XMax-b1.XMin) {
				t.Fatalf("bounds changed: %+v -> %+v", b1, b2)
			}
		}
	}
	// Bounds that leave most points outside are fine: those are not drawn.
	small := Bounds{-1, 1, -1, 1}
	if _, _, err := Features(f1, l1, c1, 2, Options{Width: 200, Height: 200, Bounds: &small}); err != nil {
		t.Fatal(err)
	}
	u := b1.Union(Bounds{-1000, 0, 0, 2000})
	if u.XMin != -1000 || u.XMax != b1.XMax || u.YMin != b1.YMin || u.YMax != 2000 {
		t.Errorf("Union = %+v", u)
	}
}

func TestFeaturePlotDeterministic(t *testing.T) {
	feat, labels, centers := plotStreaks(300, 5)
	rng := rand.New(rand.NewPCG(9, 9))
	feat8 := plotEmbed(feat, 8, 0.5, rng)
	cent8 := plotEmbed(centers, 8, 0, rng)
	for _, dim := range []int{2, 8} {
		f, c := feat, centers
		if dim == 8 {
			f, c = feat8, cent8
		}
		a, _, err := Features(f, labels, c, dim, Options{Title: "same", Width: 300, Height: 300})
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := Features(f, labels, c, dim, Options{Title: "same", Width: 300, Height: 300})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("dim %d: two plots of the same data differ", dim)
		}
	}
}

func TestFeaturePlotDim1(t *testing.T) {
	n := 300
	feat, labels := make([]float64, n), make([]int, n)
	for i := range labels {
		labels[i] = i % plotClasses
		feat[i] = float64(labels[i])*3 + math.Sin(float64(i))
	}
	centers := make([]float64, plotClasses)
	for j := range centers {
		centers[j] = float64(j) * 3
	}
	b, bounds, err := Features(feat, labels, centers, 1, Options{Title: "1-D", Width: 320, Height: 240})
	if err != nil {
		t.Fatal(err)
	}
	if got := plotDecode(t, b).Bounds().Size(); got != image.Pt(320, 240) {
		t.Errorf("size %v", got)
	}
	if bounds.YMin != -0.6 || bounds.YMax != 9.6 || bounds.XMin >= -1 || bounds.XMax <= 28 {
		t.Errorf("bounds %+v", bounds)
	}
	fx, cx, err := Project2D(feat, centers, n, plotClasses, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if fx[2*i] != feat[i] || fx[2*i+1] != 0 {
			t.Fatalf("dim 1 point %d -> (%g, %g)", i, fx[2*i], fx[2*i+1])
		}
	}
	if cx[2*4] != 12 || cx[2*4+1] != 0 {
		t.Errorf("dim 1 center 4 -> (%g, %g)", cx[8], cx[9])
	}
	for i := 0; i < 1000; i++ {
		if j := plotJitterAt(i); math.Abs(j) > plotJitter {
			t.Fatalf("jitter %g out of range", j)
		}
	}
}

func TestFeaturePlotDegenerate(t *testing.T) {
	// One point, identical points in 5-D (zero covariance) and fewer than ten
	// centers all still give a picture.
	same := make([]float64, 4*5)
	for i := range same {
		same[i] = float64(i % 5)
	}
	cases := []struct {
		feat    []float64
		labels  []int
		centers []float64
		dim     int
	}{
		{[]float64{3, 4}, []int{7}, nil, 2},
		{same, []int{0, 1, 2, 3}, same[:5], 5},
		{[]float64{1, 2, 3, 4}, []int{0, 1}, []float64{1, 2, 3, 4, 5, 6}, 2},
	}
	for i, c := range cases {
		b, bounds, err := Features(c.feat, c.labels, c.centers, c.dim, Options{Width: 200, Height: 160})
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !bounds.valid() {
			t.Errorf("case %d: bounds %+v", i, bounds)
		}
		if got := plotDecode(t, b).Bounds().Size(); got != image.Pt(200, 160) {
			t.Errorf("case %d: size %v", i, got)
		}
	}
}

func TestProject2DIdentity(t *testing.T) {
	feat, _, centers := plotStreaks(50, 6)
	fx, cx, err := Project2D(feat, centers, 50, plotClasses, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range feat {
		if fx[i] != feat[i] {
			t.Fatalf("feature value %d: %g, want %g", i, fx[i], feat[i])
		}
	}
	for i := range centers {
		if cx[i] != centers[i] {
			t.Fatalf("center value %d: %g, want %g", i, cx[i], centers[i])
		}
	}
	fx[0] = 12345
	if feat[0] == 12345 {
		t.Error("Project2D returned the input slice, want a copy")
	}
}

// TestProject2DPCADistances embeds 2-D data in a plane of R^5 (away from the
// origin) and checks that the PCA projection preserves every pairwise distance,
// among features and between features and centers.
func TestProject2DPCADistances(t *testing.T) {
	const n, k, dim = 200, plotClasses, 5
	feat2, _, cent2 := plotStreaks(n, 7)
	rng := rand.New(rand.NewPCG(11, 12))
	all := plotEmbed(append(append([]float64(nil), feat2...), cent2...), dim, 0, rng)
	feat, cent := all[:n*dim], all[n*dim:]
	fx, cx, err := Project2D(feat, cent, n, k, dim)
	if err != nil {
		t.Fatal(err)
	}
	if len(fx) != 2*n || len(cx) != 2*k {
		t.Fatalf("got %d and %d coordinates", len(fx), len(cx))
	}
	allX := append(append([]float64(nil), fx...), cx...)
	worst := 0.0
	for i := 0; i < n+k; i++ {
		for j := i + 1; j < n+k; j++ {
			d5, d2 := plotDist(all, i, j, dim), plotDist(allX, i, j, 2)
			worst = math.Max(worst, math.Abs(d5-d2))
		}
	}
	if worst > 1e-8 {
		t.Errorf("largest pairwise distance error %g", worst)
	}

	// The first component carries at least as much variance as the second.
	var m1, m2, v1, v2 float64
	for i := 0; i < n; i++ {
		m1 += fx[2*i] / n
		m2 += fx[2*i+1] / n
	}
	for i := 0; i < n; i++ {
		v1 += (fx[2*i] - m1) * (fx[2*i] - m1)
		v2 += (fx[2*i+1] - m2) * (fx[2*i+1] - m2)
	}
	if v1 < v2 {
		t.Errorf("PC 1 variance %g < PC 2 variance %g", v1, v2)
	}
}

// TestPCAProjectionNoisyPlane adds small off-plane noise in 16-D: distances
// are still recovered to within the noise.
func TestPCAProjectionNoisyPlane(t *testing.T) {
	const n, dim, noise = 500, 16, 0.05
	feat2, labels, _ := plotClusters(n, 8)
	rng := rand.New(rand.NewPCG(13, 14))
	feat := plotEmbed(feat2, dim, noise, rng)
	fx, _, err := Project2D(feat, nil, n, 0, dim)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	var cnt int
	for i := 0; i < n; i += 3 {
		for j := i + 1; j < n; j += 7 {
			sum += math.Abs(plotDist(feat2, i, j, 2) - plotDist(fx, i, j, 2))
			cnt++
		}
	}
	if mean := sum / float64(cnt); mean > 4*noise {
		t.Errorf("mean distance error %g with noise %g", mean, noise)
	}
	if _, _, err := Features(feat, labels, nil, dim, Options{Title: "PCA", Width: 300, Height: 300}); err != nil {
		t.Fatal(err)
	}
}

func TestPCASignStable(t *testing.T) {
	feat2, _, _ := plotStreaks(100, 15)
	feat := plotEmbed(feat2, 6, 0.1, rand.New(rand.NewPCG(1, 2)))
	pcs, err := plotPrincipalAxes(feat, 100, 6)
	if err != nil {
		t.Fatal(err)
	}
	for c, v := range pcs {
		big := 0
		var norm float64
		for d := range v {
			norm += v[d] * v[d]
			if math.Abs(v[d]) > math.Abs(v[big]) {
				big = d
			}
		}
		if v[big] < 0 || math.Abs(norm-1) > 1e-9 {
			t.Errorf("component %d = %v", c, v)
		}
	}
}

func TestFeaturePlotErrors(t *testing.T) {
	f, l, c := plotClusters(20, 1)
	bad := func(vals ...float64) []float64 { return append(append([]float64(nil), f...), vals...) }
	labelsWith := func(v int) []int {
		x := append([]int(nil), l...)
		x[5] = v
		return x
	}
	nan := append([]float64(nil), f...)
	nan[7] = math.NaN()
	inf := append([]float64(nil), c...)
	inf[3] = math.Inf(1)
	cases := []struct {
		name    string
		feat    []float64
		labels  []int
		centers []float64
		dim     int
		bounds  *Bounds
		want    string
	}{
		{"dim 0", f, l, c, 0, nil, "dim"},
		{"dim -1", f, l, c, -1, nil, "dim"},
		{"empty", nil, nil, nil, 2, nil, "no features"},
		{"short features", f[:len(f)-1], l, c, 2, nil, "feature values"},
		{"long features", bad(1, 2), l, c, 2, nil, "feature values"},
		{"label -1", f, labelsWith(-1), c, 2, nil, "label"},
		{"label 10", f, labelsWith(10), c, 2, nil, "label"},
		{"centers ragged", f, l, c[:len(c)-1], 2, nil, "center values"},
		{"11 centers", f, l, append(append([]float64(nil), c...), 0, 0), 2, nil, "centers"},
		{"NaN feature", nan, l, c, 2, nil, "NaN"},
		{"Inf center", f, l, inf, 2, nil, "Inf"},
		{"empty bounds", f, l, c, 2, &Bounds{1, 1, 0, 1}, "bounds"},
		{"NaN bounds", f, l, c, 2, &Bounds{0, 1, math.NaN(), 1}, "bounds"},
	}
	for _, tc := range cases {
		_, _, err := Features(tc.feat, tc.labels, tc.centers, tc.dim, Options{Width: 100, Height: 100, Bounds: tc.bounds})
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not mention %q", tc.name, err, tc.want)
		}
	}

	pcases := []struct {
		name          string
		feat, centers []float64
		n, k, dim     int
	}{
		{"dim 0", f, c, 20, 10, 0},
		{"n 0", nil, c, 0, 10, 2},
		{"k -1", f, nil, 20, -1, 2},
		{"feature length", f, c, 21, 10, 2},
		{"center length", f, c, 20, 9, 2},
		{"NaN", nan, c, 20, 10, 2},
		{"NaN in PCA", plotEmbed(nan[:10*2], 4, 0, rand.New(rand.NewPCG(1, 1))), nil, 10, 0, 4},
	}
	for _, tc := range pcases {
		if _, _, err := Project2D(tc.feat, tc.centers, tc.n, tc.k, tc.dim); err == nil {
			t.Errorf("Project2D %s: no error", tc.name)
		}
	}
}

func TestAnimationGIF(t *testing.T) {
	var a Animation
	if a.Len() != 0 {
		t.Fatal("new animation not empty")
	}
	if err := a.WriteGIF(&bytes.Buffer{}, time.Second); err == nil {
		t.Error("WriteGIF with no frames: no error")
	}
	var bounds *Bounds
	const frames = 4
	for e := 0; e < frames; e++ {
		f, l, c := plotClusters(300, uint64(e))
		b, got, err := Features(f, l, c, 2, Options{Title: fmt.Sprintf("epoch %d", e+1), Bounds: bounds, Width: 240, Height: 200})
		if err != nil {
			t.Fatal(err)
		}
		if bounds == nil {
			bounds = &got
		}
		if err := a.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	if a.Len() != frames {
		t.Fatalf("Len = %d, want %d", a.Len(), frames)
	}
	// Frames of another size and non-PNG data are refused.
	f, l, c := plotClusters(50, 1)
	other, _, err := Features(f, l, c, 2, Options{Width: 100, Height: 100})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Add(other); err == nil {
		t.Error("Add of a different size: no error")
	}
	if err := a.Add([]byte("not a png")); err == nil {
		t.Error("Add of garbage: no error")
	}
	if a.Len() != frames {
		t.Fatalf("Len = %d after refused frames", a.Len())
	}

	var buf bytes.Buffer
	if err := a.WriteGIF(&buf, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	g, err := gif.DecodeAll(&buf)
	if err != nil {
		t.Fatalf("decode gif: %v", err)
	}
	if len(g.Image) != frames {
		t.Fatalf("gif has %d frames, want %d", len(g.Image), frames)
	}
	if g.Config.Width != 240 || g.Config.Height != 200 {
		t.Errorf("gif is %dx%d", g.Config.Width, g.Config.Height)
	}
	for i, d := range g.Delay {
		want := 30
		if i == frames-1 {
			want = 200
		}
		if d != want {
			t.Errorf("frame %d delay %d, want %d", i, d, want)
		}
	}
	if g.LoopCount != 0 {
		t.Errorf("LoopCount %d, want 0 (forever)", g.LoopCount)
	}
}

// TestAnimationPaletteKeepsClassColours checks that every class colour, and
// white and black, survive the reduction to the GIF palette exactly, and that
// a frame's class-coloured pixels keep their colour.
func TestAnimationPaletteKeepsClassColours(t *testing.T) {
	if len(plotGIFPalette) > 256 {
		t.Fatalf("palette has %d colours", len(plotGIFPalette))
	}
	for _, c := range append([]color.Color{color.White, color.Black}, plotPaletteColors()...) {
		got := plotGIFPalette.Convert(c)
		r1, g1, b1, _ := c.RGBA()
		r2, g2, b2, _ := got.RGBA()
		if r1 != r2 || g1 != g2 || b1 != b2 {
			t.Errorf("colour %v becomes %v", c, got)
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, plotClasses, 1))
	for j, c := range Palette {
		img.Set(j, 0, c)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	var a Animation
	if err := a.Add(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := a.WriteGIF(&out, 0); err != nil {
		t.Fatal(err)
	}
	g, err := gif.DecodeAll(&out)
	if err != nil {
		t.Fatal(err)
	}
	for j, c := range Palette {
		r1, g1, b1, _ := c.RGBA()
		r2, g2, b2, _ := g.Image[0].At(j, 0).RGBA()
		if r1 != r2 || g1 != g2 || b1 != b2 {
			t.Errorf("class %d colour changed", j)
		}
	}
	if g.Delay[0] != 200 {
		t.Errorf("single frame delay %d, want 200", g.Delay[0])
	}
}

func plotPaletteColors() []color.Color {
	var cs []color.Color
	for _, c := range Palette {
		cs = append(cs, c)
	}
	return cs
}

func TestGridPlot(t *testing.T) {
	solid := func(w, h int, c color.Color) []byte {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				img.Set(x, y, c)
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	red, blue := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}
	pngs := [][]byte{solid(100, 80, red), solid(120, 60, blue), solid(100, 80, red), solid(50, 50, blue), solid(100, 80, red)}
	out, err := Grid(pngs, 2)
	if err != nil {
		t.Fatal(err)
	}
	im := plotDecode(t, out)
	if got := im.Bounds().Size(); got != image.Pt(240, 240) {
		t.Fatalf("grid of 5 in 2 columns is %v, want 240x240", got)
	}
	// Image 1 (120x60, blue) fills the width of cell (0, 1) and is centred vertically.
	if r, g, b, _ := im.At(120+60, 40).RGBA(); r != 0 || g != 0 || b != 0xffff {
		t.Errorf("centre of cell (0,1) is %v,%v,%v", r, g, b)
	}
	if r, g, b, _ := im.At(125, 5).RGBA(); r != 0xffff || g != 0xffff || b != 0xffff {
		t.Errorf("above the centred image: %v,%v,%v, want white", r, g, b)
	}
	// Image 4 sits in cell (2, 0); cell (2, 1) stays white.
	if r, _, _, _ := im.At(60, 160+40).RGBA(); r != 0xffff {
		t.Error("cell (2,0) is not red")
	}
	if r, g, b, _ := im.At(180, 200).RGBA(); r != 0xffff || g != 0xffff || b != 0xffff {
		t.Error("empty cell (2,1) is not white")
	}

	// Fewer images than columns: one row of as many cells as images.
	out, err = Grid(pngs[:3], 6)
	if err != nil {
		t.Fatal(err)
	}
	if got := plotDecode(t, out).Bounds().Size(); got != image.Pt(360, 80) {
		t.Errorf("3 images in 6 columns: %v, want 360x80", got)
	}

	// A figure like the paper's: softmax beside center loss.
	f1, l1, c1 := plotStreaks(300, 1)
	f2, l2, c2 := plotClusters(300, 2)
	a, _, err := Features(f1, l1, c1, 2, Options{Title: "softmax", Width: 300, Height: 300})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Features(f2, l2, c2, 2, Options{Title: "λ=0.1", Width: 300, Height: 300})
	if err != nil {
		t.Fatal(err)
	}
	out, err = Grid([][]byte{a, b}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := plotDecode(t, out).Bounds().Size(); got != image.Pt(600, 300) {
		t.Errorf("paper grid %v, want 600x300", got)
	}

	for _, bad := range []struct {
		pngs [][]byte
		cols int
	}{{nil, 2}, {pngs, 0}, {[][]byte{pngs[0], []byte("junk")}, 2}} {
		if _, err := Grid(bad.pngs, bad.cols); err == nil {
			t.Errorf("Grid(%d images, %d cols): no error", len(bad.pngs), bad.cols)
		}
	}
}

// TestFeaturePlotTenThousand draws full-test-set-sized plots (softmax streaks,
// center-loss clusters, 1-D and PCA). With CENTERLOSS_PLOT_DIR set it writes
// them there for inspection.
func TestFeaturePlotTenThousand(t *testing.T) {
	const n = 10000
	dir := os.Getenv("CENTERLOSS_PLOT_DIR")
	write := func(name string, b []byte) {
		if dir == "" {
			return
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs, ls, cs := plotStreaks(n, 21)
	fc, lc, cc := plotClusters(n, 22)
	start := time.Now()
	streaks, _, err := Features(fs, ls, cs, 2, Options{Title: "epoch 8 · softmax only (λ=0) · test acc 98.62%"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("10,000-point plot in %v", time.Since(start))
	clusters, _, err := Features(fc, lc, cc, 2, Options{Title: "epoch 8 · λ=0.1 · α=0.5 · test acc 98.91%"})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	all := plotEmbed(append(append([]float64(nil), fc...), cc...), 8, 0.8, rng)
	pca, _, err := Features(all[:n*8], lc, all[n*8:], 8, Options{Title: "epoch 8 · dim 8 · λ=0.1 · α=0.5", Width: 900, Height: 600})
	if err != nil {
		t.Fatal(err)
	}
	f1 := make([]float64, n)
	c1 := make([]float64, plotClasses)
	for i := range f1 {
		f1[i] = fc[2*i]
	}
	for j := range c1 {
		c1[j] = cc[2*j]
	}
	one, _, err := Features(f1, lc, c1, 1, Options{Title: "dim 1 · λ=0.1", Width: 800, Height: 500})
	if err != nil {
		t.Fatal(err)
	}
	grid, err := Grid([][]byte{streaks, clusters}, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{streaks, clusters} {
		if got := plotDecode(t, b).Bounds().Size(); got != image.Pt(800, 800) {
			t.Errorf("size %v", got)
		}
	}
	write("plot_streaks.png", streaks)
	write("plot_clusters.png", clusters)
	write("plot_pca.png", pca)
	write("plot_dim1.png", one)
	write("plot_grid.png", grid)

	if dir != "" {
		// An animation from streaks to clusters, on fixed bounds.
		_, b0, err := Features(fs, ls, cs, 2, Options{Width: 400, Height: 400})
		if err != nil {
			t.Fatal(err)
		}
		var a Animation
		for e := 0; e <= 5; e++ {
			w := float64(e) / 5
			// Streak point i moves toward a spot near its class's cluster center.
			jr := rand.New(rand.NewPCG(5, 6))
			f := make([]float64, 2*n)
			for i, l := range ls {
				f[2*i] = (1-w)*fs[2*i] + w*(cc[2*l]+1.6*jr.NormFloat64())
				f[2*i+1] = (1-w)*fs[2*i+1] + w*(cc[2*l+1]+1.6*jr.NormFloat64())
			}
			fr, _, err := Features(f, ls, nil, 2, Options{Title: fmt.Sprintf("frame %d", e), Width: 400, Height: 400, Bounds: &b0})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Add(fr); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if err := a.WriteGIF(&buf, 400*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		write("plot_anim.gif", buf.Bytes())
	}
}

// TestFeaturePlotClassNames: naming the classes by their digits draws the
// default plot, other names another one (its legend wider, its axes
// narrower) of the same size.
func TestFeaturePlotClassNames(t *testing.T) {
	feat, labels, centers := plotClusters(300, 1)
	digits := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	clothes := []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}
	var pngs [3][]byte
	var bounds [3]Bounds
	for i, names := range [][]string{nil, digits, clothes} {
		var err error
		if pngs[i], bounds[i], err = Features(feat, labels, centers, 2, Options{Title: "names", Classes: names}); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(pngs[0], pngs[1]) {
		t.Error("the digits as class names draw another plot than the default")
	}
	if bytes.Equal(pngs[0], pngs[2]) {
		t.Error("the class names changed nothing")
	}
	if bounds[1] != bounds[0] || plotDecode(t, pngs[2]).Bounds() != plotDecode(t, pngs[0]).Bounds() {
		t.Errorf("bounds %+v and %+v; sizes %v and %v", bounds[0], bounds[1], plotDecode(t, pngs[2]).Bounds(), plotDecode(t, pngs[0]).Bounds())
	}
}
