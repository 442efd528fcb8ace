package train

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/checkpoint"
)

// ErrCheckpointMismatch reports a checkpoint that does not fit the trainer
// it is restored into (a tensor missing, another shape, dtype or feature
// dimension).
var ErrCheckpointMismatch = errors.New("checkpoint does not fit the trainer")

// Checkpoint returns a copy of everything t needs to resume: weights, PReLU
// slopes, centers, momentum buffers, position and hyperparameters.
func (t *Trainer) Checkpoint() (*checkpoint.Checkpoint, error) {
	c := &checkpoint.Checkpoint{
		Version: checkpoint.Version, Dtype: t.Dtype, Classes: t.Net.Classes,
		Epoch: t.Epoch, Step: t.Step, LR: t.LRAt(t.Epoch + 1), Sums: checkpoint.Sums(t.Sums),
		Metadata: make(map[string]string), Tensors: make(map[string]*checkpoint.Tensor),
	}
	t.Hyper.metadata(c.Metadata)
	add := func(name string, d *tensor.Dense) error {
		if d == nil {
			return fmt.Errorf("checkpoint: %s has no value", name)
		}
		var data any
		switch v := d.Data().(type) {
		case []float32:
			data = slices.Clone(v)
		case []float64:
			data = slices.Clone(v)
		default:
			return fmt.Errorf("checkpoint: %s holds %v, want float32 or float64", name, d.Dtype())
		}
		c.Tensors[name] = &checkpoint.Tensor{Shape: slices.Clone([]int(d.Shape())), Data: data}
		return nil
	}
	for _, p := range t.Net.Params {
		w, _ := p.Node.Value().(*tensor.Dense)
		if err := add(p.Name, w); err != nil {
			return nil, err
		}
		if err := add(checkpoint.MomentumPrefix+p.Name, t.Solver.Velocity(p.Name)); err != nil {
			return nil, err
		}
	}
	if err := add(checkpoint.Centers, t.Centers.Tensor()); err != nil {
		return nil, err
	}
	return c, nil
}

// SaveCheckpoint writes t atomically to path (checkpoint.WriteFile): a
// crash never leaves a torn file in place of a good one.
func SaveCheckpoint(path string, t *Trainer) error {
	c, err := t.Checkpoint()
	if err != nil {
		return fmt.Errorf("save checkpoint %s: %w", path, err)
	}
	return checkpoint.WriteFile(path, c)
}

// LoadCheckpoint reads path and returns a Trainer restored to it (weights,
// PReLU slopes, centers, momentum buffers, epoch, step, hyperparameters).
//
// The hyperparameters come from the checkpoint's metadata; each override, if
// any, may then change them before the trainer is built, for example to give
// a resumed run another learning-rate schedule:
//
//	t, err := LoadCheckpoint(path, func(h *Hyper) { h.LRSteps = []int{12, 15} })
//
// An override that changes the shape of a tensor (Dim) makes the restore fail.
// Every error names path.
func LoadCheckpoint(path string, overrides ...func(*Hyper)) (*Trainer, error) {
	c, err := checkpoint.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h, err := hyperOf(c.Metadata)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: metadata: %w", path, err)
	}
	// Before building a network of D features: the centers say what D the
	// file holds.
	if centers := c.Tensors[checkpoint.Centers].Shape; centers[1] != h.Dim { // Read checked it is (classes, D)
		return nil, fmt.Errorf("checkpoint %s: tensor %q has shape %s, but the metadata says %d classes and D=%d",
			path, checkpoint.Centers, checkpoint.FormatShape(centers), c.Classes, h.Dim)
	}
	for _, o := range overrides {
		if o != nil {
			o(&h)
		}
	}
	t, err := NewTrainer(h, c.Dtype)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := t.Restore(c); err != nil {
		t.Close()
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return t, nil
}

// Restore sets t to the state saved in c: weights, PReLU slopes, centers,
// momentum buffers, epoch and step. The hyperparameters stay t's own (they
// are built into its graphs). It checks everything before it changes
// anything: on error t is untouched. Errors wrap ErrCheckpointMismatch.
func (t *Trainer) Restore(c *checkpoint.Checkpoint) error {
	mismatch := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrCheckpointMismatch}, args...)...)
	}
	if c.Dtype != t.Dtype {
		return mismatch("checkpoint is %v, trainer is %v", c.Dtype, t.Dtype)
	}
	if ct := c.Tensors[checkpoint.Centers]; ct != nil && len(ct.Shape) == 2 && ct.Shape[1] != t.Dim {
		return mismatch("feature dimension: checkpoint has D=%d, trainer has D=%d", ct.Shape[1], t.Dim)
	}
	if c.Classes != t.Net.Classes {
		return mismatch("checkpoint has %d classes, trainer has %d", c.Classes, t.Net.Classes)
	}
	if c.Epoch < 0 || c.Step < 0 {
		return mismatch("negative position: epoch %d, step %d", c.Epoch, c.Step)
	}
	type target struct {
		name string
		dst  *tensor.Dense
	}
	var targets []target
	for _, p := range t.Net.Params {
		w, _ := p.Node.Value().(*tensor.Dense)
		targets = append(targets, target{p.Name, w}, target{checkpoint.MomentumPrefix + p.Name, t.Solver.Velocity(p.Name)})
	}
	targets = append(targets, target{checkpoint.Centers, t.Centers.Tensor()})
	known := make(map[string]bool, len(targets))
	for _, tg := range targets {
		known[tg.name] = true
		src, ok := c.Tensors[tg.name]
		if !ok || src == nil {
			return mismatch("tensor %s is missing", tg.name)
		}
		if tg.dst == nil {
			return fmt.Errorf("restore: trainer tensor %s has no value", tg.name)
		}
		want := []int(tg.dst.Shape())
		if !slices.Equal(src.Shape, want) {
			return mismatch("tensor %s has shape %s, trainer wants %s", tg.name, checkpoint.FormatShape(src.Shape), checkpoint.FormatShape(want))
		}
		if src.Dtype() != t.Dtype {
			return mismatch("tensor %s is %v, trainer is %v", tg.name, src.Dtype(), t.Dtype)
		}
		if src.Len() != tg.dst.Shape().TotalSize() {
			return mismatch("tensor %s has %d values for shape %s", tg.name, src.Len(), checkpoint.FormatShape(src.Shape))
		}
	}
	var extra []string
	for name := range c.Tensors {
		if !known[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return mismatch("tensor %s is not part of this network", extra[0])
	}
	for _, tg := range targets {
		switch d := tg.dst.Data().(type) {
		case []float32:
			copy(d, c.Tensors[tg.name].Data.([]float32))
		case []float64:
			copy(d, c.Tensors[tg.name].Data.([]float64))
		}
	}
	t.Epoch, t.Step, t.Sums = c.Epoch, c.Step, EpochSums(c.Sums)
	t.Solver.LR = t.LRAt(t.Epoch + 1)
	return nil
}
