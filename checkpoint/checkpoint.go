package checkpoint

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/internal/atomicfile"
	"github.com/centerloss-go/centerloss/internal/safetensors"
)

// Version is the version of the checkpoint layout this package writes
// (metadata "checkpoint_version"); it reads this version and older.
//
// Metadata keys, all strings as safetensors requires:
//
//	checkpoint          "centerloss-go", marks a checkpoint of this package
//	checkpoint_version  Version
//	format              "pt": the tensors follow PyTorch's layout
//	model               "LeNet++"
//	dtype               "float32" or "float64"
//	classes             number of classes (10)
//	epoch, step         epochs and steps completed
//	current_lr          learning rate of the next epoch
//	epoch_loss_sum, epoch_softmax_sum, epoch_center_sum, epoch_correct, epoch_steps
//	                    Sums, the running sums of an epoch interrupted
//	                    part-way; missing in older checkpoints, meaning none
//
// The hyperparameters of the run (seed, batch, dim, lr, lr_steps, ...) are
// kept under keys of their own, which package train defines and checks
// (train.Params): this package keeps them in Metadata as they are.
const Version = 1

const checkpointMagic = "centerloss-go"

var (
	// ErrNotSafetensors reports input that is not a safetensors file, or a
	// safetensors file that is not a checkpoint of this package.
	ErrNotSafetensors = errors.New("not a safetensors checkpoint")
	// ErrTruncated reports a checkpoint file that ends early.
	ErrTruncated = errors.New("truncated")
)

// Checkpoint is the content of a checkpoint file: its metadata, typed, and
// its tensors by name (see the package documentation for both).
type Checkpoint struct {
	Version int          // checkpoint_version
	Dtype   tensor.Dtype // tensor.Float32 or tensor.Float64
	Classes int
	Epoch   int     // epochs completed
	Step    int     // steps completed
	LR      float64 // learning rate of the next epoch
	Sums    Sums    // of the epoch under way when Step is part-way through one

	// Metadata is the file's __metadata__. When writing, the typed fields
	// above replace the keys they own; other keys, the run's
	// hyperparameters among them, are kept as they are.
	Metadata map[string]string
	// Tensors holds every tensor by name.
	Tensors map[string]*Tensor
}

// Sums are the running sums of an epoch stopped part-way (metadata
// epoch_loss_sum ... epoch_steps), so that the resumed epoch reports the
// means of all its steps; zero when the keys are missing.
type Sums struct {
	Loss, Softmax, Center float64 // of the steps' losses
	Correct               int     // training images classified correctly
	Steps                 int     // steps summed
}

// Tensor is one tensor of a checkpoint: its shape and its values,
// []float32 or []float64 in row-major order.
type Tensor = safetensors.Tensor

// MomentumPrefix starts the name of a parameter's momentum buffer:
// "momentum.fc1.weight" is that of "fc1.weight".
const MomentumPrefix = "momentum."

// Centers is the name of the class centers.
const Centers = "centers"

// ReadFile reads and checks the checkpoint at path (see Read). Every error
// names path.
func ReadFile(path string) (*Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is named below
		}
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("checkpoint %s: is a folder, not a file", path)
	}
	c, err := Read(bufio.NewReaderSize(f, 1<<16), fi.Size())
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return c, nil
}

// WriteFile writes c to path atomically: a temporary file in the same
// folder, fsync, rename, fsync the folder, so that a crash never leaves a
// torn file in place of a good one. Every error names path.
func WriteFile(path string, c *Checkpoint) error {
	err := atomicfile.Write(path, func(w *bufio.Writer) error {
		_, err := c.WriteTo(w)
		return err
	})
	if err != nil {
		return fmt.Errorf("write checkpoint %s: %w", path, err)
	}
	return nil
}

