package experiment

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/centerloss-go/centerloss/mnist"
	"github.com/centerloss-go/centerloss/plots"
	"github.com/centerloss-go/centerloss/train"
)

// An Output is one of a run's outputs, written after every epoch of
// train.Trainer.Fit from the epoch's report. [Outputs] makes Fit's epoch
// hook of several; [Run] attaches those below.
type Output func(r train.EpochReport) error

// Outputs returns an epoch hook for train.Hooks that runs each output in
// turn; the first error stops the epoch's.
func Outputs(outs ...Output) func(train.EpochReport) error {
	return func(r train.EpochReport) error {
		for _, o := range outs {
			if err := o(r); err != nil {
				return err
			}
		}
		return nil
	}
}

// History keeps what a run has measured: the metrics of every epoch (those
// of a resumed run's earlier epochs first), the images and seconds of
// training in this run, and the last epoch's evaluation of the test set.
type History struct {
	Metrics      []train.Metrics
	Images       int
	TrainSeconds float64
	Test         train.EvalResult
}

// Record is the Output that adds an epoch to h; put it before the outputs
// that read h.
func (h *History) Record(r train.EpochReport) error {
	h.Metrics = append(h.Metrics, r.Metrics)
	h.Images += r.Train.Images
	h.TrainSeconds += r.TrainSeconds
	h.Test = r.Test
	return nil
}

// MetricsCSV rewrites path (metrics.csv) with the metrics of h.
func MetricsCSV(path string, h *History) Output {
	return func(train.EpochReport) error { return writeMetrics(path, h.Metrics) }
}

// Curves redraws the training curves of h into path (curves.png).
func Curves(path string, h *History) Output {
	return func(train.EpochReport) error {
		png, err := CurvesPlot(h.Metrics)
		if err != nil {
			return err
		}
		return writeFile(path, png)
	}
}

// Checkpointer saves t to path after every epoch.
func Checkpointer(path string, t *train.Trainer) Output {
	return func(train.EpochReport) error { return train.SaveCheckpoint(path, t) }
}

// FeaturePlots plots, into dir's plots folder, the test features of every
// epoch and those of the training images in trainPlot (evaluated for it),
// with classes naming the classes, and redraws the animation of the test
// features (features_test.gif) with axes that fit every epoch.
func FeaturePlots(dir string, t *train.Trainer, test, trainPlot *mnist.Dataset, classes []string) Output {
	var frames []frame
	return func(r train.EpochReport) error {
		m := r.Metrics
		tr, err := t.Evaluate(trainPlot)
		if err != nil {
			return err
		}
		centers := t.Centers.Values()
		title := func(set string, acc float64) string {
			return fmt.Sprintf("%s · epoch %d · λ=%g · α=%g · test acc %.2f%%", set, m.Epoch, t.Lambda, t.Alpha, 100*acc)
		}
		for _, p := range []struct {
			name   string
			r      train.EvalResult
			labels []int
			title  string
		}{
			{fmt.Sprintf("test_epoch_%03d.png", m.Epoch), r.Test, test.Labels, title("test", m.TestAcc)},
			{fmt.Sprintf("train_epoch_%03d.png", m.Epoch), tr, trainPlot.Labels, title(fmt.Sprintf("train (first %d)", trainPlot.N), m.TestAcc)},
		} {
			png, _, err := plots.Features(p.r.Features, p.labels, centers, t.Dim, plots.Options{Title: p.title, Classes: classes})
			if err != nil {
				return err
			}
			if err := writeFile(filepath.Join(dir, PlotsDir, p.name), png); err != nil {
				return err
			}
		}
		fx, cx, err := plots.Project2D(r.Test.Features, centers, test.N, t.Centers.K(), t.Dim)
		if err != nil {
			return err
		}
		frames = append(frames, frame{title: title("test", m.TestAcc), fx: fx, cx: cx, labels: test.Labels})
		return animate(filepath.Join(dir, AnimationFile), frames, classes)
	}
}

// frame is one epoch's test features, kept to redraw the animation with
// axes that fit every epoch.
type frame struct {
	title  string
	fx, cx []float64 // 2-D projections of the features and the centers
	labels []int
}

// animate draws every frame with one set of axes and writes the GIF.
func animate(path string, frames []frame, classes []string) error {
	// Fixed axes that hold every frame's points; computed from the data, so
	// that no frame is drawn twice.
	bounds := plots.DataBounds(frames[0].fx, frames[0].cx)
	for _, f := range frames[1:] {
		bounds = bounds.Union(plots.DataBounds(f.fx, f.cx))
	}
	var a plots.Animation
	for _, f := range frames {
		png, _, err := plots.Features(f.fx, f.labels, f.cx, 2, plots.Options{Title: f.title, Width: 480, Height: 480, Bounds: &bounds, Classes: classes})
		if err != nil {
			return err
		}
		if err := a.Add(png); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	if err := a.WriteGIF(&buf, 700*time.Millisecond); err != nil {
		return err
	}
	return writeFile(path, buf.Bytes())
}

// LogLine writes one line per epoch to w: its losses, accuracies,
// distances, learning rate, time and speed.
func LogLine(w io.Writer, epochs int) Output {
	return func(r train.EpochReport) error {
		_, err := fmt.Fprintln(w, r.Metrics.Line(epochs))
		return err
	}
}

// Exports writes, after the epoch numbered last, the test features into
// dir: features_test.csv, features_test.npy and labels_test.npy.
func Exports(dir string, test *mnist.Dataset, last int) Output {
	return func(r train.EpochReport) error {
		if r.Metrics.Epoch != last {
			return nil
		}
		ev := r.Test
		dim := len(ev.Features) / test.N
		if err := WriteFeaturesCSV(filepath.Join(dir, FeaturesCSV), ev.Features, test.Labels, dim); err != nil {
			return err
		}
		return WriteFeaturesNPY(filepath.Join(dir, FeaturesNPY), filepath.Join(dir, LabelsNPY), ev.Features, test.Labels, dim)
	}
}
