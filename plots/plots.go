// Package plots draws deep features the way the center-loss paper's
// figures do: one colour per class, the class centers marked, both axes on
// one scale (a PCA projection for more than two dimensions). It also lays
// plots out in a grid and turns per-epoch plots into an animated GIF. The
// drawing is gonum's plot package; the GIF, the grid and the projection
// are the standard library's image packages and gonum's linear algebra.
package plots

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	stddraw "image/draw"
	"image/gif"
	"image/png"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Options describes one feature plot.
type Options struct {
	// Title is drawn above the plot, e.g. "epoch 3 · λ=0.1 · α=0.5 · test acc 98.91%".
	// Features appends " (PCA)" when the features have more than two dimensions.
	Title string
	// Bounds fixes the region shown (for animation frames); nil fits it to the data
	// with a small margin. See Features for how the bounds are widened to keep
	// both axes on the same scale.
	Bounds *Bounds
	// Width and Height are the size of the PNG in pixels; 0 (or less) means 800.
	Width, Height int
	// Classes names the classes by label in the legend, beside the centers
	// and on the class axis of 1-D plots; nil names them by their digits.
	Classes []string
}

// className is the name of class j: o.Classes[j], or the digit j.
func (o Options) className(j int) string {
	if j < len(o.Classes) {
		return o.Classes[j]
	}
	return strconv.Itoa(j)
}

// Bounds is the data region shown by a feature plot.
type Bounds struct{ XMin, XMax, YMin, YMax float64 }

// Union returns the smallest bounds that contain both b and o. It is meant for
// animations: plot every frame once with nil Bounds, take the union of the
// returned bounds and plot the frames again with that union.
func (b Bounds) Union(o Bounds) Bounds {
	return Bounds{
		XMin: math.Min(b.XMin, o.XMin), XMax: math.Max(b.XMax, o.XMax),
		YMin: math.Min(b.YMin, o.YMin), YMax: math.Max(b.YMax, o.YMax),
	}
}

func (b Bounds) valid() bool {
	for _, v := range []float64{b.XMin, b.XMax, b.YMin, b.YMax} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return b.XMin < b.XMax && b.YMin < b.YMax
}

// plotClasses is the number of classes (digits) a feature plot knows colours for.
const plotClasses = 10

// Palette is the Tableau-10 categorical palette (matplotlib's tab10), one
// colour per digit.
var Palette = [plotClasses]color.NRGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0xff, 0x7f, 0x0e, 0xff}, // orange
	{0x2c, 0xa0, 0x2c, 0xff}, // green
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x94, 0x67, 0xbd, 0xff}, // purple
	{0x8c, 0x56, 0x4b, 0xff}, // brown
	{0xe3, 0x77, 0xc2, 0xff}, // pink
	{0x7f, 0x7f, 0x7f, 0xff}, // grey
	{0xbc, 0xbd, 0x22, 0xff}, // olive
	{0x17, 0xbe, 0xcf, 0xff}, // cyan
}

// Layout of a feature plot, in points. The shorter side of every plot is
// plotLayoutSide points long whatever its size in pixels (the resolution is
// chosen to match), so text, glyphs and margins keep their proportions.
const (
	plotLayoutSide = 480
	plotDefaultPx  = 800
	plotPointR     = 1.1  // radius of one feature point
	plotPointAlpha = 0xb4 // opacity of one feature point
	plotCenterR    = 5.0  // radius of a class-center marker
	plotMargin     = 0.05 // fraction of the data range added on every side
	plotJitter     = 0.35 // half-height of the vertical jitter for 1-D features
)

var (
	plotSans     = font.Font{Typeface: "Liberation", Variant: "Sans"}
	plotSansBold = font.Font{Typeface: "Liberation", Variant: "Sans", Weight: 700}
)

