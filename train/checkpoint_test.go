package train

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/checkpoint"
	"github.com/centerloss-go/centerloss/graph"
)

// ckptHyper is a small run with values that do not print short, so that
// the metadata round trip is exercised.
func ckptHyper(dim int) Hyper {
	third, tenth := 1.0, 0.1
	third /= 3
	return Hyper{
		Batch: 2, LR: 0.0123, LRSteps: []int{3, 5, 8}, LRGamma: third, Momentum: 0.9,
		WeightDecay: 5e-4, Lambda: tenth + 0.2, Alpha: 0.5, Dim: dim, Seed: 0xdeadbeefcafef00d, Shift: 2,
	}
}

func ckptTrainer(t testing.TB, h Hyper, dt tensor.Dtype) *Trainer {
	t.Helper()
	tr, err := NewTrainer(h, dt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	return tr
}

// ckptLive returns every tensor of tr that a checkpoint holds, read from the
// trainer itself, by checkpoint name.
func ckptLive(tr *Trainer) map[string]*tensor.Dense {
	m := map[string]*tensor.Dense{"centers": tr.Centers.Tensor()}
	for _, p := range tr.Net.Params {
		m[p.Name] = p.Node.Value().(*tensor.Dense)
		m["momentum."+p.Name] = tr.Solver.Velocity(p.Name)
	}
	return m
}

// ckptBits returns the bit patterns of every value of every tensor of tr.
func ckptBits(tr *Trainer) map[string][]uint64 {
	out := make(map[string][]uint64)
	for name, d := range ckptLive(tr) {
		switch v := d.Data().(type) {
		case []float32:
			for _, x := range v {
				out[name] = append(out[name], uint64(math.Float32bits(x)))
			}
		case []float64:
			for _, x := range v {
				out[name] = append(out[name], math.Float64bits(x))
			}
		}
	}
	return out
}

// ckptPerturb fills every tensor of tr with random bit patterns (NaNs with
// payloads, infinities, subnormals and negative zeros included) and moves
// its position.
func ckptPerturb(tr *Trainer, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	for _, d := range ckptLive(tr) {
		switch v := d.Data().(type) {
		case []float32:
			for i := range v {
				v[i] = math.Float32frombits(rng.Uint32())
			}
		case []float64:
			for i := range v {
				v[i] = math.Float64frombits(rng.Uint64())
			}
		}
	}
	tr.Epoch, tr.Step = 7, 1234
}

func ckptEqualBits(t *testing.T, got, want map[string][]uint64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d tensors, want %d", len(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Fatalf("tensor %s missing", name)
		}
		if !slices.Equal(g, w) {
			t.Fatalf("tensor %s differs", name)
		}
	}
}

