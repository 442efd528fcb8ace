package experiment

import (
	"errors"
	"strings"
	"testing"

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