// Features draws deep features (n x dim, row-major, n = len(labels)) coloured
// by label (0-9) and the class centers (k x dim, k = len(centers)/dim <= 10, may
// be empty), and returns the plot as PNG bytes together with the bounds it used.
//
// Features are small semi-transparent dots drawn in input order (so no class
// hides another wholesale); center j is a larger dot in class j's colour with a
// black outline and the class's name (o.Classes, else the digit j) written
// next to it. A legend with the ten classes and the center marker sits to the
// right of the axes.
//
// The coordinates are those of Project2D: the features themselves for dim 2 and
// their projections onto the first two principal components for dim > 2 (the
// title then ends in " (PCA)" and the axes are "PC 1"/"PC 2"). For dim 1 the
// feature is on the horizontal axis and the label, plus a small deterministic
// jitter within ±0.35, on the vertical one, so each class is a horizontal band.
//
// For dim >= 2 both axes have the same scale (one unit is as long horizontally
// as vertically), so distances and angles in the picture are those of the
// feature space. The region shown is o.Bounds, or the data range plus a 5%
// margin when o.Bounds is nil, with the shorter side widened symmetrically to
// equalise the scales; the returned bounds are the widened ones. The widening
// depends only on the bounds and the image size, so frames drawn with the same
// Bounds and size share identical axes, and passing the returned bounds back in
// reproduces them. Points outside fixed bounds are not drawn. For dim 1 the
// bounds are used as given and, when fitted, the vertical range is the classes
// ±0.6.
func Features(features []float64, labels []int, centers []float64, dim int, o Options) ([]byte, Bounds, error) {
	r, err := plotRender(features, labels, centers, dim, o)
	if err != nil {
		return nil, Bounds{}, err
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: r.cv}).WriteTo(&buf); err != nil {
		return nil, Bounds{}, fmt.Errorf("plots: feature plot: %w", err)
	}
	return buf.Bytes(), r.bounds, nil
}

// plotRendered is a drawn feature plot before encoding.
type plotRendered struct {
	cv     *vgimg.Canvas
	p      *plot.Plot
	plotC  draw.Canvas // the canvas the plot (title, axes, data) was drawn in
	bounds Bounds
}

func plotRender(features []float64, labels []int, centers []float64, dim int, o Options) (*plotRendered, error) {
	n := len(labels)
	if dim < 1 {
		return nil, fmt.Errorf("plots: feature plot: dim %d < 1", dim)
	}
	if n == 0 {
		return nil, errors.New("plots: feature plot: no features")
	}
	if len(features) != n*dim {
		return nil, fmt.Errorf("plots: feature plot: %d feature values for %d labels of dim %d (want %d)", len(features), n, dim, n*dim)
	}
	if len(centers)%dim != 0 {
		return nil, fmt.Errorf("plots: feature plot: %d center values is not a multiple of dim %d", len(centers), dim)
	}
	k := len(centers) / dim
	if k > plotClasses {
		return nil, fmt.Errorf("plots: feature plot: %d centers, at most %d", k, plotClasses)
	}
	for i, l := range labels {
		if l < 0 || l >= plotClasses {
			return nil, fmt.Errorf("plots: feature plot: label %d of sample %d outside [0,%d]", l, i, plotClasses-1)
		}
	}
	if o.Bounds != nil && !o.Bounds.valid() {
		return nil, fmt.Errorf("plots: feature plot: invalid bounds %+v", *o.Bounds)
	}
	w, h := o.Width, o.Height
	if w <= 0 {
		w = plotDefaultPx
	}
	if h <= 0 {
		h = plotDefaultPx
	}

	fx, cx, err := Project2D(features, centers, n, k, dim)
	if err != nil {
		return nil, err
	}
	if dim == 1 {
		for i, l := range labels {
			fx[2*i+1] = float64(l) + plotJitterAt(i)
		}
		for j := 0; j < k; j++ {
			cx[2*j+1] = float64(j)
		}
	}

	title := o.Title
	if dim > 2 {
		title += " (PCA)"
	}

	// The resolution makes the shorter side plotLayoutSide points long.
	dpi := max(int(math.Round(float64(min(w, h))*72/plotLayoutSide)), 1)
	cv := vgimg.NewWith(vgimg.UseImage(image.NewRGBA(image.Rect(0, 0, w, h))), vgimg.UseDPI(dpi))
	dc := draw.New(cv)

	p, legend := plotNew(title, dim, k, o)
	legendW := legend.Rectangle(dc).Size().X + 18
	plotC := draw.Crop(dc, 4, -legendW, 4, -6)
	plotFitTitle(p, plotC)

	var b Bounds
	switch {
	case o.Bounds != nil:
		b = *o.Bounds
	case dim == 1:
		b = DataBounds(fx, cx)
		b.YMin, b.YMax = -0.6, float64(plotClasses-1)+0.6
	default:
		b = DataBounds(fx, cx)
	}
	if dim == 1 {
		plotSetBounds(p, b, 1)
	} else {
		b = plotEqualScale(p, plotC, b)
	}

	p.Add(&plotPoints{xy: fx, labels: labels}, &plotCenters{xy: cx, o: o})
	p.Draw(plotC)

	// The legend goes beside the axes, top-aligned with the data area.
	da := p.DataCanvas(plotC)
	lc := dc
	lc.Min.X = plotC.Max.X + 10
	lc.Max.Y = da.Max.Y
	legend.Draw(lc)

	return &plotRendered{cv: cv, p: p, plotC: plotC, bounds: b}, nil
}

