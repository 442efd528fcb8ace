package train

import (
	"runtime"
	"testing"

	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/graph"
)

// BenchmarkTrainStep measures one full training step of LeNet++ (D = 2,
// batch 64, float32, center loss on, SGD step and center update included).
func BenchmarkTrainStep(b *testing.B) {
	h := DefaultHyper()
	t, err := NewTrainer(h, tensor.Float32)
	if err != nil {
		b.Fatal(err)
	}
	defer t.Close()
	ds, err := LoadMNIST("", "test", h.Batch)
	if err != nil {
		b.Fatal(err)
	}
	const px = graph.Rows * graph.Cols
	images, labels := make([]float32, h.Batch*px), ds.Labels[:h.Batch]
	for i := range h.Batch {
		ds.Image(i, images[i*px:])
	}
	if _, err := t.TrainStep(images, labels); err != nil { // warm-up: buffers are allocated on the first step
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := t.TrainStep(images, labels); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.N*h.Batch)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "allocs/step")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N), "B/step")
}
