package train

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/centerloss-go/centerloss/mnist"
	"gorgonia.org/tensor"
)

// TestHeapStaysFlat trains 300 steps the way a run does (epochs over a
// subset, an evaluation and a checkpoint after each) and fails if the live
// heap grows by more than 1 MiB between step 50 and step 300. Both
// measurements are taken at the end of an epoch's last step.
func TestHeapStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 300 steps")
	}
	const batch, images, from, to = 2, 100, 50, 300 // 50 steps an epoch
	trainSet, err := mnist.Load("", "train", images)
	if err != nil {
		t.Fatal(err)
	}
	testSet, err := mnist.Load("", "test", 100)
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
	ckpt := filepath.Join(t.TempDir(), "checkpoint.safetensors")
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
	trainSet, err := mnist.Load("", "train", 640)
	if err != nil {
		b.Fatal(err)
	}
	testSet, err := mnist.Load("", "test", 100)
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
