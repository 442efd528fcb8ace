package train

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/graph"
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
		o := Options{Hyper: DefaultHyper(), Epochs: 1, Out: "out"}
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
	h := DefaultHyper()
	h.Batch = 32
	for _, c := range []struct {
		train, test int
		option      string
	}{{70000, 100, "TrainLimit"}, {60001, 100, "TrainLimit"}, {128, 20000, "TestLimit"}, {128, 10001, "TestLimit"}} {
		_, err := Run(context.Background(), Options{Hyper: h, Epochs: 1, TrainLimit: c.train, TestLimit: c.test, Out: t.TempDir()})
		var ue *UsageError
		var le *LimitError
		if !errors.As(err, &ue) || ue.Option != c.option || !errors.As(err, &le) {
			t.Errorf("limits %d/%d: error %v, want a usage error for %s", c.train, c.test, err, c.option)
		}
	}
	_, _, err := Evaluate(Options{TestLimit: 10001, Out: t.TempDir()}, filepath.Join(t.TempDir(), "none.safetensors"))
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
	h := DefaultHyper()
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
	h := DefaultHyper()
	h.Batch = 2
	tr, err := NewTrainer(h, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	const px = graph.Rows * graph.Cols
	for name, ds := range map[string]*Dataset{
		"label 10":       {Pixels: make([]uint8, 4*px), Labels: []int{0, 1, 10, 2}, N: 4},
		"label -1":       {Pixels: make([]uint8, 4*px), Labels: []int{0, -1, 1, 2}, N: 4},
		"short images":   {Pixels: make([]uint8, 3*px), Labels: []int{0, 1, 2, 3}, N: 4},
		"missing labels": {Pixels: make([]uint8, 4*px), Labels: []int{0, 1}, N: 4},
		"nil":            nil,
	} {
		if _, err := tr.Evaluate(ds); err == nil {
			t.Errorf("%s: evaluate returned no error", name)
		}
		if _, err := tr.TrainEpoch(context.Background(), ds, nil); err == nil {
			t.Errorf("%s: train epoch returned no error", name)
		}
		if tr.Step != 0 {
			t.Fatalf("%s: the trainer moved to step %d", name, tr.Step)
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

// divergedRE is what a divergence error says: where, and which quantity.
var divergedRE = regexp.MustCompile(`^training diverged at epoch \d+, step \d+: ` +
	`(the (softmax |center )?loss is (NaN|[+-]Inf)|sgd: \S+: (gradient entry \d+ is|weight entry \d+ became) (NaN|[+-]Inf))`)

// TestDivergedStepChangesNothing: a step whose loss is not finite stops at
// once with a *DivergedError naming epoch, step and quantity, and leaves the
// weights, momentum, centers and position as they were.
func TestDivergedStepChangesNothing(t *testing.T) {
	ds, err := LoadMNIST("", "test", 8)
	if err != nil {
		t.Fatal(err)
	}
	h := DefaultHyper()
	h.Batch = 2
	tr, err := NewTrainer(h, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for i := 0; i < 2; i++ {
		if _, err := tr.TrainStep(ds.Images(2*i, 2*(i+1)), ds.Labels[2*i:2*(i+1)]); err != nil {
			t.Fatal(err)
		}
	}
	before := ckptBits(tr)
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		img := append([]float32(nil), ds.Images(4, 6)...)
		img[300] = bad
		_, err := tr.TrainStep(img, ds.Labels[4:6])
		var de *DivergedError
		if !errors.As(err, &de) || !errors.Is(err, ErrDiverged) {
			t.Fatalf("pixel %v: error %v, want a divergence", bad, err)
		}
		if de.Epoch != 1 || de.Step != 3 || !divergedRE.MatchString(err.Error()) || !strings.Contains(err.Error(), "loss") {
			t.Errorf("pixel %v: error %q should name epoch 1, step 3 and the loss", bad, err)
		}
		if tr.Step != 2 {
			t.Errorf("pixel %v: trainer at step %d after the failed step, want 2", bad, tr.Step)
		}
		ckptEqualBits(t, ckptBits(tr), before)
	}
}

// TestSGDNonFiniteNamesTheParameter: a gradient or an updated weight that is
// not finite stops the solver with an error naming the parameter and the
// quantity.
func TestSGDNonFiniteNamesTheParameter(t *testing.T) {
	setup := func() (*G.Node, *SGD, func()) {
		g := G.NewGraph()
		w := G.NewVector(g, tensor.Float64, G.WithShape(2), G.WithName("fc1.weight"), G.WithValue(tensor.New(tensor.WithBacking([]float64{2, 3}))))
		cost, err := G.Sum(G.Must(G.Mul(w, G.NewConstant(5.0))))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := G.Grad(cost, w); err != nil {
			t.Fatal(err)
		}
		m := G.NewTapeMachine(g, G.BindDualValues(w))
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		return w, NewSGD([]graph.Param{{Name: "fc1.weight", Node: w}}, 0.1, 0.9, 0), func() { m.Close() }
	}

	w, s, done := setup()
	gr, err := w.Grad()
	if err != nil {
		t.Fatal(err)
	}
	gr.Data().([]float64)[1] = math.NaN()
	err = s.Step()
	if err == nil || !strings.Contains(err.Error(), "fc1.weight") || !strings.Contains(err.Error(), "gradient entry 1 is NaN") {
		t.Errorf("NaN gradient: error %v", err)
	}
	done()

	_, s, done = setup()
	s.LR = math.MaxFloat64
	err = s.Step()
	if err == nil || !strings.Contains(err.Error(), "fc1.weight") || !strings.Contains(err.Error(), "weight entry 0 became -Inf") {
		t.Errorf("overflowing weight: error %v", err)
	}
	done()
}

// TestDivergingEpochStopsAtOnce: with an absurd center-loss weight the
// epoch stops at the first bad step, reported with its position.
func TestDivergingEpochStopsAtOnce(t *testing.T) {
	ds, err := LoadMNIST("", "train", 64)
	if err != nil {
		t.Fatal(err)
	}
	h := DefaultHyper()
	h.Batch, h.Lambda = 4, 1e30
	tr, err := NewTrainer(h, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	steps := 0
	_, err = tr.TrainEpoch(context.Background(), ds, func(int, int, StepResult) { steps++ })
	var de *DivergedError
	if !errors.As(err, &de) {
		t.Fatalf("error %v, want a divergence", err)
	}
	if !divergedRE.MatchString(err.Error()) {
		t.Errorf("error %q should name the epoch, the step and the quantity", err)
	}
	if de.Epoch != 1 || de.Step != steps+1 || tr.Step != steps || tr.Epoch != 0 {
		t.Errorf("diverged at epoch %d step %d after %d good steps; trainer at epoch %d step %d",
			de.Epoch, de.Step, steps, tr.Epoch, tr.Step)
	}
}

// liveHeap returns the bytes of live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestHeapStaysFlat trains 300 steps the way a run does (epochs over a
// subset, an evaluation and a checkpoint after each) and fails if the live
// heap grows by more than 1 MiB between step 50 and step 300. Both
// measurements are taken at the end of an epoch's last step.
func TestHeapStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 300 steps")
	}
	const batch, images, from, to = 2, 100, 50, 300 // 50 steps an epoch
	trainSet, err := LoadMNIST("", "train", images)
	if err != nil {
		t.Fatal(err)
	}
	testSet, err := LoadMNIST("", "test", 100)
	if err != nil {
		t.Fatal(err)
	}
	h := DefaultHyper()
	h.Batch, h.LR = batch, 0.001 // the default rate is too large for so small a batch
	tr, err := NewTrainer(h, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	// The evaluation machine allocates its buffers on its first run.
	if _, err := tr.Evaluate(testSet); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(t.TempDir(), CheckpointFile)
	var start, end uint64
	measure := func(_, _ int, _ StepResult) {
		switch tr.Step {
		case from:
			start = liveHeap()
		case to:
			end = liveHeap()
		}
	}
	for tr.Step < to {
		if _, err := tr.TrainEpoch(context.Background(), trainSet, measure); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Evaluate(testSet); err != nil {
			t.Fatal(err)
		}
		if err := SaveCheckpoint(ckpt, tr); err != nil {
			t.Fatal(err)
		}
	}
	growth := int64(end) - int64(start)
	t.Logf("live heap at step %d: %.2f MB, at step %d: %.2f MB, growth %+d bytes", from, float64(start)/1e6, to, float64(end)/1e6, growth)
	if start == 0 || end == 0 {
		t.Fatal("a measurement was missed")
	}
	if growth > 1<<20 {
		t.Errorf("live heap grew by %.2f MB over %d steps", float64(growth)/1e6, to-from)
	}
}

// BenchmarkLongRunHeap trains b.N steps (batch 32, D = 2) over the first 640
// training images, evaluating 100 test images every 100 steps, and reports
// the live heap after garbage collection before the first timed step and
// after the last. The default benchtime runs only a few steps; a long run:
//
//	go test ./train -run '^$' -bench LongRunHeap -benchtime 2000x
func BenchmarkLongRunHeap(b *testing.B) {
	h := DefaultHyper()
	h.Batch = 32
	tr, err := NewTrainer(h, tensor.Float32)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	trainSet, err := LoadMNIST("", "train", 640)
	if err != nil {
		b.Fatal(err)
	}
	testSet, err := LoadMNIST("", "test", 100)
	if err != nil {
		b.Fatal(err)
	}
	batches := trainSet.N / h.Batch
	step := func(i int) {
		lo := (i % batches) * h.Batch
		if _, err := tr.TrainStep(trainSet.Images(lo, lo+h.Batch), trainSet.Labels[lo:lo+h.Batch]); err != nil {
			b.Fatal(err)
		}
	}
	// Warm up: both machines allocate their buffers on their first run.
	step(0)
	if _, err := tr.Evaluate(testSet); err != nil {
		b.Fatal(err)
	}
	start := liveHeap()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step(i + 1)
		if (i+1)%100 == 0 {
			if _, err := tr.Evaluate(testSet); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	end := liveHeap()
	b.ReportMetric(float64(b.N*h.Batch)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(float64(start)/1e6, "heap-start-MB")
	b.ReportMetric(float64(end)/1e6, "heap-end-MB")
	b.ReportMetric((float64(end)-float64(start))/1e6, "heap-growth-MB")
}
