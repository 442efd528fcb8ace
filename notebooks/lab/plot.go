package lab

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"image/png"

	"github.com/centerloss-go/centerloss/plots"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// palette is the Tableau-10 palette, one colour per class, as in the
// trainer's feature plots.
var palette = []color.NRGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
	{0xd6, 0x27, 0x28, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
	{0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff}, {0xbc, 0xbd, 0x22, 0xff},
	{0x17, 0xbe, 0xcf, 0xff},
}

// plotSize is the side of the square toy plots, in points (and pixels at
// 72 dpi).
const plotSize = 480

// ScatterPlot draws 2-D points (N×2, row-major) coloured by label (0–9) and,
// if centers (K×2) is not empty, the centers as large dots with a black
// outline, and returns the picture.
func ScatterPlot(points []float64, labels []int, centers []float64, title string) (Picture, error) {
	var path [][]float64
	if len(centers) > 0 {
		path = [][]float64{centers}
	}
	return TrajectoryPlot(points, labels, path, nil, title)
}

// TrajectoryPlot draws 2-D points (N×2) coloured by label (0–9), and the
// path of K centers over the steps of an update rule: path[s] holds the K×2
// centers after step s (path[0] is where they start). Each center's path is
// a line in its class colour, from a hollow circle (start) to a large dot
// (end); intermediate positions are small dots. If means (K×2) is not nil,
// each class mean is marked with a black cross.
func TrajectoryPlot(points []float64, labels []int, path [][]float64, means []float64, title string) (Picture, error) {
	n := len(labels)
	if len(points) != 2*n {
		return nil, fmt.Errorf("lab: plot: %d coordinates for %d labels; want 2 per point", len(points), n)
	}
	for i, l := range labels {
		if l < 0 || l >= len(palette) {
			return nil, fmt.Errorf("lab: plot: label %d of point %d outside [0, %d]", l, i, len(palette)-1)
		}
	}
	k := -1
	for s, c := range path {
		if len(c)%2 != 0 || (k >= 0 && len(c) != 2*k) {
			return nil, fmt.Errorf("lab: plot: step %d of the path has %d values; want 2 per center, the same at every step", s, len(c))
		}
		k = len(c) / 2
	}
	if k > len(palette) {
		return nil, fmt.Errorf("lab: plot: %d centers; at most %d", k, len(palette))
	}
	if len(means)%2 != 0 {
		return nil, errors.New("lab: plot: means need 2 values per class")
	}

	p := plot.New()
	p.Title.Text = title
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text, p.Y.Label.Text = "x₁", "x₂"
	p.Add(plotter.NewGrid())

	byClass := make([]plotter.XYs, len(palette))
	for i, l := range labels {
		byClass[l] = append(byClass[l], plotter.XY{X: points[2*i], Y: points[2*i+1]})
	}
	for j, xy := range byClass {
		if len(xy) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, err
		}
		c := palette[j]
		c.A = 0x90
		sc.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
		p.Add(sc)
		p.Legend.Add(fmt.Sprintf("class %d", j), sc)
	}

	for j := 0; j < k; j++ {
		xy := make(plotter.XYs, len(path))
		for s, c := range path {
			xy[s] = plotter.XY{X: c[2*j], Y: c[2*j+1]}
		}
		col := darker(palette[j])
		if len(path) > 1 {
			line, pts, err := plotter.NewLinePoints(xy)
			if err != nil {
				return nil, err
			}
			line.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(1.5)}
			pts.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(1.8), Shape: draw.CircleGlyph{}}
			start, err := plotter.NewScatter(xy[:1])
			if err != nil {
				return nil, err
			}
			start.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(4), Shape: draw.RingGlyph{}}
			p.Add(line, pts, start)
		}
		end, err := plotter.NewScatter(xy[len(xy)-1:])
		if err != nil {
			return nil, err
		}
		end.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(5.5), Shape: draw.CircleGlyph{}}
		ring, err := plotter.NewScatter(xy[len(xy)-1:])
		if err != nil {
			return nil, err
		}
		ring.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(5.5), Shape: draw.RingGlyph{}}
		p.Add(end, ring)
	}
	if len(means) > 0 {
		xy := make(plotter.XYs, len(means)/2)
		for j := range xy {
			xy[j] = plotter.XY{X: means[2*j], Y: means[2*j+1]}
		}
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(5), Shape: draw.CrossGlyph{}}
		p.Add(sc)
		p.Legend.Add("class mean", sc)
	}
	p.Legend.Top, p.Legend.Left = true, true
	equalScale(p)

	w, err := p.WriterTo(plotSize, plotSize, "png")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// darker returns c at 70% brightness, for lines drawn over points of colour c.
func darker(c color.NRGBA) color.NRGBA {
	return color.NRGBA{R: uint8(float64(c.R) * 0.7), G: uint8(float64(c.G) * 0.7), B: uint8(float64(c.B) * 0.7), A: 0xff}
}

// equalScale widens the shorter axis range of p so that both axes cover the
// same span (the plot is square, so distances look right), with a margin.
func equalScale(p *plot.Plot) {
	xmin, xmax, ymin, ymax := p.X.Min, p.X.Max, p.Y.Min, p.Y.Max
	span := max(xmax-xmin, ymax-ymin, 1e-9) * 1.15
	cx, cy := (xmin+xmax)/2, (ymin+ymax)/2
	p.X.Min, p.X.Max = cx-span/2, cx+span/2
	p.Y.Min, p.Y.Max = cy-span/2, cy+span/2
}

// FeaturePlot draws deep features (N×dim, row-major) coloured by digit with
// the class centers (K×dim, may be empty), as the trainer does
// (plots.Features; more than two dimensions are projected on their first
// two principal components), and returns an 800×800 picture.
func FeaturePlot(features []float64, labels []int, centers []float64, dim int, title string) (Picture, error) {
	b, _, err := plots.Features(features, labels, centers, dim, plots.Options{Title: title})
	return b, err
}

// GridPlot lays pictures out in a grid of cols columns, row by row
// (plots.Grid): FeaturePlots side by side.
func GridPlot(pics []Picture, cols int) (Picture, error) {
	pngs := make([][]byte, len(pics))
	for i, p := range pics {
		pngs[i] = p
	}
	return plots.Grid(pngs, cols)
}

// Picture is a PNG image. A notebook cell whose last value is a Picture, or
// that calls Display(display.Auto(p)), shows the image, and a frontend that
// shows only text gets String's short description instead of a dump of bytes.
type Picture []byte

// PNG returns the encoded image.
func (p Picture) PNG() []byte { return p }

// SimpleRender is how gophernotes shows a Picture: the image, and String as
// its text form. (gophernotes gives a value that has only a PNG method no
// text form at all.)
func (p Picture) SimpleRender() map[string]interface{} {
	return map[string]interface{}{"image/png": []byte(p), "text/plain": p.String()}
}

// String describes the picture as "PNG 800x800", or says that it is not one.
func (p Picture) String() string {
	w, h, err := PNGSize(p)
	if err != nil {
		return fmt.Sprintf("%d bytes, not a PNG", len(p))
	}
	return fmt.Sprintf("PNG %dx%d", w, h)
}

// PNGSize decodes the header of PNG bytes and returns the width and height
// of the picture; the error says why b is not a PNG.
func PNGSize(b []byte) (width, height int, err error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return 0, 0, fmt.Errorf("lab: not a PNG: %w", err)
	}
	return cfg.Width, cfg.Height, nil
}
