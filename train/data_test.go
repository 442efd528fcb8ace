package train_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/mnist"
	"github.com/centerloss-go/centerloss/train"
)

// memData is images already scaled in memory: train.Data and nothing more.
type memData struct {
	rows, cols int
	images     []float32 // n×rows×cols
	labels     []int
}

func (d *memData) Len() int                    { return len(d.labels) }
func (d *memData) ImageSize() (rows, cols int) { return d.rows, d.cols }

func (d *memData) Batch(idx []int, images []float32, labels []int) error {
	px := d.rows * d.cols
	for k, i := range idx {
		if i < 0 || i >= len(d.labels) {
			return fmt.Errorf("image %d of %d", i, len(d.labels))
		}
		copy(images[k*px:(k+1)*px], d.images[i*px:(i+1)*px])
		labels[k] = d.labels[i]
	}
	return nil
}

// inMemory copies ds into a memData.
func inMemory(ds *mnist.Dataset) *memData {
	return &memData{rows: ds.Rows, cols: ds.Cols, images: ds.Images(0, ds.N), labels: slices.Clone(ds.Labels)}
}

// fit trains a fresh trainer for epochs epochs and returns every epoch's
// report.
func fit(t *testing.T, h train.Hyper, trainSet, testSet train.Data, epochs int) []train.EpochReport {
	t.Helper()
	tr, err := train.NewTrainer(h, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var reports []train.EpochReport
	err = tr.Fit(context.Background(), trainSet, testSet, epochs, train.Hooks{Epoch: func(r train.EpochReport) error {
		reports = append(reports, r)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return reports
}

// TestFitOnOtherData: the loop trains on any train.Data as on an
// *mnist.Dataset: the same images through a plain in-memory type give the
// same run, bit for bit.
func TestFitOnOtherData(t *testing.T) {
	trainSet, err := mnist.Load("", "train", 256)
	if err != nil {
		t.Fatal(err)
	}
	testSet, err := mnist.Load("", "test", 150)
	if err != nil {
		t.Fatal(err)
	}
	h := train.DefaultHyper()
	h.Batch = 32
	want := fit(t, h, trainSet, testSet, 2)
	got := fit(t, h, inMemory(trainSet), inMemory(testSet), 2)
	for i := range want {
		w, g := want[i], got[i]
		w.Seconds, w.ImagesPerSecond, g.Seconds, g.ImagesPerSecond = 0, 0, 0, 0
		if g.Metrics != w.Metrics || g.Train != w.Train {
			t.Errorf("epoch %d: %+v %+v, want %+v %+v", i+1, g.Metrics, g.Train, w.Metrics, w.Train)
		}
		if !slices.Equal(g.Test.Features, w.Test.Features) || !slices.Equal(g.Test.Predicted, w.Test.Predicted) {
			t.Errorf("epoch %d: the test features or predictions differ", i+1)
		}
		if !slices.Equal(g.Test.Labels, testSet.Labels) {
			t.Errorf("epoch %d: evaluation labels differ from the data set's", i+1)
		}
	}
	if want[1].TrainLoss >= want[0].TrainLoss {
		t.Errorf("training loss went from %v to %v", want[0].TrainLoss, want[1].TrainLoss)
	}
}

// TestShiftNeedsShiftedData: training with shifts on data that cannot shift
// its images says so before the first step.
func TestShiftNeedsShiftedData(t *testing.T) {
	trainSet, err := mnist.Load("", "train", 64)
	if err != nil {
		t.Fatal(err)
	}
	h := train.DefaultHyper()
	h.Batch, h.Shift = 32, 2
	tr, err := train.NewTrainer(h, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	_, err = tr.TrainEpoch(context.Background(), inMemory(trainSet), nil)
	if err == nil || !strings.Contains(err.Error(), "shift 2 needs data that can shift its images (*train_test.memData has no ShiftedBatch)") {
		t.Fatalf("error %v", err)
	}
	if tr.Step != 0 {
		t.Fatalf("the trainer moved to step %d", tr.Step)
	}
}