// plotJitterAt returns a deterministic offset in [-plotJitter, plotJitter] for
// sample i (a low-discrepancy sequence, so the band is evenly filled).
func plotJitterAt(i int) float64 {
	const golden = 0.6180339887498949
	f := math.Mod(float64(i)*golden, 1)
	return (2*f - 1) * plotJitter
}

// plotNew returns the styled plot (title, axes, grid) and the legend.
func plotNew(title string, dim, k int, o Options) (*plot.Plot, *plot.Legend) {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(plotSans, 13)
	p.Title.Padding = 8
	xl, yl := "feature 1", "feature 2"
	switch {
	case dim == 1:
		xl, yl = "feature", "class (jittered)"
	case dim > 2:
		xl, yl = "PC 1", "PC 2"
	}
	p.X.Label.Text, p.Y.Label.Text = xl, yl
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(plotSans, 12)
		a.Tick.Label.Font = font.From(plotSans, 10)
		a.Padding = 0
	}
	if dim == 1 {
		p.Y.Tick.Marker = plotClassTicks{o}
	}
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{Y: 0xe4}
	g.Horizontal.Color = color.Gray{Y: 0xe4}
	g.Vertical.Width, g.Horizontal.Width = 0.5, 0.5
	p.Add(g)

	l := plot.NewLegend()
	l.Top, l.Left = true, true
	l.TextStyle.Font = font.From(plotSans, 11)
	l.ThumbnailWidth = 12
	l.Padding = 3
	for d := 0; d < plotClasses; d++ {
		l.Add(o.className(d), plotThumb{fill: Palette[d], r: 3.5})
	}
	if k > 0 {
		l.Add("center", plotThumb{fill: color.White, r: 4, ring: true})
	}
	return p, &l
}

// plotFitTitle shrinks the title font until the title fits the canvas width.
func plotFitTitle(p *plot.Plot, c draw.Canvas) {
	avail := c.Size().X - 8
	for p.Title.TextStyle.Font.Size > 6 && p.Title.TextStyle.Width(p.Title.Text) > avail {
		p.Title.TextStyle.Font.Size *= 0.92
	}
}

// DataBounds returns the range of the 2-D points xy and cx plus a margin.
func DataBounds(xy, cx []float64) Bounds {
	b := Bounds{math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)}
	for _, s := range [][]float64{xy, cx} {
		for i := 0; i+1 < len(s); i += 2 {
			b.XMin, b.XMax = math.Min(b.XMin, s[i]), math.Max(b.XMax, s[i])
			b.YMin, b.YMax = math.Min(b.YMin, s[i+1]), math.Max(b.YMax, s[i+1])
		}
	}
	span := math.Max(b.XMax-b.XMin, b.YMax-b.YMin)
	if span == 0 || math.IsInf(span, 0) || math.IsNaN(span) {
		// A single point (or all points equal): show a unit square around it.
		span = 1
	}
	m := plotMargin * span
	return Bounds{b.XMin - m, b.XMax + m, b.YMin - m, b.YMax + m}
}

