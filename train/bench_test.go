package train

import (
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/centerloss-go/centerloss/graph"
	"github.com/centerloss-go/centerloss/mnist"

	"gorgonia.org/tensor"
)

// BenchmarkTrainStep measures one full training step of LeNet++ (D = 2,
// batch 64, float32, center loss on, SGD step and center update included).
func BenchmarkTrainStep(b *testing.B) { benchTrainStep(b, DefaultHyper().Batch, graph.F32) }

// BenchmarkTrainStepBF16 is BenchmarkTrainStep with the convolutional trunk
// in bfloat16, on CPUs with bfloat16 units.
func BenchmarkTrainStepBF16(b *testing.B) {
	// With the library CENTERLOSS_ONEDNN names: a process opens one oneDNN.
	cfg := graph.DefaultConfig()
	cfg.Precision, cfg.OneDNN = graph.BF16, os.Getenv("CENTERLOSS_ONEDNN")
	if err := cfg.Available(); err != nil {
		b.Skip(err)
	}
	benchTrainStep(b, DefaultHyper().Batch, graph.BF16)
}

// BenchmarkAllocsByBatch runs the same step at several batch sizes, to show
// that the allocations per step do not grow with the batch.
func BenchmarkAllocsByBatch(b *testing.B) {
	for _, n := range []int{16, 64, 256} {
		b.Run(fmt.Sprintf("batch%d", n), func(b *testing.B) { benchTrainStep(b, n, graph.F32) })
	}
}

// benchTrainStep times training steps; CENTERLOSS_BLAS names the backend
// and CENTERLOSS_ONEDNN the oneDNN library, as for the commands.
func benchTrainStep(b *testing.B, batch int, p graph.Precision) {
	h := DefaultHyper()
	h.Batch, h.Precision, h.OneDNN = batch, p, os.Getenv("CENTERLOSS_ONEDNN")
	var err error
	if h.Backend, err = graph.ParseBackend(os.Getenv("CENTERLOSS_BLAS")); err != nil {
		b.Fatal(err)
	}
	t, err := NewTrainer(h, tensor.Float32)
	if err != nil {
		b.Fatal(err)
	}
	defer t.Close()
	b.Logf("Layers: %s; BLAS: %s", t.Net.Kernels(), t.Net.BLAS())
	ds, err := mnist.Load("", "test", h.Batch)
	if err != nil {
		b.Fatal(err)
	}
	images, labels := ds.Images(0, h.Batch), ds.Labels[:h.Batch]
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
