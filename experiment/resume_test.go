package experiment

import (
	"bytes"
	"context"
	"errors"
	"github.com/centerloss-go/centerloss/train"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/graph"
	"github.com/centerloss-go/centerloss/mnist"
	"github.com/centerloss-go/centerloss/verify"
)

// TestRunResumeMatchesUninterrupted: a 2-epoch run, and a 1-epoch run
// resumed for one more, end with byte-identical checkpoints (weights,
// centers, momentum, position) and the same metrics; loading that
// checkpoint gives back the final test accuracy.
func TestRunResumeMatchesUninterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("trains four short epochs")
	}
	base := func(epochs int, out string) Options {
		o := Options{Hyper: train.DefaultHyper(), Epochs: epochs, Out: out, TrainLimit: 192, TestLimit: 100}
		o.Batch, o.Shift, o.Flip = 32, 2, true // shifted and mirrored images must repeat on resuming too
		return o
	}
	whole, parts := filepath.Join(t.TempDir(), "whole"), filepath.Join(t.TempDir(), "parts")
	sw, err := Run(context.Background(), base(2, whole))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), base(1, parts)); err != nil {
		t.Fatal(err)
	}
	// What a run killed while writing leaves behind; the next run clears it.
	stale := filepath.Join(parts, "."+CheckpointFile+".tmp123")
	if err := os.WriteFile(stale, []byte("torn"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := base(2, parts)
	o.Resume = filepath.Join(parts, CheckpointFile)
	sp, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file %s still there (%v)", stale, err)
	}
	var ue *UsageError
	if _, err := Run(context.Background(), o); !errors.As(err, &ue) || ue.Option != "Epochs" {
		t.Errorf("resuming a 2-epoch checkpoint for 2 epochs: %v, want a usage error naming Epochs", err)
	}
	a, _ := os.ReadFile(filepath.Join(whole, CheckpointFile))
	b, _ := os.ReadFile(filepath.Join(parts, CheckpointFile))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("the resumed run's checkpoint differs from the uninterrupted run's")
	}
	if len(sw.History) != 2 || len(sp.History) != 2 {
		t.Fatalf("histories of %d and %d epochs, want 2 and 2", len(sw.History), len(sp.History))
	}
	for i := range sw.History {
		w, p := sw.History[i], sp.History[i]
		w.Seconds, p.Seconds, w.ImagesPerSecond, p.ImagesPerSecond = 0, 0, 0, 0
		if w != p {
			t.Errorf("epoch %d metrics: uninterrupted %+v, resumed %+v", i+1, w, p)
		}
	}
	tr, err := train.LoadCheckpoint(filepath.Join(parts, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	test, err := mnist.Load("", "test", 100)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := tr.Evaluate(test)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Acc != sp.Final.TestAcc {
		t.Errorf("loaded checkpoint scores %v, the run reported %v", ev.Acc, sp.Final.TestAcc)
	}
	// The summary's verification is the pairs' scores from these features.
	pairs, err := verify.Pairs(test.Labels, 100*99/40, 100*99/40, verify.Seed)
	if err != nil {
		t.Fatal(err)
	}
	same := make([]bool, len(pairs))
	for i, p := range pairs {
		same[i] = p.Same
	}
	for _, c := range []struct {
		name   string
		scores []float64
		got    verify.Result
	}{
		{"cosine", verify.CosineScores(ev.Features, tr.Dim, pairs), sp.Verification},
		{"distance", verify.DistanceScores(ev.Features, tr.Dim, pairs), sp.VerificationEuclidean},
	} {
		want, err := verify.Verify(c.scores, same, verify.Folds)
		if err != nil {
			t.Fatal(err)
		}
		if c.got != want || want.AUC <= 0.5 {
			t.Errorf("%s verification: the run reported %+v, the checkpoint's features give %+v", c.name, c.got, want)
		}
	}
	// And its verification of the pairs classified right, those pairs'
	// cosine scores.
	var rs []float64
	var rsame []bool
	for _, p := range pairs {
		if ev.Predicted[p.A] == test.Labels[p.A] && ev.Predicted[p.B] == test.Labels[p.B] {
			rs = append(rs, verify.CosineScores(ev.Features, tr.Dim, []verify.Pair{p})[0])
			rsame = append(rsame, p.Same)
		}
	}
	if sp.CorrectPairs != len(rs) {
		t.Errorf("the run reported %d pairs classified right, the checkpoint gives %d", sp.CorrectPairs, len(rs))
	}
	// After this short a run they may hold one kind of pair only.
	if want, err := verify.Verify(rs, rsame, verify.Folds); err != nil {
		if sp.VerificationCorrect != nil {
			t.Errorf("the run verified the pairs classified right (%+v), but they cannot be: %v", *sp.VerificationCorrect, err)
		}
	} else if sp.VerificationCorrect == nil || *sp.VerificationCorrect != want {
		t.Errorf("verification of the pairs classified right: the run reported %+v, the checkpoint gives %+v", sp.VerificationCorrect, want)
	}
}

// TestResumeInAnotherPrecision: a checkpoint holds no precision, so a run
// trained in float32 resumes in bfloat16 (and the summary says so), and
// -eval of the result runs in either.
func TestResumeInAnotherPrecision(t *testing.T) {
	if err := graph.BF16.Available(); err != nil {
		t.Skipf("no bf16 here: %v", err)
	}
	out := t.TempDir()
	o := Options{Hyper: train.DefaultHyper(), Epochs: 1, Out: out, TrainLimit: 192, TestLimit: 100}
	o.Batch = 32
	s1, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	o.Epochs, o.Resume, o.Precision = 2, filepath.Join(out, CheckpointFile), graph.BF16
	s2, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if s1.Hyper.Precision != graph.F32 || !strings.Contains(s1.Kernels, "float32") {
		t.Errorf("first run: precision %q, kernels %q", s1.Hyper.Precision, s1.Kernels)
	}
	if s2.Hyper.Precision != graph.BF16 || !strings.Contains(s2.Kernels, "bfloat16") || len(s2.History) != 2 {
		t.Errorf("resumed run: precision %q, kernels %q, %d epochs", s2.Hyper.Precision, s2.Kernels, len(s2.History))
	}
	for _, p := range []graph.Precision{graph.F32, graph.BF16} {
		e := Options{Out: t.TempDir(), TestLimit: 100}
		e.Precision = p
		r, _, err := Evaluate(e, o.Resume)
		if err != nil {
			t.Fatalf("-eval in %s: %v", p, err)
		}
		if math.Abs(r.Acc-s2.Final.TestAcc) > 0.05 {
			t.Errorf("-eval in %s: test accuracy %.3f, the run ended at %.3f", p, r.Acc, s2.Final.TestAcc)
		}
	}
}

// TestInterruptedEpochReportsAllSteps: an epoch interrupted part-way, saved,
// loaded and finished reports the same means (losses and training
// accuracy) as the same epoch run without a stop, and the checkpoint of an
// epoch's end carries no sums into the next.
func TestInterruptedEpochReportsAllSteps(t *testing.T) {
	ds, err := mnist.Load("", "train", 320)
	if err != nil {
		t.Fatal(err)
	}
	h := train.DefaultHyper()
	h.Batch = 32
	whole, err := train.NewTrainer(h, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close()
	want, err := whole.TrainEpoch(context.Background(), ds, nil)
	if err != nil {
		t.Fatal(err)
	}

	part, err := train.NewTrainer(h, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer part.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := part.TrainEpoch(ctx, ds, func(step, _ int, _ train.StepResult) {
		if step == 4 {
			cancel()
		}
	}); !errors.Is(err, train.ErrInterrupted) {
		t.Fatalf("interrupted epoch: %v", err)
	}
	path := filepath.Join(t.TempDir(), CheckpointFile)
	if err := train.SaveCheckpoint(path, part); err != nil {
		t.Fatal(err)
	}
	resumed, err := train.LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Close()
	if resumed.Sums != part.Sums || resumed.Sums.Steps != 4 {
		t.Fatalf("sums after loading %+v, saved %+v", resumed.Sums, part.Sums)
	}
	got, err := resumed.TrainEpoch(context.Background(), ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Loss != want.Loss || got.Softmax != want.Softmax || got.Center != want.Center || got.Acc != want.Acc {
		t.Errorf("resumed epoch %+v, uninterrupted %+v", got, want)
	}
	if got.Images != 6*32 || want.Images != 10*32 {
		t.Errorf("images trained by the calls: %d and %d, want 192 and 320", got.Images, want.Images)
	}
	if resumed.Sums != (train.EpochSums{}) {
		t.Errorf("sums after the epoch's end %+v, want none", resumed.Sums)
	}
}