func plotSetBounds(p *plot.Plot, b Bounds, dim int) {
	p.X.Min, p.X.Max = b.XMin, b.XMax
	p.Y.Min, p.Y.Max = b.YMin, b.YMax
	plotSetTicks(p, b, dim)
}

// plotEqualScale widens b symmetrically along one axis so that one data unit
// has the same length on both axes of p drawn in c, and sets p's axes to it.
// The data area depends on the tick labels, which depend on the range, so the
// adjustment is repeated until it settles.
func plotEqualScale(p *plot.Plot, c draw.Canvas, b Bounds) Bounds {
	for it := 0; it < 30; it++ {
		plotSetBounds(p, b, 2)
		da := p.DataCanvas(c)
		w, h := float64(da.Size().X), float64(da.Size().Y)
		if w <= 0 || h <= 0 {
			break
		}
		sx, sy := (b.XMax-b.XMin)/w, (b.YMax-b.YMin)/h // data units per point
		if math.Abs(sx-sy) <= 1e-9*math.Max(sx, sy) {
			break
		}
		if sx > sy {
			mid, half := (b.YMin+b.YMax)/2, sx*h/2
			b.YMin, b.YMax = mid-half, mid+half
		} else {
			mid, half := (b.XMin+b.XMax)/2, sy*w/2
			b.XMin, b.XMax = mid-half, mid+half
		}
	}
	plotSetBounds(p, b, 2)
	return b
}

// plotStepTicks puts a labelled tick on every multiple of step and an
// unlabelled one halfway between.
type plotStepTicks struct{ step float64 }

func (t plotStepTicks) Ticks(lo, hi float64) []plot.Tick {
	dec := max(0, -int(math.Floor(math.Log10(t.step)+1e-9)))
	var ticks []plot.Tick
	half := t.step / 2
	for i := math.Ceil(lo / half); i*half <= hi; i++ {
		v := i * half
		if math.Mod(i, 2) != 0 {
			ticks = append(ticks, plot.Tick{Value: v})
			continue
		}
		s := strconv.FormatFloat(v, 'f', dec, 64)
		if strings.Trim(s, "-0.") == "" {
			s = "0"
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: s})
	}
	return ticks
}

// plotNiceStep returns the 1, 2 or 5 times a power of ten that splits span
// into at most 8 steps.
func plotNiceStep(span float64) float64 {
	raw := span / 8
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw*(1-1e-9) {
			return m * mag
		}
	}
	return 10 * mag
}

// plotSetTicks gives both axes of a 2-D plot the same tick step (so the grid is
// square, the scales being equal); for 1-D plots only the x axis.
func plotSetTicks(p *plot.Plot, b Bounds, dim int) {
	if dim == 1 {
		p.X.Tick.Marker = plotStepTicks{plotNiceStep(b.XMax - b.XMin)}
		return
	}
	t := plotStepTicks{plotNiceStep(math.Max(b.XMax-b.XMin, b.YMax-b.YMin))}
	p.X.Tick.Marker, p.Y.Tick.Marker = t, t
}

// plotClassTicks puts one tick on every class 0-9, labelled with its name.
type plotClassTicks struct{ o Options }

func (ct plotClassTicks) Ticks(lo, hi float64) []plot.Tick {
	var t []plot.Tick
	for d := 0; d < plotClasses; d++ {
		if v := float64(d); v >= lo && v <= hi {
			t = append(t, plot.Tick{Value: v, Label: ct.o.className(d)})
		}
	}
	return t
}

// plotPoints draws the feature points, one small semi-transparent dot each, in
// input order.
type plotPoints struct {
	xy     []float64
	labels []int
}

func (pp *plotPoints) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	var sty [plotClasses]draw.GlyphStyle
	for d := range sty {
		col := Palette[d]
		col.A = plotPointAlpha
		sty[d] = draw.GlyphStyle{Color: col, Radius: plotPointR, Shape: draw.CircleGlyph{}}
	}
	for i, l := range pp.labels {
		c.DrawGlyph(sty[l], vg.Point{X: tx(pp.xy[2*i]), Y: ty(pp.xy[2*i+1])})
	}
}