func ckptEqualHyper(t *testing.T, got, want Hyper) {
	t.Helper()
	type flat struct {
		Batch, Dim, Shift                                 int
		LR, LRGamma, Momentum, WeightDecay, Lambda, Alpha float64
		Seed                                              uint64
	}
	f := func(h Hyper) flat {
		return flat{h.Batch, h.Dim, h.Shift, h.LR, h.LRGamma, h.Momentum, h.WeightDecay, h.Lambda, h.Alpha, h.Seed}
	}
	if f(got) != f(want) || !slices.Equal(got.LRSteps, want.LRSteps) {
		t.Fatalf("hyperparameters %+v, want %+v", got, want)
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		t.Run(dt.String(), func(t *testing.T) {
			h := ckptHyper(3)
			tr := ckptTrainer(t, h, dt)
			ckptPerturb(tr, 1)
			path := filepath.Join(t.TempDir(), "ckpt.safetensors")
			if err := SaveCheckpoint(path, tr); err != nil {
				t.Fatal(err)
			}
			got, err := LoadCheckpoint(path)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			ckptEqualBits(t, ckptBits(got), ckptBits(tr))
			ckptEqualHyper(t, got.Hyper, h)
			if got.Dtype != dt || got.Epoch != 7 || got.Step != 1234 {
				t.Fatalf("dtype %v, epoch %d, step %d; want %v, 7, 1234", got.Dtype, got.Epoch, got.Step, dt)
			}
			if lr := got.LRAt(got.Epoch + 1); got.Solver.LR != lr {
				t.Fatalf("solver learning rate %v, want %v", got.Solver.LR, lr)
			}

			c, err := checkpoint.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			wantMeta := map[string]string{
				"checkpoint": "centerloss-go", "checkpoint_version": "1", "format": "pt", "model": "LeNet++",
				"dtype": dt.String(), "classes": "10", "epoch": "7", "step": "1234",
				"current_lr": strconv.FormatFloat(h.LRAt(8), 'g', -1, 64),
				"seed":       strconv.FormatUint(0xdeadbeefcafef00d, 10), "batch": "2", "dim": "3", "lr": "0.0123", "lr_steps": "3,5,8",
				"lr_gamma": "0.3333333333333333", "momentum": "0.9", "weight_decay": "0.0005",
				"lambda": "0.30000000000000004", "alpha": "0.5", "shift": "2",
				"epoch_loss_sum": "0", "epoch_softmax_sum": "0", "epoch_center_sum": "0", "epoch_correct": "0", "epoch_steps": "0",
			}
			for k, v := range wantMeta {
				if c.Metadata[k] != v {
					t.Errorf("metadata %s = %q, want %q", k, c.Metadata[k], v)
				}
			}
			if len(c.Metadata) != len(wantMeta) {
				t.Errorf("metadata has %d keys, want %d: %v", len(c.Metadata), len(wantMeta), c.Metadata)
			}
			if c.LR != h.LRAt(8) {
				t.Errorf("current learning rate %v, want %v", c.LR, h.LRAt(8))
			}
			for _, name := range []string{"conv1_1.weight", "prelu3_2.weight", "fc1.weight", "centers", "momentum.fc2.weight"} {
				if _, ok := c.Tensors[name]; !ok {
					t.Errorf("no tensor %s", name)
				}
			}
			if s := c.Tensors["fc1.weight"].Shape; !slices.Equal(s, []int{3, 1152}) {
				t.Errorf("fc1.weight has shape %v", s)
			}
			if s := c.Tensors["centers"].Shape; !slices.Equal(s, []int{10, 3}) {
				t.Errorf("centers has shape %v", s)
			}
		})
	}
}

// TestCheckpointResume checks that a run saved and resumed continues exactly
// as the uninterrupted run: weights, momentum and centers all carry over.
func TestCheckpointResume(t *testing.T) {
	h := ckptHyper(2)
	h.LR = 0.01
	rng := rand.New(rand.NewPCG(3, 4))
	images := make([]float32, h.Batch*graph.Rows*graph.Cols)
	for i := range images {
		images[i] = float32(rng.Float64()*2 - 1)
	}
	labels := []int{3, 8}
	a := ckptTrainer(t, h, tensor.Float64)
	if _, err := a.TrainStep(images, labels); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "resume.safetensors")
	if err := SaveCheckpoint(path, a); err != nil {
		t.Fatal(err)
	}
	if _, err := a.TrainStep(images, labels); err != nil {
		t.Fatal(err)
	}
	b, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Step != 1 {
		t.Fatalf("resumed at step %d, want 1", b.Step)
	}
	if _, err := b.TrainStep(images, labels); err != nil {
		t.Fatal(err)
	}
	ckptEqualBits(t, ckptBits(b), ckptBits(a))
}

func TestCheckpointOverrides(t *testing.T) {
	tr := ckptTrainer(t, ckptHyper(3), tensor.Float32)
	ckptPerturb(tr, 2)
	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	if err := SaveCheckpoint(path, tr); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCheckpoint(path, nil, func(h *Hyper) { h.LRSteps = []int{20} }, func(h *Hyper) { h.LRGamma = 0.5 })
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	want := ckptHyper(3)
	want.LRSteps, want.LRGamma = []int{20}, 0.5
	ckptEqualHyper(t, got.Hyper, want)
	ckptEqualBits(t, ckptBits(got), ckptBits(tr))
	if got.Solver.LR != 0.0123 {
		t.Fatalf("solver learning rate %v, want 0.0123 under the new schedule", got.Solver.LR)
	}

	_, err = LoadCheckpoint(path, func(h *Hyper) { h.Momentum = 2 })
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "momentum") {
		t.Fatalf("bad override: error %v", err)
	}
}

