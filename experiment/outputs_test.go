package experiment

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/centerloss-go/centerloss/checkpoint"
	"github.com/centerloss-go/centerloss/train"
)

// TestOutputs runs outputs in order, stops at the first error, and keeps
// the history a run's summary reads.
func TestOutputs(t *testing.T) {
	var order []string
	out := func(name string, err error) Output {
		return func(train.EpochReport) error { order = append(order, name); return err }
	}
	stop := errors.New("stop")
	if err := Outputs(out("a", nil), out("b", stop), out("c", nil))(train.EpochReport{}); err != stop {
		t.Errorf("error %v, want the second output's", err)
	}
	if strings.Join(order, "") != "ab" {
		t.Errorf("ran %v, want a then b", order)
	}

	h := &History{Metrics: []train.Metrics{{Epoch: 1}}}
	var lines strings.Builder
	hook := Outputs(h.Record, LogLine(&lines, 3))
	for e := 2; e <= 3; e++ {
		r := train.EpochReport{Metrics: train.Metrics{Epoch: e, TestAcc: 0.5}, TrainSeconds: 2}
		r.Train.Images = 64
		if err := hook(r); err != nil {
			t.Fatal(err)
		}
	}
	if len(h.Metrics) != 3 || h.Metrics[2].Epoch != 3 || h.Images != 128 || h.TrainSeconds != 4 {
		t.Errorf("history %+v", h)
	}
	if !strings.HasPrefix(lines.String(), "epoch 2/3  ") || strings.Count(lines.String(), "\n") != 2 {
		t.Errorf("log lines %q", lines.String())
	}
}

// TestOverwriteInterrupted: a run that replaces another and is stopped in
// its first epoch saves its checkpoint in place of the old run's and takes
// the old run's other files with it, so that the folder holds one run,
// which -resume continues.
func TestOverwriteInterrupted(t *testing.T) {
	out := t.TempDir()
	o := Options{Hyper: train.DefaultHyper(), Epochs: 1, TrainLimit: 128, TestLimit: 100, Out: out}
	o.Batch = 32
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(filepath.Join(out, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}

	o.Overwrite, o.Epochs = true, 2
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // stopped before its first step
	_, err = Run(ctx, o)
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.Epoch != 1 || ie.Step != 0 {
		t.Fatalf("interrupted run: %v", err)
	}
	for _, f := range []string{MetricsFile, SummaryFile, CurvesFile, AnimationFile, FeaturesCSV, filepath.Join(PlotsDir, "test_epoch_001.png")} {
		if _, err := os.Stat(filepath.Join(out, f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the old run's %s is still there (%v)", f, err)
		}
	}
	c, err := checkpoint.ReadFile(ie.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if now, _ := os.ReadFile(ie.Checkpoint); bytes.Equal(now, old) || c.Epoch != 0 || c.Step != 0 {
		t.Errorf("checkpoint at epoch %d, step %d; want the new run's, at 0 and 0", c.Epoch, c.Step)
	}

	o.Overwrite, o.Resume = false, ie.Checkpoint
	s, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.History) != 2 {
		t.Errorf("resumed run reports %d epochs, want 2", len(s.History))
	}
}
