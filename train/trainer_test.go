package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/graph"
	"github.com/centerloss-go/centerloss/mnist"
)

// TestSGDStep checks one update against numbers worked out by hand:
// w = 2, g = 0.5, v = 1, lr = 0.1, momentum 0.9, decay 0.01 gives
// v = 0.9·1 + 0.1·(0.5 + 0.01·2) = 0.952 and w = 2 - 0.952 = 1.048; a bias
// (no decay) with the same numbers gets v = 0.95, w = 1.05. (Vectors of two
// equal entries: gorgonia takes a one-element vector for a scalar.)
func TestSGDStep(t *testing.T) {
	g := G.NewGraph()
	w := G.NewVector(g, tensor.Float64, G.WithShape(2), G.WithName("fc1.weight"), G.WithValue(tensor.New(tensor.WithBacking([]float64{2, 2}))))
	b := G.NewVector(g, tensor.Float64, G.WithShape(2), G.WithName("fc1.bias"), G.WithValue(tensor.New(tensor.WithBacking([]float64{2, 2}))))
	cost, err := G.Sum(G.Must(G.Add(G.Must(G.Mul(w, G.NewConstant(0.5))), G.Must(G.Mul(b, G.NewConstant(0.5))))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(cost, w, b); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g, G.BindDualValues(w, b))
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	s := NewSGD([]graph.Param{{Name: "fc1.weight", Node: w, Decay: true}, {Name: "fc1.bias", Node: b}}, 0.1, 0.9, 0.01)
	copy(s.Velocity("fc1.weight").Data().([]float64), []float64{1, 1})
	copy(s.Velocity("fc1.bias").Data().([]float64), []float64{1, 1})
	if err := s.Step(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		node *G.Node
		v, w float64
	}{{"fc1.weight", w, 0.952, 1.048}, {"fc1.bias", b, 0.95, 1.05}} {
		for i := 0; i < 2; i++ {
			gotW := c.node.Value().Data().([]float64)[i]
			gotV := s.Velocity(c.name).Data().([]float64)[i]
			if math.Abs(gotW-c.w) > 1e-12 || math.Abs(gotV-c.v) > 1e-12 {
				t.Errorf("%s[%d]: w %v v %v, want w %v v %v", c.name, i, gotW, gotV, c.w, c.v)
			}
			gr, _ := c.node.Grad()
			if gv := gr.Data().([]float64)[i]; gv != 0 {
				t.Errorf("%s[%d]: gradient %v after the step, want 0", c.name, i, gv)
			}
		}
	}
}

func TestLRSchedule(t *testing.T) {
	h := Hyper{LR: 0.1, LRSteps: []int{3, 5}, LRGamma: 0.5}
	for _, c := range []struct {
		epoch int
		want  float64
	}{{1, 0.1}, {2, 0.1}, {3, 0.05}, {4, 0.05}, {5, 0.025}, {9, 0.025}} {
		if got := h.LRAt(c.epoch); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("LRAt(%d) = %v, want %v", c.epoch, got, c.want)
		}
	}
}

func TestShuffleIsAPermutationFixedBySeedAndEpoch(t *testing.T) {
	a, b, c := Shuffle(1, 2, 100), Shuffle(1, 2, 100), Shuffle(1, 3, 100)
	seen := make([]bool, 100)
	for _, i := range a {
		seen[i] = true
	}
	for i, s := range seen {
		if !s {
			t.Fatalf("index %d missing from the permutation", i)
		}
	}
	same := true
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed and epoch gave different orders")
		}
		same = same && a[i] == c[i]
	}
	if same {
		t.Error("epochs 2 and 3 visit the images in the same order")
	}
}

func TestHyperValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(*Hyper)
	}{
		{"batch", func(h *Hyper) { h.Batch = 0 }},
		{"learning", func(h *Hyper) { h.LR = 0 }},
		{"alpha", func(h *Hyper) { h.Alpha = 1.5 }},
		{"lambda", func(h *Hyper) { h.Lambda = -1 }},
		{"dimension", func(h *Hyper) { h.Dim = 0 }},
		{"momentum", func(h *Hyper) { h.Momentum = 1 }},
		{"shift", func(h *Hyper) { h.Shift = 9 }},
	} {
		h := DefaultHyper()
		c.mod(&h)
		err := h.Validate()
		if err == nil || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: error %v should name it", c.name, err)
		}
	}
	if err := DefaultHyper().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// TestTrainingLearns trains for a few epochs on 640 images and checks that
// the loss falls and the test accuracy rises well above chance (0.1), in
// float32 and, where the CPU has bfloat16 units, in bfloat16. The 2-D
// bottleneck makes LeNet++ slow to start, so the bar is modest.
func TestTrainingLearns(t *testing.T) {
	for _, p := range []graph.Precision{graph.F32, graph.BF16} {
		t.Run(string(p), func(t *testing.T) {
			if err := p.Available(); err != nil {
				t.Skipf("no %s here: %v", p, err)
			}
			trainingLearns(t, p)
		})
	}
}