// metadata returns the __metadata__ of c.
func (c *Checkpoint) metadata() map[string]string {
	m := make(map[string]string, len(c.Metadata)+20)
	for k, v := range c.Metadata {
		m[k] = v
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	dtype := "float32"
	if c.Dtype == tensor.Float64 {
		dtype = "float64"
	}
	for k, v := range map[string]string{
		"checkpoint":         checkpointMagic,
		"checkpoint_version": strconv.Itoa(c.Version),
		"format":             "pt",
		"model":              "LeNet++",
		"dtype":              dtype,
		"classes":            strconv.Itoa(c.Classes),
		"epoch":              strconv.Itoa(c.Epoch),
		"step":               strconv.Itoa(c.Step),
		"current_lr":         f(c.LR),
		"epoch_loss_sum":     f(c.Sums.Loss),
		"epoch_softmax_sum":  f(c.Sums.Softmax),
		"epoch_center_sum":   f(c.Sums.Center),
		"epoch_correct":      strconv.Itoa(c.Sums.Correct),
		"epoch_steps":        strconv.Itoa(c.Sums.Steps),
	} {
		m[k] = v
	}
	return m
}

// WriteTo writes c in the safetensors format. It writes nothing if a tensor
// is inconsistent (data length against shape, element type).
func (c *Checkpoint) WriteTo(w io.Writer) (int64, error) {
	f := safetensors.File{Metadata: c.metadata(), Tensors: c.Tensors}
	n, err := f.WriteTo(w)
	if err != nil {
		return n, fmt.Errorf("write checkpoint: %w", err)
	}
	return n, nil
}

// Read parses a checkpoint of size bytes from r. It checks the safetensors
// structure (header length, JSON, dtypes, shapes, data offsets that tile the
// data exactly: package internal/safetensors), the metadata, and that the
// tensors agree with each other: the centers are (classes, dim) and every
// parameter has a momentum buffer of its shape. Whether the tensors fit a
// network, and the hyperparameters a trainer, is for the trainer to check.
// Errors do not name the input: the caller does.
func Read(r io.Reader, size int64) (*Checkpoint, error) {
	f, err := safetensors.Read(r, size)
	if err != nil {
		return nil, fileError(err)
	}
	c := &Checkpoint{Metadata: f.Metadata, Tensors: f.Tensors}
	if err := c.parseMetadata(); err != nil {
		return nil, err
	}
	if err := c.checkTensors(); err != nil {
		return nil, err
	}
	return c, nil
}

// fileError is a malformed file's error as this package reports it: with
// ErrTruncated or ErrNotSafetensors.
func fileError(err error) error {
	var se *safetensors.Error
	if errors.As(err, &se) {
		sentinel := ErrNotSafetensors
		if se.Truncated {
			sentinel = ErrTruncated
		}
		return fmt.Errorf("%w: %s", sentinel, se.Detail)
	}
	var de *safetensors.DtypeError
	if errors.As(err, &de) {
		return fmt.Errorf("tensor %q: wrong dtype %q: checkpoints hold F32 or F64", de.Tensor, de.Dtype)
	}
	return err
}

// parseMetadata fills the typed fields of c from c.Metadata.
func (c *Checkpoint) parseMetadata() error {
	m := c.Metadata
	if m == nil {
		return fmt.Errorf("%w: the header has no __metadata__", ErrNotSafetensors)
	}
	if m["checkpoint"] != checkpointMagic {
		return fmt.Errorf("%w: metadata checkpoint=%q, want %q", ErrNotSafetensors, m["checkpoint"], checkpointMagic)
	}
	var errs []error
	get := func(key string) (string, bool) {
		v, ok := m[key]
		if !ok {
			errs = append(errs, fmt.Errorf("metadata: key %q is missing", key))
		}
		return v, ok
	}
	integer := func(key string, lo, hi int) int {
		s, ok := get(key)
		if !ok {
			return 0
		}
		v, err := strconv.Atoi(s)
		if err != nil || v < lo || v > hi {
			errs = append(errs, fmt.Errorf("metadata: %s=%q, want an integer in [%d, %d]", key, s, lo, hi))
		}
		return v
	}
	float := func(key string) float64 {
		s, ok := get(key)
		if !ok {
			return 0
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			errs = append(errs, fmt.Errorf("metadata: %s=%q, want a finite number", key, s))
		}
		return v
	}
	c.Version = integer("checkpoint_version", 1, math.MaxInt32)
	if len(errs) == 0 && c.Version > Version {
		return fmt.Errorf("checkpoint_version %d is newer than this program's %d", c.Version, Version)
	}
	if s, ok := get("dtype"); ok {
		switch s {
		case "float32":
			c.Dtype = tensor.Float32
		case "float64":
			c.Dtype = tensor.Float64
		default:
			errs = append(errs, fmt.Errorf("metadata: dtype=%q, want float32 or float64", s))
		}
	}
	c.Classes = integer("classes", 2, math.MaxInt32)
	c.Epoch = integer("epoch", 0, math.MaxInt32)
	c.Step = integer("step", 0, math.MaxInt)
	c.LR = float("current_lr")
	c.Sums = Sums{}
	if _, ok := m["epoch_steps"]; ok {
		c.Sums = Sums{Loss: float("epoch_loss_sum"), Softmax: float("epoch_softmax_sum"),
			Center: float("epoch_center_sum"), Correct: integer("epoch_correct", 0, math.MaxInt),
			Steps: integer("epoch_steps", 0, math.MaxInt)}
	}
	return errors.Join(errs...)
}

// checkTensors checks that the tensors of c agree with its metadata and with
// each other.
func (c *Checkpoint) checkTensors() error {
	names := make([]string, 0, len(c.Tensors))
	for name := range c.Tensors {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if dt := c.Tensors[name].Dtype(); dt != c.Dtype {
			return fmt.Errorf("tensor %q: wrong dtype %s: the checkpoint is %v (%s)", name, safetensors.DtypeName(dt), c.Dtype, safetensors.DtypeName(c.Dtype))
		}
	}
	centers, ok := c.Tensors[Centers]
	if !ok {
		return fmt.Errorf("tensor %q is missing", Centers)
	}
	if len(centers.Shape) != 2 || centers.Shape[0] != c.Classes || centers.Shape[1] < 1 {
		return fmt.Errorf("tensor %q has shape %s, but the metadata says %d classes: want (%d, D)",
			Centers, FormatShape(centers.Shape), c.Classes, c.Classes)
	}
	for _, name := range names {
		if name == Centers {
			continue
		}
		if base, ok := strings.CutPrefix(name, MomentumPrefix); ok {
			p, ok := c.Tensors[base]
			if !ok {
				return fmt.Errorf("tensor %q is a momentum buffer, but tensor %q is missing", name, base)
			}
			if !slices.Equal(p.Shape, c.Tensors[name].Shape) {
				return fmt.Errorf("tensor %q has shape %s, but %q has %s",
					name, FormatShape(c.Tensors[name].Shape), base, FormatShape(p.Shape))
			}
			continue
		}
		if _, ok := c.Tensors[MomentumPrefix+name]; !ok {
			return fmt.Errorf("tensor %q is missing (the momentum buffer of %q)", MomentumPrefix+name, name)
		}
	}
	return nil
}

// FormatShape writes a shape as Python writes a tuple, "(10, 2)" or "(10,)",
// as this package's errors do.
func FormatShape(s []int) string { return safetensors.FormatShape(s) }