func TestCheckpointDimMismatch(t *testing.T) {
	tr := ckptTrainer(t, ckptHyper(3), tensor.Float32)
	path := filepath.Join(t.TempDir(), "d3.safetensors")
	if err := SaveCheckpoint(path, tr); err != nil {
		t.Fatal(err)
	}
	c, err := checkpoint.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	other := ckptTrainer(t, ckptHyper(2), tensor.Float32)
	before := ckptBits(other)
	err = other.Restore(c)
	if !errors.Is(err, ErrCheckpointMismatch) || !strings.Contains(err.Error(), "checkpoint has D=3") {
		t.Fatalf("restore D=3 into D=2: error %v", err)
	}
	ckptEqualBits(t, ckptBits(other), before)
	if other.Epoch != 0 || other.Step != 0 {
		t.Fatal("a failed restore moved the trainer")
	}

	// A checkpoint whose metadata agrees with the trainer but whose tensors
	// do not: the shape check names the tensor.
	c.Tensors[checkpoint.Centers] = &checkpoint.Tensor{Shape: []int{10, 2}, Data: make([]float32, 20)}
	err = other.Restore(c)
	if !errors.Is(err, ErrCheckpointMismatch) || !strings.Contains(err.Error(), "fc1.weight has shape (3, 1152), trainer wants (2, 1152)") {
		t.Fatalf("restore fc1.weight (3, 1152) into D=2: error %v", err)
	}
	ckptEqualBits(t, ckptBits(other), before)

	_, err = LoadCheckpoint(path, func(h *Hyper) { h.Dim = 2 })
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "checkpoint has D=3") {
		t.Fatalf("load with D=2: error %v", err)
	}
}

func TestCheckpointDtypeMismatch(t *testing.T) {
	tr := ckptTrainer(t, ckptHyper(2), tensor.Float64)
	c, err := tr.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	other := ckptTrainer(t, ckptHyper(2), tensor.Float32)
	err = other.Restore(c)
	if !errors.Is(err, ErrCheckpointMismatch) || !strings.Contains(err.Error(), "checkpoint is float64, trainer is float32") {
		t.Fatalf("error %v", err)
	}
}

// ckptFile holds a small valid checkpoint, built once.
var ckptFile = sync.OnceValues(func() (*checkpoint.Checkpoint, error) {
	tr, err := NewTrainer(ckptHyper(2), tensor.Float32)
	if err != nil {
		return nil, err
	}
	defer tr.Close()
	ckptPerturb(tr, 5)
	return tr.Checkpoint()
})