func trainingLearns(t *testing.T, p graph.Precision) {
	trainSet, err := mnist.Load("", "train", 640)
	if err != nil {
		t.Fatal(err)
	}
	testSet, err := mnist.Load("", "test", 300)
	if err != nil {
		t.Fatal(err)
	}
	h := DefaultHyper()
	h.Batch, h.Precision = 32, p
	tr, err := NewTrainer(h, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	before, err := tr.Evaluate(testSet)
	if err != nil {
		t.Fatal(err)
	}
	var first, last EpochResult
	for e := 0; e < 4; e++ {
		r, err := tr.TrainEpoch(context.Background(), trainSet, nil)
		if err != nil {
			t.Fatal(err)
		}
		if e == 0 {
			first = r
		}
		last = r
	}
	after, err := tr.Evaluate(testSet)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %.3f -> %.3f, test acc %.3f -> %.3f, intra/inter %.3f -> %.3f",
		first.Loss, last.Loss, before.Acc, after.Acc, before.Intra/before.Inter, after.Intra/after.Inter)
	if !(last.Loss < 0.8*first.Loss) {
		t.Errorf("loss went from %.3f to %.3f; expected it to fall", first.Loss, last.Loss)
	}
	if after.Acc < 0.35 {
		t.Errorf("test accuracy %.3f after 4 epochs on 640 images; expected at least 0.35", after.Acc)
	}
	if tr.Epoch != 4 || tr.Step != 4*(640/32) {
		t.Errorf("epoch %d step %d, want 4 and %d", tr.Epoch, tr.Step, 4*(640/32))
	}
	if len(after.Features) != testSet.N*h.Dim || len(after.Predicted) != testSet.N {
		t.Errorf("evaluation returned %d feature values and %d predictions", len(after.Features), len(after.Predicted))
	}
}

// TestEvaluateLeavesTrainingAlone: evaluating between two steps must not
// change what the next step computes.
func TestEvaluateLeavesTrainingAlone(t *testing.T) {
	ds, err := mnist.Load("", "test", 130)
	if err != nil {
		t.Fatal(err)
	}
	h := DefaultHyper()
	h.Batch = 8
	run := func(evaluate bool) StepResult {
		tr, err := NewTrainer(h, tensor.Float64)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		if _, err := tr.TrainStep(ds.Images(0, 8), ds.Labels[:8]); err != nil {
			t.Fatal(err)
		}
		if evaluate {
			if _, err := tr.Evaluate(ds); err != nil {
				t.Fatal(err)
			}
		}
		r, err := tr.TrainStep(ds.Images(8, 16), ds.Labels[8:16])
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if a, b := run(false), run(true); a != b {
		t.Errorf("second step without evaluation %+v, with evaluation %+v", a, b)
	}
}

// TestDivergenceIsReported: an absurd learning rate makes the loss or the
// weights non-finite, and the step says so instead of training on.
func TestDivergenceIsReported(t *testing.T) {
	ds, err := mnist.Load("", "train", 256)
	if err != nil {
		t.Fatal(err)
	}
	h := DefaultHyper()
	h.Batch, h.LR = 32, 1e12
	tr, err := NewTrainer(h, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for e := 0; e < 5; e++ {
		if _, err = tr.TrainEpoch(context.Background(), ds, nil); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrDiverged) {
		t.Fatalf("error %v, want a divergence error", err)
	}
	if !strings.Contains(err.Error(), "epoch") || !strings.Contains(err.Error(), "step") {
		t.Errorf("error %q should name the epoch and step", err)
	}
}

// TestConcurrentTrainersMatchSequential trains two networks at once in one
// process, each in its own goroutine, and checks that both end with exactly
// the weights they reach when trained one after the other: networks share
// no working memory.
func TestConcurrentTrainersMatchSequential(t *testing.T) {
	ds, err := mnist.Load("", "train", 128)
	if err != nil {
		t.Fatal(err)
	}
	hypers := []Hyper{DefaultHyper(), DefaultHyper()}
	hypers[0].Batch, hypers[1].Batch, hypers[1].Seed = 32, 32, 7
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		train := func(h Hyper) ([]float64, error) {
			tr, err := NewTrainer(h, dt)
			if err != nil {
				return nil, err
			}
			defer tr.Close()
			if _, err := tr.TrainEpoch(context.Background(), ds, nil); err != nil {
				return nil, err
			}
			var w []float64
			for _, p := range tr.Net.Params {
				w = append(w, tensorValues(p.Node.Value())...)
			}
			return w, nil
		}
		var seq [2][]float64
		for i, h := range hypers {
			if seq[i], err = train(h); err != nil {
				t.Fatal(err)
			}
		}
		var conc [2][]float64
		var errs [2]error
		var wg sync.WaitGroup
		for i, h := range hypers {
			wg.Go(func() { conc[i], errs[i] = train(h) })
		}
		wg.Wait()
		for i := range hypers {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if !slices.Equal(seq[i], conc[i]) {
				t.Errorf("%v, network %d: the weights trained concurrently differ from those trained alone", dt, i)
			}
		}
	}
}

// tensorValues returns a float tensor's entries as float64s.
func tensorValues(v any) []float64 {
	switch d := v.(*tensor.Dense).Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return slices.Clone(d)
	}
	return nil
}

