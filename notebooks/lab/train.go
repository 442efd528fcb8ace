package lab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/internal/blas"
	"github.com/centerloss-go/centerloss/mnist"
	"github.com/centerloss-go/centerloss/train"
)

// Hyper are the hyperparameters of a training run (train.Hyper): batch
// size, learning rate and its schedule, momentum, weight decay, Lambda (the
// weight of center loss), Alpha (the center learning rate), Dim (the size of
// the deep feature) and Seed.
type Hyper = train.Hyper

// Trainer is LeNet++ being trained with softmax + center loss (train.Trainer).
// TrainEpoch trains for one epoch, Evaluate measures a data set, Centers holds
// the class centers and Close releases it.
type Trainer = train.Trainer

// Dataset is a set of MNIST images, scaled, with their labels (mnist.Dataset).
type Dataset = mnist.Dataset

// StepResult is what one training step reports (train.StepResult).
type StepResult = train.StepResult

// EpochResult sums up one training epoch (train.EpochResult).
type EpochResult = train.EpochResult

// EvalResult is the network measured on a data set (train.EvalResult): the
// accuracy, the losses, the intra-class and inter-center distances and the
// deep features of every image.
type EvalResult = train.EvalResult

// ModulePath is the path of this Go module; RepoRoot looks for its go.mod.
const ModulePath = "github.com/centerloss-go/centerloss"

// DefaultCheckpoint is where `go run ./cmd/train`, run from the repository
// root, writes its checkpoint, and DefaultSoftmaxCheckpoint where
// `go run ./cmd/train -lambda 0 -out runs/softmax` writes its own: the same
// training with softmax alone.
const (
	DefaultCheckpoint        = "runs/default/checkpoint.safetensors"
	DefaultSoftmaxCheckpoint = "runs/softmax/checkpoint.safetensors"
)

// DefaultHyper returns the trainer's default hyperparameters (those of
// `go run ./cmd/train`): batch 64, SGD with learning rate 0.02 (a tenth of
// it from epoch 4), momentum 0.9, weight decay 5e-4, lambda 0.1, alpha 0.5,
// 2-D features.
func DefaultHyper() Hyper { return train.DefaultHyper() }

// NewTrainer builds LeNet++ (training and evaluation graphs, float32) with
// freshly initialised weights and zero centers.
func NewTrainer(h Hyper) (*Trainer, error) { return train.NewTrainer(h, tensor.Float32) }

// LoadMNIST loads the first limit images (all if limit is 0) of the MNIST
// "train" or "test" set, from the copy shipped with the GoMNIST module.
func LoadMNIST(set string, limit int) (*Dataset, error) { return mnist.Load("", set, limit) }

// LoadCheckpoint rebuilds the trainer saved in a checkpoint file, with its
// weights, centers and hyperparameters.
func LoadCheckpoint(path string) (*Trainer, error) { return train.LoadCheckpoint(path) }

// BLAS names the matrix library of the ops built outside a network:
// OpenBLAS when it is installed (much faster), else gonum's pure-Go BLAS. A
// trainer's Net.Kernels and Net.BLAS say what runs its layers.
func BLAS() string { return blas.Default().Name() }

// Progress returns a callback for Trainer.TrainEpoch that writes to w, every
// `every` steps and at the last step, the step number, the running mean loss
// and training accuracy and the speed in images per second (train.Progress
// without the epoch). batch is the trainer's batch size.
func Progress(w io.Writer, batch, every int) func(step, steps int, r StepResult) {
	p := train.Progress(w, batch, every)
	return func(step, steps int, r StepResult) { p(0, step, steps, r) }
}

// EpochLine is the one-line summary of an epoch that Train prints: the
// trainer's (train.Metrics.Line), without the learning rate and speed.
func EpochLine(epoch, epochs int, e EpochResult, ev EvalResult, seconds float64) string {
	return train.Metrics{Epoch: epoch, TrainLoss: e.Loss, SoftmaxLoss: e.Softmax, CenterLoss: e.Center, TrainAcc: e.Acc,
		TestAcc: ev.Acc, Intra: ev.Intra, Inter: ev.Inter, Seconds: seconds}.Line(epochs)
}

// Train trains t for epochs more epochs on trainSet with train's loop
// (Trainer.Fit), evaluating on testSet after each, and writes an EpochLine
// per epoch to log (nil: nothing). It returns the evaluation after the last
// epoch.
func Train(t *Trainer, trainSet, testSet *Dataset, epochs int, log io.Writer) (EvalResult, error) {
	var ev EvalResult
	if log == nil {
		log = io.Discard
	}
	if epochs < 1 {
		return ev, fmt.Errorf("lab: train for %d epochs", epochs)
	}
	first := t.Epoch
	err := t.Fit(context.Background(), trainSet, testSet, first+epochs, train.Hooks{
		Epoch: func(r train.EpochReport) error {
			ev = r.Test
			fmt.Fprintln(log, EpochLine(r.Epoch-first, epochs, r.Train, r.Test, r.Seconds))
			return nil
		},
	})
	return ev, err
}

// RepoRoot returns the root of the checkout of this module that contains the
// current directory: the nearest parent folder whose go.mod declares
// ModulePath.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if declaresModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("lab: no go.mod of %s above the current directory", ModulePath)
		}
		dir = parent
	}
}

func declaresModule(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == ModulePath
		}
	}
	return false
}

// CheckpointPath returns the checkpoint the notebooks show: the value of
// CheckpointEnv if set, else DefaultCheckpoint under RepoRoot (or relative to
// the current directory when no checkout is found).
func CheckpointPath() string { return repoPath(CheckpointEnv, DefaultCheckpoint) }

// SoftmaxCheckpointPath returns the softmax-only checkpoint the comparison
// notebook shows next to CheckpointPath's: the value of SoftmaxCheckpointEnv
// if set, else DefaultSoftmaxCheckpoint under RepoRoot.
func SoftmaxCheckpointPath() string { return repoPath(SoftmaxCheckpointEnv, DefaultSoftmaxCheckpoint) }

// repoPath returns the value of the environment variable env, or the
// slash-separated path rel under RepoRoot.
func repoPath(env, rel string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	root, err := RepoRoot()
	if err != nil {
		return filepath.FromSlash(rel)
	}
	return filepath.Join(root, filepath.FromSlash(rel))
}

// FileExists reports whether path names an existing regular file.
func FileExists(path string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	return fi.Mode().IsRegular()
}