// plotCenters draws center j as a dot in class j's colour with a black outline
// and the class's name beside it on a white halo.
type plotCenters struct {
	xy []float64
	o  Options
}

func (pc *plotCenters) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	ts := draw.TextStyle{
		Color:   color.Black,
		Font:    font.From(plotSansBold, 12),
		XAlign:  draw.XLeft,
		YAlign:  draw.YBottom,
		Handler: text.Plain{Fonts: font.DefaultCache},
	}
	halo := ts
	halo.Color = color.White
	for j := 0; 2*j+1 < len(pc.xy); j++ {
		pt := vg.Point{X: tx(pc.xy[2*j]), Y: ty(pc.xy[2*j+1])}
		if !c.Contains(pt) {
			continue
		}
		c.DrawGlyph(draw.GlyphStyle{Color: color.Black, Radius: plotCenterR + 1.2, Shape: draw.CircleGlyph{}}, pt)
		c.DrawGlyph(draw.GlyphStyle{Color: Palette[j], Radius: plotCenterR, Shape: draw.CircleGlyph{}}, pt)
		lp := vg.Point{X: pt.X + plotCenterR + 1.5, Y: pt.Y + plotCenterR - 1}
		s := pc.o.className(j)
		for _, d := range [][2]vg.Length{{-1, 0}, {1, 0}, {0, -1}, {0, 1}, {-0.8, -0.8}, {0.8, 0.8}, {-0.8, 0.8}, {0.8, -0.8}} {
			c.FillText(halo, vg.Point{X: lp.X + d[0], Y: lp.Y + d[1]}, s)
		}
		c.FillText(ts, lp, s)
	}
}

// plotThumb is a legend thumbnail: a filled dot, optionally outlined in black.
type plotThumb struct {
	fill color.Color
	r    vg.Length
	ring bool
}

func (t plotThumb) Thumbnail(c *draw.Canvas) {
	pt := c.Center()
	if t.ring {
		c.DrawGlyphNoClip(draw.GlyphStyle{Color: color.Black, Radius: t.r + 1.2, Shape: draw.CircleGlyph{}}, pt)
	}
	c.DrawGlyphNoClip(draw.GlyphStyle{Color: t.fill, Radius: t.r, Shape: draw.CircleGlyph{}}, pt)
}

// Project2D returns the 2-D coordinates Features uses for features (n x dim,
// row-major) and centers (k x dim), as fx (n x 2) and cx (k x 2).
//
//   - dim 2: the identity (copies of the inputs).
//   - dim > 2: the projections onto the first two principal components of the
//     features (eigenvectors of their covariance with the largest eigenvalues;
//     the centers do not influence them). The vectors themselves, not their
//     deviations from the mean, are projected, so the origin of the feature
//     space stays at (0, 0) and softmax's radial streaks still radiate from it;
//     distances within the plane of the two components are preserved. Each
//     component's sign is fixed by making its largest-magnitude coordinate
//     positive, so the same data always gives the same picture.
//   - dim 1: x is the feature and y is 0 (Features then spreads the points
//     vertically by label).
func Project2D(features []float64, centers []float64, n, k, dim int) (fx, cx []float64, err error) {
	switch {
	case dim < 1:
		return nil, nil, fmt.Errorf("plots: project: dim %d < 1", dim)
	case n < 1:
		return nil, nil, errors.New("plots: project: no features")
	case k < 0:
		return nil, nil, fmt.Errorf("plots: project: %d centers", k)
	case len(features) != n*dim:
		return nil, nil, fmt.Errorf("plots: project: %d feature values, want %d x %d", len(features), n, dim)
	case len(centers) != k*dim:
		return nil, nil, fmt.Errorf("plots: project: %d center values, want %d x %d", len(centers), k, dim)
	}
	for i, v := range features {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, nil, fmt.Errorf("plots: project: feature value %d of sample %d is %v", i%dim, i/dim, v)
		}
	}
	for i, v := range centers {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, nil, fmt.Errorf("plots: project: value %d of center %d is %v", i%dim, i/dim, v)
		}
	}
	fx, cx = make([]float64, 2*n), make([]float64, 2*k)
	switch {
	case dim == 1:
		for i, v := range features {
			fx[2*i] = v
		}
		for j, v := range centers {
			cx[2*j] = v
		}
		return fx, cx, nil
	case dim == 2:
		copy(fx, features)
		copy(cx, centers)
		return fx, cx, nil
	}

	pcs, err := plotPrincipalAxes(features, n, dim)
	if err != nil {
		return nil, nil, err
	}
	project := func(dst, src []float64, rows int) {
		for r := 0; r < rows; r++ {
			row := src[r*dim : (r+1)*dim]
			for c := 0; c < 2; c++ {
				var s float64
				for d, v := range row {
					s += v * pcs[c][d]
				}
				dst[2*r+c] = s
			}
		}
	}
	project(fx, features, n)
	project(cx, centers, k)
	return fx, cx, nil
}

