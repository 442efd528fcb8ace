package train

import (
	"context"
	"errors"
	"math"
	"regexp"
	"runtime"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/graph"
	"github.com/centerloss-go/centerloss/mnist"
)

// divergedRE is what a divergence error says: where, and which quantity.
var divergedRE = regexp.MustCompile(`^training diverged at epoch \d+, step \d+: ` +
	`(the (softmax |center )?loss is (NaN|[+-]Inf)|sgd: \S+: (gradient entry \d+ is|weight entry \d+ became) (NaN|[+-]Inf))`)

// TestDivergedStepChangesNothing: a step whose loss is not finite stops at
// once with a *DivergedError naming epoch, step and quantity, and leaves the
// weights, momentum, centers and position as they were.
func TestDivergedStepChangesNothing(t *testing.T) {
	ds, err := mnist.Load("", "test", 8)
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
	ds, err := mnist.Load("", "train", 64)
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
