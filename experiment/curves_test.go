package experiment

import (
	"bytes"
	"github.com/centerloss-go/centerloss/train"
	"image/png"
	"math"
	"strings"
	"testing"
)

// TestCurvesPlot draws a made-up three-epoch history and checks the PNG's
// size, and that an empty history or a NaN is an error naming the value.
func TestCurvesPlot(t *testing.T) {
	var history []train.Metrics
	for e := 1; e <= 3; e++ {
		f := float64(e)
		history = append(history, train.Metrics{Epoch: e, TrainLoss: 1 / f, SoftmaxLoss: 0.8 / f, CenterLoss: 2 / f,
			TrainAcc: 1 - 0.1/f, TestAcc: 1 - 0.12/f, TestSoftmax: 0.9 / f, TestCenter: 2.2 / f, Intra: 1 / f, Inter: 3})
	}
	b, err := CurvesPlot(history)
	if err != nil {
		t.Fatal(err)
	}
	im, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if s := im.Bounds().Size(); s.X != 1500 || s.Y != 500 {
		t.Errorf("PNG of %v, want 1500×500", s)
	}
	if _, err := CurvesPlot(nil); err == nil {
		t.Error("an empty history drew a plot")
	}
	history[1].Intra = math.NaN()
	if _, err := CurvesPlot(history); err == nil || !strings.Contains(err.Error(), "intra of epoch 2 is NaN") {
		t.Errorf("NaN intra: %v", err)
	}
}