// plotPrincipalAxes returns the two unit eigenvectors of the covariance of the
// rows of x (n x dim) with the largest eigenvalues, largest first.
func plotPrincipalAxes(x []float64, n, dim int) ([2][]float64, error) {
	var pcs [2][]float64
	mean := make([]float64, dim)
	for r := 0; r < n; r++ {
		for d, v := range x[r*dim : (r+1)*dim] {
			mean[d] += v
		}
	}
	for d := range mean {
		mean[d] /= float64(n)
	}
	centred := make([]float64, n*dim)
	for r := 0; r < n; r++ {
		for d := 0; d < dim; d++ {
			centred[r*dim+d] = x[r*dim+d] - mean[d]
		}
	}
	xc := mat.NewDense(n, dim, centred)
	cov := mat.NewSymDense(dim, nil)
	cov.SymOuterK(1/float64(max(n-1, 1)), xc.T())

	var es mat.EigenSym
	if !es.Factorize(cov, true) {
		return pcs, errors.New("plots: project: PCA eigendecomposition did not converge")
	}
	var vecs mat.Dense
	es.VectorsTo(&vecs)
	// Eigenvalues come in ascending order: the last two columns are wanted.
	for c := 0; c < 2; c++ {
		v := mat.Col(nil, dim-1-c, &vecs)
		big := 0
		for d := range v {
			if math.Abs(v[d]) > math.Abs(v[big])+1e-12 {
				big = d
			}
		}
		if v[big] < 0 {
			for d := range v {
				v[d] = -v[d]
			}
		}
		pcs[c] = v
	}
	return pcs, nil
}

// Grid lays PNG images (typically FeaturePlots, each carrying its own
// title) out in a grid of cols columns, row by row, and returns it as a PNG.
// Every cell has the size of the largest image, which is centred in it on a
// white background; when there are fewer images than cols the grid has only as
// many columns as images. The result is cols x ceil(len/cols) cells.
func Grid(pngs [][]byte, cols int) ([]byte, error) {
	if len(pngs) == 0 {
		return nil, errors.New("plots: grid plot: no images")
	}
	if cols < 1 {
		return nil, fmt.Errorf("plots: grid plot: %d columns", cols)
	}
	cols = min(cols, len(pngs))
	rows := (len(pngs) + cols - 1) / cols
	imgs := make([]image.Image, len(pngs))
	cw, ch := 0, 0
	for i, b := range pngs {
		im, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("plots: grid plot: image %d: %w", i, err)
		}
		imgs[i] = im
		cw, ch = max(cw, im.Bounds().Dx()), max(ch, im.Bounds().Dy())
	}
	out := image.NewRGBA(image.Rect(0, 0, cols*cw, rows*ch))
	stddraw.Draw(out, out.Bounds(), image.White, image.Point{}, stddraw.Src)
	for i, im := range imgs {
		r, c := i/cols, i%cols
		sz := im.Bounds().Size()
		at := image.Pt(c*cw+(cw-sz.X)/2, r*ch+(ch-sz.Y)/2)
		stddraw.Draw(out, image.Rectangle{Min: at, Max: at.Add(sz)}, im, im.Bounds().Min, stddraw.Over)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, out); err != nil {
		return nil, fmt.Errorf("plots: grid plot: %w", err)
	}
	return buf.Bytes(), nil
}