func ckptBytes(t *testing.T, edit func(c *checkpoint.Checkpoint)) []byte {
	t.Helper()
	c, err := ckptFile()
	if err != nil {
		t.Fatal(err)
	}
	cc := *c
	cc.Metadata = maps.Clone(c.Metadata)
	cc.Tensors = make(map[string]*checkpoint.Tensor, len(c.Tensors))
	for k, v := range c.Tensors {
		cc.Tensors[k] = v
	}
	if edit != nil {
		edit(&cc)
	}
	var buf bytes.Buffer
	if _, err := cc.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCheckpointErrors: LoadCheckpoint names the file and says what is
// wrong, whether the file is damaged (package checkpoint tests every such
// case) or does not fit the network or its hyperparameters.
func TestCheckpointErrors(t *testing.T) {
	valid := ckptBytes(t, nil)
	// meta sets a metadata key, or deletes it for "".
	meta := func(key, value string) func(c *checkpoint.Checkpoint) {
		return func(c *checkpoint.Checkpoint) {
			c.Metadata[key] = value
			if value == "" {
				delete(c.Metadata, key)
			}
		}
	}
	drop := func(names ...string) func(c *checkpoint.Checkpoint) {
		return func(c *checkpoint.Checkpoint) {
			for _, name := range names {
				delete(c.Tensors, name)
			}
		}
	}
	reshape := func(shape []int, names ...string) func(c *checkpoint.Checkpoint) {
		return func(c *checkpoint.Checkpoint) {
			for _, name := range names {
				x := *c.Tensors[name]
				x.Shape = shape
				c.Tensors[name] = &x
			}
		}
	}

	cases := []struct {
		name    string
		data    []byte
		want    string
		wantErr error
	}{
		{name: "cut by one byte", data: valid[:len(valid)-1], want: "truncated: the tensors need", wantErr: checkpoint.ErrTruncated},
		{name: "garbage", data: []byte("this is certainly not a checkpoint, it is some text"), want: "header length", wantErr: checkpoint.ErrNotSafetensors},
		{name: "bad hyperparameter", data: ckptBytes(t, meta("alpha", "1.5")), want: "metadata: alpha 1.5 must be in [0, 1]"},
		{name: "shift too large", data: ckptBytes(t, meta("shift", "9")), want: "metadata: shift 9 must be in [0, 8]"},
		{name: "key missing", data: ckptBytes(t, meta("lambda", "")), want: `metadata: key "lambda" is missing`},
		{name: "bad number", data: ckptBytes(t, meta("lr", "fast")), want: `metadata: lr: "fast" is not a number`},
		{name: "infinite number", data: ckptBytes(t, meta("alpha", "+Inf")), want: "metadata: alpha +Inf must be in [0, 1]"},
		{name: "bad shift", data: ckptBytes(t, meta("shift", "-1")), want: "metadata: shift -1 must be in [0, 8]"},
		{name: "bad lr_steps", data: ckptBytes(t, meta("lr_steps", "3;5")), want: `metadata: lr_steps: "3;5" is not a comma-separated list`},
		{name: "bad flip", data: ckptBytes(t, meta("flip", "yes")), want: `metadata: flip: "yes" is not true or false`},
		{name: "huge batch", data: ckptBytes(t, meta("batch", "1000000000")), want: "metadata: batch size 1000000000 must be in [2, 1048576]"},
		{name: "centers against dim", data: ckptBytes(t, meta("dim", "3")), want: `tensor "centers" has shape (10, 2), but the metadata says 10 classes and D=3`},
		{name: "tensor missing", data: ckptBytes(t, drop("prelu2_1.weight", "momentum.prelu2_1.weight")), want: "tensor prelu2_1.weight is missing", wantErr: ErrCheckpointMismatch},
		{name: "wrong shape", data: ckptBytes(t, reshape([]int{64, 32, 25}, "conv2_1.weight", "momentum.conv2_1.weight")), want: "tensor conv2_1.weight has shape (64, 32, 25), trainer wants (64, 32, 5, 5)", wantErr: ErrCheckpointMismatch},
		{name: "extra tensor", data: ckptBytes(t, func(c *checkpoint.Checkpoint) {
			c.Tensors["fc2.bias"] = &checkpoint.Tensor{Shape: []int{10}, Data: make([]float32, 10)}
			c.Tensors["momentum.fc2.bias"] = &checkpoint.Tensor{Shape: []int{10}, Data: make([]float32, 10)}
		}), want: "tensor fc2.bias is not part of this network", wantErr: ErrCheckpointMismatch},
		{name: "other D", data: ckptBytes(t, func(c *checkpoint.Checkpoint) {
			c.Metadata["dim"] = "8"
			c.Tensors["centers"] = &checkpoint.Tensor{Shape: []int{10, 8}, Data: make([]float32, 80)}
		}), want: "checkpoint has D=8, trainer has D=2", wantErr: ErrCheckpointMismatch},
	}
	dir := t.TempDir()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("case%d.safetensors", i))
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			// The "other D" case must reach Restore of a D=2 trainer.
			tr, err := LoadCheckpoint(path, func(h *Hyper) { h.Dim = 2 })
			if err == nil {
				tr.Close()
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "checkpoint "+path+": ") {
				t.Errorf("error %q does not start by naming the file", msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %q is not %v", msg, tc.wantErr)
			}
		})
	}
}