// TestFitCallsHooks: Fit calls Progress after every step and Epoch after
// every epoch, in order, and stops at the first error an Epoch hook returns.
func TestFitCallsHooks(t *testing.T) {
	ds, err := mnist.Load("", "train", 128)
	if err != nil {
		t.Fatal(err)
	}
	test, err := mnist.Load("", "test", 100)
	if err != nil {
		t.Fatal(err)
	}
	h := DefaultHyper()
	h.Batch = 32
	tr, err := NewTrainer(h, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var steps []string
	var epochs []int
	stop := errors.New("stop")
	err = tr.Fit(context.Background(), ds, test, 3, Hooks{
		Progress: func(epoch, step, n int, _ StepResult) { steps = append(steps, fmt.Sprintf("%d.%d/%d", epoch, step, n)) },
		Epoch: func(r EpochReport) error {
			epochs = append(epochs, r.Epoch)
			if r.Train.Images != 128 || len(r.Test.Predicted) != 100 || r.TrainSeconds <= 0 || r.Seconds < r.TrainSeconds {
				t.Errorf("epoch %d: report %+v", r.Epoch, r.Metrics)
			}
			if r.Epoch == 2 {
				return stop
			}
			return nil
		},
	})
	if !errors.Is(err, stop) {
		t.Errorf("Fit returned %v, want the hook's error", err)
	}
	if want := "1.1/4 1.2/4 1.3/4 1.4/4 2.1/4 2.2/4 2.3/4 2.4/4"; strings.Join(steps, " ") != want {
		t.Errorf("progress calls %v, want %s", steps, want)
	}
	if !slices.Equal(epochs, []int{1, 2}) || tr.Epoch != 2 {
		t.Errorf("epoch hooks %v with the trainer at epoch %d, want [1 2] and 2", epochs, tr.Epoch)
	}
}

// TestFlipImage mirrors a 28×28 image whose pixel (r, c) holds 100r + c.
func TestFlipImage(t *testing.T) {
	im := make([]float32, graph.Rows*graph.Cols)
	for r := range graph.Rows {
		for c := range graph.Cols {
			im[r*graph.Cols+c] = float32(100*r + c)
		}
	}
	flipImage(im)
	for r := range graph.Rows {
		for c := range graph.Cols {
			if got, want := im[r*graph.Cols+c], float32(100*r+graph.Cols-1-c); got != want {
				t.Fatalf("pixel (%d, %d) = %v, want %v", r, c, got, want)
			}
		}
	}
}

// TestHyperChangesTakeEffect: Lambda set on a trainer weighs the next
// step's loss, and a batch size other than the graphs' is refused.
func TestHyperChangesTakeEffect(t *testing.T) {
	h := DefaultHyper()
	h.Batch = 4
	tr, err := NewTrainer(h, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	images := make([]float32, 4*graph.Rows*graph.Cols)
	for i := range images {
		images[i] = float32(i%29) / 29
	}
	labels := []int{0, 1, 2, 3}
	// Centers at zero and features away from them: the center loss is positive.
	for _, lambda := range []float64{0.5, 0, 2} {
		tr.Lambda = lambda
		r, err := tr.TrainStep(images, labels)
		if err != nil {
			t.Fatal(err)
		}
		if r.Center <= 0 || math.Abs(r.Loss-(r.Softmax+lambda*r.Center)) > 1e-12*r.Loss {
			t.Errorf("lambda %g: loss %v, softmax %v, center %v", lambda, r.Loss, r.Softmax, r.Center)
		}
	}
	tr.Batch = 8
	if _, err := tr.TrainStep(make([]float32, 8*graph.Rows*graph.Cols), make([]int, 8)); err == nil || !strings.Contains(err.Error(), "build a new trainer") {
		t.Errorf("a changed batch size: %v", err)
	}
}

// TestMetricsLine: the epoch line shows the learning rate and the speed
// only when they are known.
func TestMetricsLine(t *testing.T) {
	m := Metrics{Epoch: 3, TrainLoss: 1.23456, SoftmaxLoss: 1, CenterLoss: 2.5, TrainAcc: 0.5, TestAcc: 0.75,
		Intra: 0.5, Inter: 2, Seconds: 12.4}
	want := "epoch 3/5  loss 1.2346 (softmax 1.0000, center 2.5000)  train acc 0.5000  test acc 0.7500  intra 0.500  inter 2.000"
	if got := m.Line(5); got != want+"  12s" {
		t.Errorf("Line = %q", got)
	}
	m.LR, m.ImagesPerSecond = 0.002, 512.6
	if got := m.Line(5); got != want+"  lr 0.002  12s  513 img/s" {
		t.Errorf("Line = %q", got)
	}
}
