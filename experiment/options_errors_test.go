package experiment

import (
	"context"
	"errors"
	"github.com/centerloss-go/centerloss/train"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/graph"
	"github.com/centerloss-go/centerloss/mnist"
)

// TestOptionsValidateNamesOptions: each option out of range is reported as
// a *UsageError naming its field, first in the message.
func TestOptionsValidateNamesOptions(t *testing.T) {
	for _, c := range []struct {
		option string
		mod    func(*Options)
	}{
		{"Epochs", func(o *Options) { o.Epochs = 0 }},
		{"TrainLimit", func(o *Options) { o.TrainLimit = -1 }},
		{"TestLimit", func(o *Options) { o.TestLimit = -1 }},
		{"Out", func(o *Options) { o.Out = "" }},
		{"Batch", func(o *Options) { o.Batch = 0 }},
		{"LR", func(o *Options) { o.LR = math.NaN() }},
		{"LRSteps", func(o *Options) { o.LRSteps = []int{0} }},
		{"LRGamma", func(o *Options) { o.LRGamma = -1 }},
		{"Momentum", func(o *Options) { o.Momentum = -0.5 }},
		{"WeightDecay", func(o *Options) { o.WeightDecay = -1 }},
		{"Lambda", func(o *Options) { o.Lambda = math.Inf(1) }},
		{"Alpha", func(o *Options) { o.Alpha = 1.01 }},
		{"Dim", func(o *Options) { o.Dim = 0 }},
		{"Shift", func(o *Options) { o.Shift = -1 }},
	} {
		o := Options{Hyper: train.DefaultHyper(), Epochs: 1, Out: "out"}
		if err := o.Validate(); err != nil {
			t.Fatalf("defaults: %v", err)
		}
		c.mod(&o)
		err := o.Validate()
		var ue *UsageError
		if !errors.As(err, &ue) || ue.Option != c.option || !strings.HasPrefix(err.Error(), c.option+" ") && !strings.HasPrefix(err.Error(), c.option+":") {
			t.Errorf("%s: error %v should be a usage error naming the option first", c.option, err)
		}
	}
}

// TestRunLimitBeyondDataIsUsageError: a limit larger than the set is a
// *UsageError naming the option (the command maps it to its flag and status
// 2), found before any training.
func TestRunLimitBeyondDataIsUsageError(t *testing.T) {
	h := train.DefaultHyper()
	h.Batch = 32
	for _, c := range []struct {
		train, test int
		option      string
	}{{70000, 100, "TrainLimit"}, {60001, 100, "TrainLimit"}, {128, 20000, "TestLimit"}, {128, 10001, "TestLimit"}} {
		_, err := Run(context.Background(), Options{Hyper: h, Epochs: 1, TrainLimit: c.train, TestLimit: c.test, Out: t.TempDir()})
		var ue *UsageError
		var le *mnist.LimitError
		if !errors.As(err, &ue) || ue.Option != c.option || !errors.As(err, &le) {
			t.Errorf("limits %d/%d: error %v, want a usage error for %s", c.train, c.test, err, c.option)
		}
	}
	tr, err := train.NewTrainer(h, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ckpt := filepath.Join(t.TempDir(), "c.safetensors")
	if err := train.SaveCheckpoint(ckpt, tr); err != nil {
		t.Fatal(err)
	}
	_, _, err = Evaluate(Options{TestLimit: 10001, Out: t.TempDir()}, ckpt)
	var ue *UsageError
	if !errors.As(err, &ue) || ue.Option != "TestLimit" {
		t.Errorf("evaluate: error %v, want a usage error for TestLimit", err)
	}
}

// TestRunUnwritableOutFailsAtOnce: an -out that cannot be made fails before
// the data is read.
func TestRunUnwritableOutFailsAtOnce(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h := train.DefaultHyper()
	h.Batch = 32
	for _, out := range []string{file, filepath.Join(file, "sub")} {
		start := time.Now()
		// A missing data folder would fail later: the output folder must
		// be the first complaint.
		_, err := Run(context.Background(), Options{Hyper: h, Epochs: 1, Out: out, DataDir: filepath.Join(file, "no-data")})
		if err == nil || !strings.Contains(err.Error(), "output folder "+out) {
			t.Errorf("-out %s: error %v should name the output folder", out, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("-out %s: took %v", out, d)
		}
	}
}

// TestBadDatasetIsAnError: a data set built by hand with labels outside
// [0, 10) or sizes that disagree makes training and evaluation return an
// error, not panic.
func TestBadDatasetIsAnError(t *testing.T) {
	h := train.DefaultHyper()
	h.Batch = 2
	tr, err := train.NewTrainer(h, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	const px = graph.Rows * graph.Cols
	// Sets of one batch, so that the bad image is in the first step.
	set := func(pixels int, labels ...int) *mnist.Dataset {
		return &mnist.Dataset{Pixels: make([]uint8, pixels), Labels: labels, N: 2, Rows: graph.Rows, Cols: graph.Cols}
	}
	for _, c := range []struct {
		name string
		ds   train.Data
		want string
	}{
		{"label 10", set(2*px, 0, 10), "label 10 of image 1 is outside [0, 10)"},
		{"label -1", set(2*px, -1, 1), "label -1 of image 0 is outside [0, 10)"},
		{"short images", set(px, 0, 1), "data set of 2 images holds 784 pixel values and 2 labels"},
		{"missing labels", set(2*px, 0), "data set of 2 images holds 1568 pixel values and 1 labels"},
		{"other size", &mnist.Dataset{Pixels: make([]uint8, 2*px), Labels: []int{0, 1}, N: 2, Rows: 32, Cols: 32}, "the data's images are 32×32, LeNet++ takes 28×28"},
		{"nil", nil, "no data set"},
	} {
		if _, err := tr.Evaluate(c.ds); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: evaluate: error %v, want %q", c.name, err, c.want)
		}
		if _, err := tr.TrainEpoch(context.Background(), c.ds, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: train epoch: error %v, want %q", c.name, err, c.want)
		}
		if tr.Step != 0 {
			t.Fatalf("%s: the trainer moved to step %d", c.name, tr.Step)
		}
	}
	img := make([]float32, 2*px)
	for _, labels := range [][]int{{0, 10}, {-1, 0}, {0}, {0, 1, 2}} {
		if _, err := tr.TrainStep(img, labels); err == nil {
			t.Errorf("labels %v: train step returned no error", labels)
		}
	}
	if _, err := tr.TrainStep(img[:px], []int{0, 1}); err == nil {
		t.Error("one image for a batch of two: no error")
	}
}
