package train_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/mnist"
	"github.com/centerloss-go/centerloss/train"
)

// Two short epochs on 320 MNIST images, with a hook that prints what each
// epoch trained on and a step counter; Run attaches the trainer's files
// the same way.
func ExampleTrainer_Fit() {
	trainSet, err := mnist.Load("", "train", 320)
	if err != nil {
		log.Fatal(err)
	}
	testSet, err := mnist.Load("", "test", 100)
	if err != nil {
		log.Fatal(err)
	}
	h := train.DefaultHyper()
	h.Batch = 32
	t, err := train.NewTrainer(h, tensor.Float32)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	steps := 0
	err = t.Fit(context.Background(), trainSet, testSet, 2, train.Hooks{
		Progress: func(epoch, step, n int, r train.StepResult) { steps++ },
		Epoch: func(r train.EpochReport) error {
			fmt.Printf("epoch %d: %d images at lr %g, %d test images evaluated\n", r.Epoch, r.Train.Images, r.LR, len(r.Test.Predicted))
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(steps, "steps")
	// Output:
	// epoch 1: 320 images at lr 0.02, 100 test images evaluated
	// epoch 2: 320 images at lr 0.02, 100 test images evaluated
	// 20 steps
}

// bars is a synthetic data set held in memory: 28×28 images of a vertical
// bar whose column gives the class, with noise. Implementing train.Data's
// three methods is all it takes to train on it.
type bars struct {
	images []float32
	labels []int
}

func newBars(n int, seed uint64) *bars {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := &bars{images: make([]float32, n*28*28), labels: make([]int, n)}
	for i := range n {
		class := rng.IntN(10)
		b.labels[i] = class
		img := b.images[i*28*28 : (i+1)*28*28]
		for p := range img {
			img[p] = float32(rng.NormFloat64()*0.2) - 1
		}
		for r := 4; r < 24; r++ {
			img[r*28+4+2*class], img[r*28+5+2*class] = 1, 1
		}
	}
	return b
}

func (b *bars) Len() int                    { return len(b.labels) }
func (b *bars) ImageSize() (rows, cols int) { return 28, 28 }

func (b *bars) Batch(idx []int, images []float32, labels []int) error {
	for k, i := range idx {
		copy(images[k*28*28:(k+1)*28*28], b.images[i*28*28:(i+1)*28*28])
		labels[k] = b.labels[i]
	}
	return nil
}

// Training on data other than MNIST: any train.Data will do.
func ExampleData() {
	h := train.DefaultHyper()
	h.Batch = 32
	t, err := train.NewTrainer(h, tensor.Float32)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	var losses []float64
	err = t.Fit(context.Background(), newBars(256, 1), newBars(100, 2), 2, train.Hooks{
		Epoch: func(r train.EpochReport) error {
			losses = append(losses, r.TrainLoss)
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(losses), "epochs; the loss fell:", losses[1] < losses[0])
	// Output:
	// 2 epochs; the loss fell: true
}

// A command line's flags from the table of hyperparameters: each named,
// explained and checked once.
func ExampleParams() {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	h := train.DefaultHyper()
	for _, p := range train.Params() {
		fs.Func(p.Name, p.Usage, func(s string) error { return p.Parse(&h, s) })
	}
	if err := fs.Parse([]string{"-lr", "0.05", "-lr-steps", "3,5", "-alpha", "2"}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(h.LR, h.LRSteps, h.Batch)

	var he *train.HyperError
	if err := h.Validate(); errors.As(err, &he) {
		fmt.Printf("-%s: %v\n", he.Param.Name, err)
	}
	// Output:
	// 0.05 [3 5] 64
	// -alpha: alpha 2 must be in [0, 1]
}
