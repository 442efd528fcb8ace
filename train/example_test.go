package train_test

import (
	"context"
	"fmt"
	"log"

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
