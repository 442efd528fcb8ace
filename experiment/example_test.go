package experiment_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/centerloss-go/centerloss/experiment"
	"github.com/centerloss-go/centerloss/train"
)

// A run of one short epoch on 128 MNIST images, and the files it writes.
func ExampleRun() {
	dir, err := os.MkdirTemp("", "run")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	o := experiment.Options{Hyper: train.DefaultHyper(), Epochs: 1, TrainLimit: 128, TestLimit: 100, Out: dir}
	o.Batch = 32
	s, err := experiment.Run(context.Background(), o)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(s.History), "epoch on", s.TrainImages, "images; classes", s.Classes[0], "to", s.Classes[9])
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		fmt.Println(filepath.Base(f))
	}
	// Output:
	// 1 epoch on 128 images; classes 0 to 9
	// checkpoint.safetensors
	// curves.png
	// features_test.csv
	// features_test.gif
	// features_test.npy
	// labels_test.npy
	// metrics.csv
	// plots
	// summary.json
}