// Animation accumulates frames, PNG images of one size (FeaturePlots drawn
// with the same fixed Bounds, so the axes stay put), and writes them as an
// animated GIF. Frames are reduced to a palette holding greys, the ten class
// colours, their blends with white and black and with each other, so the
// classes stay distinct. The zero value is ready to use.
type Animation struct {
	frames []*image.Paletted
	size   image.Rectangle
}

// Add decodes png and appends it as the next frame. Every frame must have the
// size of the first one.
func (a *Animation) Add(pngBytes []byte) error {
	im, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		return fmt.Errorf("plots: animation frame %d: %w", len(a.frames), err)
	}
	r := im.Bounds().Sub(im.Bounds().Min)
	if len(a.frames) > 0 && r != a.size {
		return fmt.Errorf("plots: animation frame %d is %dx%d, earlier frames are %dx%d",
			len(a.frames), r.Dx(), r.Dy(), a.size.Dx(), a.size.Dy())
	}
	pi := image.NewPaletted(r, plotGIFPalette)
	// Src onto a paletted image maps every pixel to its nearest palette colour.
	stddraw.Draw(pi, r, im, im.Bounds().Min, stddraw.Src)
	a.frames = append(a.frames, pi)
	a.size = r
	return nil
}

// Len returns the number of frames added.
func (a *Animation) Len() int { return len(a.frames) }

// WriteGIF writes the frames as a GIF that loops forever, showing each frame
// for delay (rounded to GIF's 10 ms unit, at least 20 ms; 0 or less means
// 500 ms) and holding the last one four times as long, at least 2 s.
func (a *Animation) WriteGIF(w io.Writer, delay time.Duration) error {
	if len(a.frames) == 0 {
		return errors.New("plots: animation has no frames")
	}
	if delay <= 0 {
		delay = 500 * time.Millisecond
	}
	cs := max(int((delay+5*time.Millisecond)/(10*time.Millisecond)), 2)
	delays := make([]int, len(a.frames))
	for i := range delays {
		delays[i] = cs
	}
	delays[len(delays)-1] = max(4*cs, 200)
	g := &gif.GIF{Image: a.frames, Delay: delays, LoopCount: 0}
	if err := gif.EncodeAll(w, g); err != nil {
		return fmt.Errorf("plots: write gif: %w", err)
	}
	return nil
}

// plotGIFPalette is the palette of animation frames: 32 greys, each class
// colour blended with white (the semi-transparent dots and antialiased edges)
// and with black, and the 50/50 mixes of every pair of class colours (dots of
// two classes overlapping).
var plotGIFPalette = func() color.Palette {
	var p color.Palette
	for i := 0; i < 32; i++ {
		y := uint8(i * 255 / 31)
		p = append(p, color.RGBA{y, y, y, 0xff})
	}
	mix := func(a, b color.NRGBA, t float64) color.RGBA {
		f := func(x, y uint8) uint8 { return uint8(math.Round(float64(x)*t + float64(y)*(1-t))) }
		return color.RGBA{f(a.R, b.R), f(a.G, b.G), f(a.B, b.B), 0xff}
	}
	white, black := color.NRGBA{0xff, 0xff, 0xff, 0xff}, color.NRGBA{0, 0, 0, 0xff}
	for _, c := range Palette {
		for _, t := range []float64{1, 0.88, 0.76, 0.64, 0.52, 0.4, 0.28, 0.16, 0.08} {
			p = append(p, mix(c, white, t))
		}
		for _, t := range []float64{0.75, 0.5} {
			p = append(p, mix(c, black, t))
		}
	}
	for i := range Palette {
		for j := i + 1; j < len(Palette); j++ {
			p = append(p, mix(Palette[i], Palette[j], 0.5))
		}
	}
	return p
}()
