package experiment

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"math"

	"github.com/centerloss-go/centerloss/plots"
	"github.com/centerloss-go/centerloss/train"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// curve is one line of a training-curves panel.
type curve struct {
	name string
	test bool // drawn dashed: measured on the test set
	of   func(train.Metrics) float64
}

// CurvesPlot draws a run's history against the epoch in three panels, side
// by side: the losses (training joint, softmax and center loss, test
// softmax and center loss), training and test accuracy, and intra (mean
// distance of a test feature to its class center) and inter (smallest
// distance between two centers). Test curves are dashed. It returns a PNG
// of 1500×500 pixels.
func CurvesPlot(history []train.Metrics) ([]byte, error) {
	if len(history) == 0 {
		return nil, errors.New("train: curves plot: no epochs")
	}
	panels := []struct {
		title  string
		curves []curve
	}{
		{"loss", []curve{
			{"train", false, func(m train.Metrics) float64 { return m.TrainLoss }},
			{"train softmax", false, func(m train.Metrics) float64 { return m.SoftmaxLoss }},
			{"train center", false, func(m train.Metrics) float64 { return m.CenterLoss }},
			{"test softmax", true, func(m train.Metrics) float64 { return m.TestSoftmax }},
			{"test center", true, func(m train.Metrics) float64 { return m.TestCenter }},
		}},
		{"accuracy", []curve{
			{"train", false, func(m train.Metrics) float64 { return m.TrainAcc }},
			{"test", true, func(m train.Metrics) float64 { return m.TestAcc }},
		}},
		{"test features", []curve{
			{"intra", true, func(m train.Metrics) float64 { return m.Intra }},
			{"inter", true, func(m train.Metrics) float64 { return m.Inter }},
		}},
	}
	row := make([]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.X.Label.Text = "epoch"
		p.X.Tick.Marker = epochTicks{}
		p.Add(plotter.NewGrid())
		p.Legend.Top = true
		for j, c := range pn.curves {
			xy := make(plotter.XYs, len(history))
			for k, m := range history {
				xy[k].X, xy[k].Y = float64(m.Epoch), c.of(m)
				if math.IsNaN(xy[k].Y) || math.IsInf(xy[k].Y, 0) {
					return nil, fmt.Errorf("train: curves plot: %s %s of epoch %d is %v", pn.title, c.name, m.Epoch, xy[k].Y)
				}
			}
			l, pts, err := plotter.NewLinePoints(xy)
			if err != nil {
				return nil, fmt.Errorf("train: curves plot: %w", err)
			}
			l.Color, pts.Color = plots.Palette[j], plots.Palette[j]
			l.Width = vg.Points(1.5)
			pts.Shape = draw.CircleGlyph{}
			if c.test {
				l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			}
			p.Add(l, pts)
			p.Legend.Add(c.name, l, pts)
		}
		// Headroom above the data for the legend.
		p.Y.Max += 0.35 * max(p.Y.Max-p.Y.Min, 1e-3)
		row[i] = p
	}
	const w, h = 1500, 500
	cv := vgimg.NewWith(vgimg.UseImage(image.NewRGBA(image.Rect(0, 0, w, h))), vgimg.UseDPI(96))
	dc := draw.New(cv)
	tiles := draw.Tiles{Rows: 1, Cols: len(row), PadX: vg.Points(12), PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(6)}
	canvases := plot.Align([][]*plot.Plot{row}, tiles, dc)
	for i, p := range row {
		p.Draw(canvases[0][i])
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: cv}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("train: curves plot: %w", err)
	}
	return buf.Bytes(), nil
}

// epochTicks marks the whole epochs, at most about ten of them.
type epochTicks struct{}

func (epochTicks) Ticks(lo, hi float64) []plot.Tick {
	step := max(1, int(math.Ceil((hi-lo)/10)))
	var ticks []plot.Tick
	for e := int(math.Ceil(lo)); float64(e) <= hi; e += step {
		ticks = append(ticks, plot.Tick{Value: float64(e), Label: fmt.Sprint(e)})
	}
	return ticks
}
