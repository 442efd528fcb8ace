package checkpoint_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/checkpoint"
)

// A checkpoint written and read back: its own metadata comes back typed,
// other keys (the hyperparameters, which package train defines) as text,
// the tensors by name. Package train builds one from a trainer
// (Trainer.Checkpoint) and restores a trainer from one (LoadCheckpoint).
func Example() {
	dir, err := os.MkdirTemp("", "checkpoint")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "checkpoint.safetensors")

	c := &checkpoint.Checkpoint{
		Version: checkpoint.Version, Dtype: tensor.Float32, Classes: 10, Epoch: 2, Step: 1874, LR: 0.02,
		Metadata: map[string]string{"lambda": "0.1", "lr_steps": "4"},
		Tensors: map[string]*checkpoint.Tensor{
			"fc2.weight":                             {Shape: []int{10, 2}, Data: make([]float32, 20)},
			checkpoint.MomentumPrefix + "fc2.weight": {Shape: []int{10, 2}, Data: make([]float32, 20)},
			checkpoint.Centers:                       {Shape: []int{10, 2}, Data: make([]float32, 20)},
		},
	}
	if err := checkpoint.WriteFile(path, c); err != nil {
		log.Fatal(err)
	}
	back, err := checkpoint.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("epoch %d, step %d, lambda %s, lr steps %s\n", back.Epoch, back.Step, back.Metadata["lambda"], back.Metadata["lr_steps"])
	fmt.Println("centers", checkpoint.FormatShape(back.Tensors[checkpoint.Centers].Shape), back.Metadata["model"])

	// A damaged file is refused, naming the file and the damage.
	if err := os.Truncate(path, 100); err != nil {
		log.Fatal(err)
	}
	_, err = checkpoint.ReadFile(path)
	fmt.Println(strings.Replace(err.Error(), dir, "DIR", 1))
	// Output:
	// epoch 2, step 1874, lambda 0.1, lr steps 4
	// centers (10, 2) LeNet++
	// checkpoint DIR/checkpoint.safetensors: truncated: the header length says 528 bytes of header, but only 92 bytes follow it
}
