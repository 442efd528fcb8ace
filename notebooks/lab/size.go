package lab

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Environment variables that size the notebook runs.
const (
	// QuickEnv, set to 1 (or true, yes, on), shrinks every run to a smoke
	// test of a few seconds: a few hundred images, one epoch.
	QuickEnv = "CENTERLOSS_NOTEBOOK_QUICK"
	// TrainEnv sets the number of training images, overriding the default
	// or quick value.
	TrainEnv = "CENTERLOSS_NOTEBOOK_TRAIN"
	// TestEnv sets the number of test images.
	TestEnv = "CENTERLOSS_NOTEBOOK_TEST"
	// EpochsEnv sets the number of epochs.
	EpochsEnv = "CENTERLOSS_NOTEBOOK_EPOCHS"
	// CheckpointEnv overrides the checkpoint the training notebook loads
	// (see CheckpointPath).
	CheckpointEnv = "CENTERLOSS_NOTEBOOK_CHECKPOINT"
	// SoftmaxCheckpointEnv overrides the softmax-only checkpoint the
	// comparison notebook loads (see SoftmaxCheckpointPath).
	SoftmaxCheckpointEnv = "CENTERLOSS_NOTEBOOK_SOFTMAX_CHECKPOINT"
)

// Size is how much a notebook trains and evaluates.
type Size struct {
	Quick       bool // QuickEnv is set
	TrainImages int  // first N images of the MNIST training set
	TestImages  int  // first N images of the MNIST test set
	Epochs      int
}

// Run sizes without and with QuickEnv. The default is the smallest that
// shows the comparison notebook's contrast, streaks against compact
// clusters, at about 96% test accuracy: at the 400-550 training images per
// second LeNet++ reaches on two cores with oneDNN, one run takes two to
// three minutes. The quick one takes a few seconds.
var (
	DefaultSize = Size{TrainImages: 20000, TestImages: 2000, Epochs: 3}
	QuickSize   = Size{Quick: true, TrainImages: 256, TestImages: 200, Epochs: 1}
)

// LRSteps is the learning-rate schedule of the notebook runs, for
// Hyper.LRSteps: the last of two or more epochs at a tenth of the rate,
// which a short run needs to settle.
func (s Size) LRSteps() []int {
	if s.Epochs < 2 {
		return nil
	}
	return []int{s.Epochs}
}

// String describes s in one line.
func (s Size) String() string {
	mode := "default"
	if s.Quick {
		mode = "quick (" + QuickEnv + ")"
	}
	return fmt.Sprintf("%s run: %d training images, %d test images, %d epoch(s)", mode, s.TrainImages, s.TestImages, s.Epochs)
}

// RunSize returns the size of the notebook runs: DefaultSize, or QuickSize
// when QuickEnv is set, with TrainEnv, TestEnv and EpochsEnv overriding
// single numbers. It returns an error naming the variable if one is not a
// valid value.
func RunSize() (Size, error) {
	s := DefaultSize
	if v := strings.TrimSpace(os.Getenv(QuickEnv)); v != "" {
		switch strings.ToLower(v) {
		case "1", "true", "yes", "on":
			s = QuickSize
		case "0", "false", "no", "off":
		default:
			return s, fmt.Errorf("%s=%q: want 1 or 0", QuickEnv, v)
		}
	}
	for _, o := range []struct {
		env string
		dst *int
		min int
	}{{TrainEnv, &s.TrainImages, 64}, {TestEnv, &s.TestImages, 1}, {EpochsEnv, &s.Epochs, 1}} {
		v := strings.TrimSpace(os.Getenv(o.env))
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < o.min {
			return s, fmt.Errorf("%s=%q: want a whole number of at least %d", o.env, v, o.min)
		}
		*o.dst = n
	}
	return s, nil
}
