package train

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gorgonia.org/tensor"

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

			c, err := ReadCheckpointFile(path)
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

// TestCheckpointFileLayout checks the safetensors framing byte by byte.
func TestCheckpointFileLayout(t *testing.T) {
	tr := ckptTrainer(t, ckptHyper(2), tensor.Float32)
	path := filepath.Join(t.TempDir(), "c.safetensors")
	if err := SaveCheckpoint(path, tr); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(data)
	if n%8 != 0 || data[8] != '{' {
		t.Fatalf("header length %d, first header byte %q", n, data[8])
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	var e struct {
		Dtype       string    `json:"dtype"`
		Shape       []int     `json:"shape"`
		DataOffsets [2]uint64 `json:"data_offsets"`
	}
	if err := json.Unmarshal(header["conv1_1.weight"], &e); err != nil {
		t.Fatal(err)
	}
	if e.Dtype != "F32" || !slices.Equal(e.Shape, []int{32, 1, 5, 5}) {
		t.Fatalf("conv1_1.weight: %+v", e)
	}
	w := tr.Net.Params[0].Node.Value().(*tensor.Dense).Data().([]float32)
	raw := data[8+n+e.DataOffsets[0] : 8+n+e.DataOffsets[1]]
	for i, v := range w {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); got != v {
			t.Fatalf("conv1_1.weight[%d] stored as %v, want %v", i, got, v)
		}
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, %v; want 0644", info.Mode(), err)
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
	c, err := ReadCheckpointFile(path)
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
	c.Hyper.Dim = 2
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

// ckptFile holds the bytes of a small valid checkpoint, built once.
var ckptFile = sync.OnceValues(func() (*Checkpoint, error) {
	tr, err := NewTrainer(ckptHyper(2), tensor.Float32)
	if err != nil {
		return nil, err
	}
	defer tr.Close()
	ckptPerturb(tr, 5)
	return tr.Checkpoint()
})

func ckptBytes(t *testing.T, edit func(c *Checkpoint)) []byte {
	t.Helper()
	c, err := ckptFile()
	if err != nil {
		t.Fatal(err)
	}
	cc := *c
	cc.Metadata = map[string]string{}
	cc.Tensors = make(map[string]*Tensor, len(c.Tensors))
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

// ckptRewriteHeader changes the JSON header of a checkpoint, keeping its data.
func ckptRewriteHeader(t *testing.T, data []byte, edit func(h map[string]any)) []byte {
	t.Helper()
	n := binary.LittleEndian.Uint64(data)
	dec := json.NewDecoder(bytes.NewReader(data[8 : 8+n]))
	dec.UseNumber()
	var h map[string]any
	if err := dec.Decode(&h); err != nil {
		t.Fatal(err)
	}
	edit(h)
	js, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	out = append(out, js...)
	return append(out, data[8+n:]...)
}

// ckptEntry returns the header entry of a tensor as a generic map.
func ckptEntry(h map[string]any, name string) map[string]any { return h[name].(map[string]any) }

// ckptLastTensor returns the name of the tensor stored last.
func ckptLastTensor(h map[string]any) string {
	best, bestEnd := "", int64(-1)
	for name, v := range h {
		if name == "__metadata__" {
			continue
		}
		end, _ := v.(map[string]any)["data_offsets"].([]any)[1].(json.Number).Int64()
		if end > bestEnd {
			best, bestEnd = name, end
		}
	}
	return best
}

func TestCheckpointErrors(t *testing.T) {
	valid := ckptBytes(t, nil)
	n := int(binary.LittleEndian.Uint64(valid))
	with := func(f func(b []byte)) []byte {
		b := slices.Clone(valid)
		f(b)
		return b
	}
	header := func(f func(h map[string]any)) []byte { return ckptRewriteHeader(t, valid, f) }
	meta := func(f func(m map[string]any)) []byte {
		return header(func(h map[string]any) { f(h["__metadata__"].(map[string]any)) })
	}
	drop := func(names ...string) func(c *Checkpoint) {
		return func(c *Checkpoint) {
			for _, name := range names {
				delete(c.Tensors, name)
			}
		}
	}
	reshape := func(shape []int, names ...string) func(c *Checkpoint) {
		return func(c *Checkpoint) {
			for _, name := range names {
				x := *c.Tensors[name]
				x.Shape = shape
				c.Tensors[name] = &x
			}
		}
	}

	cases := []struct {
		name    string
		data    []byte // nil: no file
		dir     bool   // a folder in place of the file
		want    string
		wantErr error
	}{
		{name: "missing file", want: "no such file", wantErr: fs.ErrNotExist},
		{name: "folder", dir: true, want: "is a folder"},
		{name: "empty", data: []byte{}, want: "truncated: the file has 0 bytes", wantErr: ErrCheckpointTruncated},
		{name: "cut in the length", data: valid[:5], want: "fewer than the 8", wantErr: ErrCheckpointTruncated},
		{name: "cut after the length", data: valid[:8], want: "only 0 bytes follow", wantErr: ErrCheckpointTruncated},
		{name: "cut in the header", data: valid[:8+n/2], want: "truncated: the header length says", wantErr: ErrCheckpointTruncated},
		{name: "cut after the header", data: valid[:8+n], want: "truncated: the tensors need", wantErr: ErrCheckpointTruncated},
		{name: "cut in the data", data: valid[:8+n+1000], want: "truncated: the tensors need", wantErr: ErrCheckpointTruncated},
		{name: "cut by one byte", data: valid[:len(valid)-1], want: "truncated: the tensors need", wantErr: ErrCheckpointTruncated},
		{name: "huge header length", data: with(func(b []byte) { b[7] = 0x40 }), want: "header length", wantErr: ErrNotSafetensors},
		{name: "header length too short", data: with(func(b []byte) { binary.LittleEndian.PutUint64(b, uint64(n-16)) }), want: "not valid JSON", wantErr: ErrNotSafetensors},
		{name: "header not JSON", data: with(func(b []byte) { b[8] = 'x' }), want: "the header is not a JSON object", wantErr: ErrNotSafetensors},
		{name: "header bit flip", data: with(func(b []byte) { b[bytes.Index(b, []byte(`"data_offsets"`))] ^= 0x80 }), want: "not valid JSON", wantErr: ErrNotSafetensors},
		{name: "garbage", data: []byte("this is certainly not a checkpoint, it is some text"), want: "header length", wantErr: ErrNotSafetensors},
		{name: "unknown header field", data: header(func(h map[string]any) { ckptEntry(h, "fc1.bias")["extra"] = 1 }), want: `tensor "fc1.bias": bad header entry`, wantErr: ErrNotSafetensors},
		{name: "no dtype", data: header(func(h map[string]any) { delete(ckptEntry(h, "fc1.bias"), "dtype") }), want: "lacks dtype", wantErr: ErrNotSafetensors},
		{name: "dtype I64", data: header(func(h map[string]any) { ckptEntry(h, "fc1.bias")["dtype"] = "I64" }), want: `tensor "fc1.bias": wrong dtype "I64"`},
		{name: "negative shape", data: header(func(h map[string]any) { ckptEntry(h, "fc1.bias")["shape"] = []int{-2} }), want: "bad shape", wantErr: ErrNotSafetensors},
		{name: "shape against offsets", data: header(func(h map[string]any) { ckptEntry(h, "fc1.bias")["shape"] = []int{3} }), want: "shape (3,) of F32 needs 12 bytes", wantErr: ErrNotSafetensors},
		{name: "huge shape", data: header(func(h map[string]any) { ckptEntry(h, "fc1.bias")["shape"] = []int{1 << 30, 1 << 30, 1 << 30} }), want: "more than 2^64", wantErr: ErrNotSafetensors},
		{name: "offsets reversed", data: header(func(h map[string]any) {
			e := ckptEntry(h, "fc1.bias")
			o := e["data_offsets"].([]any)
			e["data_offsets"] = []any{o[1], o[0]}
		}), want: "end before they begin", wantErr: ErrNotSafetensors},
		{name: "offsets overlap", data: header(func(h map[string]any) {
			ckptEntry(h, "conv1_1.bias")["data_offsets"] = ckptEntry(h, "conv1_2.bias")["data_offsets"]
		}), want: "overlap", wantErr: ErrNotSafetensors},
		{name: "offsets out of range", data: header(func(h map[string]any) {
			e := ckptEntry(h, ckptLastTensor(h))
			o := e["data_offsets"].([]any)
			a, _ := o[0].(json.Number).Int64()
			b, _ := o[1].(json.Number).Int64()
			e["data_offsets"] = []int64{a + 8, b + 8}
		}), want: "out of range", wantErr: ErrNotSafetensors},
		{name: "offsets near 2^64", data: header(func(h map[string]any) {
			ckptEntry(h, "fc1.bias")["data_offsets"] = []uint64{math.MaxUint64 - 8, math.MaxUint64}
		}), want: "out of range", wantErr: ErrNotSafetensors},
		{name: "trailing bytes", data: append(slices.Clone(valid), 1, 2, 3), want: "3 unexpected bytes", wantErr: ErrNotSafetensors},
		{name: "duplicate name", data: with(func(b []byte) {
			i := bytes.Index(b, []byte(`"conv1_2.bias"`))
			copy(b[i:], `"conv1_1.bias"`)
		}), want: `names "conv1_1.bias" twice`, wantErr: ErrNotSafetensors},
		{name: "no metadata", data: header(func(h map[string]any) { delete(h, "__metadata__") }), want: "no __metadata__", wantErr: ErrNotSafetensors},
		{name: "metadata not strings", data: meta(func(m map[string]any) { m["epoch"] = 7 }), want: "__metadata__ must be an object of strings", wantErr: ErrNotSafetensors},
		{name: "another safetensors file", data: meta(func(m map[string]any) { delete(m, "checkpoint") }), want: `metadata checkpoint=""`, wantErr: ErrNotSafetensors},
		{name: "newer version", data: meta(func(m map[string]any) { m["checkpoint_version"] = "2" }), want: "checkpoint_version 2 is newer"},
		{name: "key missing", data: meta(func(m map[string]any) { delete(m, "lambda") }), want: `key "lambda" is missing`},
		{name: "bad number", data: meta(func(m map[string]any) { m["lr"] = "fast" }), want: `lr="fast"`},
		{name: "bad hyperparameter", data: meta(func(m map[string]any) { m["alpha"] = "1.5" }), want: "alpha 1.5 must be in [0, 1]"},
		{name: "bad shift", data: meta(func(m map[string]any) { m["shift"] = "-1" }), want: `shift="-1"`},
		{name: "bad lr_steps", data: meta(func(m map[string]any) { m["lr_steps"] = "3;5" }), want: `lr_steps="3;5"`},
		{name: "dtype metadata", data: meta(func(m map[string]any) { m["dtype"] = "float64" }), want: "wrong dtype F32: the checkpoint is float64"},
		{name: "tensor dtype", data: ckptBytes(t, func(c *Checkpoint) {
			x := c.Tensors["fc1.bias"]
			v := make([]float64, x.len())
			c.Tensors["fc1.bias"] = &Tensor{Shape: x.Shape, Data: v}
		}), want: `tensor "fc1.bias": wrong dtype F64: the checkpoint is float32`},
		{name: "tensor missing", data: ckptBytes(t, drop("prelu2_1.weight", "momentum.prelu2_1.weight")), want: "tensor prelu2_1.weight is missing", wantErr: ErrCheckpointMismatch},
		{name: "momentum missing", data: ckptBytes(t, drop("momentum.fc1.bias")), want: `tensor "momentum.fc1.bias" is missing`},
		{name: "momentum alone", data: ckptBytes(t, drop("fc1.bias")), want: `tensor "fc1.bias" is missing`},
		{name: "centers missing", data: ckptBytes(t, drop("centers")), want: `tensor "centers" is missing`},
		{name: "centers shape", data: ckptBytes(t, reshape([]int{5, 4}, "centers")), want: `tensor "centers" has shape (5, 4), but the metadata says 10 classes and D=2`},
		{name: "momentum shape", data: ckptBytes(t, reshape([]int{64, 32, 25}, "momentum.conv2_1.weight")), want: `tensor "momentum.conv2_1.weight" has shape (64, 32, 25), but "conv2_1.weight" has (64, 32, 5, 5)`},
		{name: "wrong shape", data: ckptBytes(t, reshape([]int{64, 32, 25}, "conv2_1.weight", "momentum.conv2_1.weight")), want: "tensor conv2_1.weight has shape (64, 32, 25), trainer wants (64, 32, 5, 5)", wantErr: ErrCheckpointMismatch},
		{name: "extra tensor", data: ckptBytes(t, func(c *Checkpoint) {
			c.Tensors["fc2.bias"] = &Tensor{Shape: []int{10}, Data: make([]float32, 10)}
			c.Tensors["momentum.fc2.bias"] = &Tensor{Shape: []int{10}, Data: make([]float32, 10)}
		}), want: "tensor fc2.bias is not part of this network", wantErr: ErrCheckpointMismatch},
		{name: "other D", data: ckptBytes(t, func(c *Checkpoint) {
			c.Hyper.Dim = 8
			c.Tensors["centers"] = &Tensor{Shape: []int{10, 8}, Data: make([]float32, 80)}
		}), want: "checkpoint has D=8, trainer has D=2", wantErr: ErrCheckpointMismatch},
	}
	dir := t.TempDir()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("case%d.safetensors", i))
			switch {
			case tc.dir:
				if err := os.Mkdir(path, 0o755); err != nil {
					t.Fatal(err)
				}
			case tc.data != nil:
				if err := os.WriteFile(path, tc.data, 0o644); err != nil {
					t.Fatal(err)
				}
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
			if tc.data != nil {
				c, err := ReadCheckpoint(bytes.NewReader(tc.data), int64(len(tc.data)))
				if (err == nil) != (c != nil) {
					t.Errorf("ReadCheckpoint returned %v and %v", c, err)
				}
			}
		})
	}
}

func TestCheckpointReadErrors(t *testing.T) {
	valid := ckptBytes(t, nil)
	// A reader shorter than the size it claims.
	_, err := ReadCheckpoint(bytes.NewReader(valid[:len(valid)-10]), int64(len(valid)))
	if !errors.Is(err, ErrCheckpointTruncated) || !strings.Contains(err.Error(), "the tensor data ends after") {
		t.Fatalf("short reader: %v", err)
	}
	// A reader that fails.
	boom := errors.New("disk on fire")
	_, err = ReadCheckpoint(io.MultiReader(bytes.NewReader(valid[:100]), ckptFailReader{boom}), int64(len(valid)))
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "reading the header") {
		t.Fatalf("failing reader: %v", err)
	}
	// A size that lies high is caught before anything that large is read.
	_, err = ReadCheckpoint(bytes.NewReader(valid), 1<<50)
	if !errors.Is(err, ErrNotSafetensors) || !strings.Contains(err.Error(), "unexpected bytes after the tensor data") {
		t.Fatalf("size 2^50: %v", err)
	}
}

type ckptFailReader struct{ err error }

func (r ckptFailReader) Read([]byte) (int, error) { return 0, r.err }

func TestCheckpointWriteToErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		x    *Tensor
	}{
		{"length", &Tensor{Shape: []int{2, 2}, Data: []float32{1, 2, 3}}},
		{"type", &Tensor{Shape: []int{2}, Data: []int{1, 2}}},
		{"shape", &Tensor{Shape: []int{-1}, Data: []float32{}}},
		{"nil", nil},
	} {
		c := &Checkpoint{Version: 1, Tensors: map[string]*Tensor{"x": tc.x}}
		var buf bytes.Buffer
		if _, err := c.WriteTo(&buf); err == nil || buf.Len() != 0 {
			t.Errorf("%s: error %v after %d bytes", tc.name, err, buf.Len())
		}
	}
}

func TestCheckpointAtomicSave(t *testing.T) {
	a := ckptTrainer(t, ckptHyper(2), tensor.Float32)
	ckptPerturb(a, 10)
	b := ckptTrainer(t, ckptHyper(2), tensor.Float32)
	ckptPerturb(b, 11)
	dir := t.TempDir()
	path := filepath.Join(dir, "run.safetensors")
	for _, tr := range []*Trainer{b, a} { // overwrite b with a
		if err := SaveCheckpoint(path, tr); err != nil {
			t.Fatal(err)
		}
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	loadsAsA := func(t *testing.T, path string) {
		t.Helper()
		got, err := LoadCheckpoint(path)
		if err != nil {
			t.Fatal(err)
		}
		defer got.Close()
		ckptEqualBits(t, ckptBits(got), ckptBits(a))
	}
	loadsAsA(t, path)
	ckptOnlyFiles(t, dir, "run.safetensors")

	t.Run("temp file cannot be created", func(t *testing.T) {
		// The name is valid, but the temporary name made from it is too
		// long for the file system.
		long := filepath.Join(t.TempDir(), strings.Repeat("c", 240)+".safetensors")
		if err := os.WriteFile(long, good, 0o644); err != nil {
			t.Skipf("file system refuses a 252-byte name: %v", err)
		}
		err := SaveCheckpoint(long, b)
		if err == nil {
			t.Skip("file system accepts the long temporary name")
		}
		if !strings.Contains(err.Error(), "save checkpoint "+long) {
			t.Fatalf("error %q does not name the file", err)
		}
		loadsAsA(t, long)
		ckptOnlyFiles(t, filepath.Dir(long), filepath.Base(long))
	})

	t.Run("read-only folder", func(t *testing.T) {
		ro := t.TempDir()
		p := filepath.Join(ro, "run.safetensors")
		if err := os.WriteFile(p, good, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(ro, 0o755)
		if f, err := os.CreateTemp(ro, "probe"); err == nil {
			f.Close()
			os.Remove(f.Name())
			t.Skip("the folder stays writable (running as root?)")
		}
		err := SaveCheckpoint(p, b)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Fatalf("error %v does not name the file", err)
		}
		loadsAsA(t, p)
		ckptOnlyFiles(t, ro, "run.safetensors")
	})

	t.Run("missing folder", func(t *testing.T) {
		p := filepath.Join(dir, "no", "such", "folder", "run.safetensors")
		err := SaveCheckpoint(p, b)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Fatalf("error %v does not name the file", err)
		}
	})

	t.Run("write fails midway", func(t *testing.T) {
		boom := errors.New("disk full")
		err := writeAtomic(path, func(w *bufio.Writer) error {
			w.Write(good[:len(good)/2])
			w.Flush()
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("error %v", err)
		}
		loadsAsA(t, path)
		ckptOnlyFiles(t, dir, "run.safetensors")
	})
}

// helperWriteEnv, when set, makes TestCheckpointKilledWhileWriting act as
// the process that is killed: it starts an atomic write to the named file,
// writes part of it, says so on stdout and waits to be killed.
const helperWriteEnv = "CENTERLOSS_TEST_KILLED_WRITER"

// TestCheckpointKilledWhileWriting kills a process in the middle of an
// atomic write (SIGKILL on Unix): the checkpoint it was replacing must load
// unchanged, and the next save must succeed.
func TestCheckpointKilledWhileWriting(t *testing.T) {
	if path := os.Getenv(helperWriteEnv); path != "" {
		writeAtomic(path, func(w *bufio.Writer) error {
			w.Write(bytes.Repeat([]byte{0xAB}, 1<<20))
			w.Flush()
			fmt.Println("writing")
			time.Sleep(time.Hour)
			return nil
		})
		os.Exit(1) // not reached: the parent kills this process
	}
	a := ckptTrainer(t, ckptHyper(2), tensor.Float32)
	ckptPerturb(a, 12)
	dir := t.TempDir()
	path := filepath.Join(dir, "run.safetensors")
	if err := SaveCheckpoint(path, a); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointKilledWhileWriting$")
	cmd.Env = append(os.Environ(), helperWriteEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "writing\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q (%v) instead of starting to write", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	tmp, _ := filepath.Glob(filepath.Join(dir, ".run.safetensors.tmp*"))
	if len(tmp) != 1 {
		t.Fatalf("want the killed write's temporary file, found %q", tmp)
	}
	if fi, err := os.Stat(tmp[0]); err != nil || fi.Size() != 1<<20 {
		t.Fatalf("temporary file %v, %v: the write was not under way", fi, err)
	}
	got, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatalf("after the kill: %v", err)
	}
	defer got.Close()
	ckptEqualBits(t, ckptBits(got), ckptBits(a))

	b := ckptTrainer(t, ckptHyper(2), tensor.Float32)
	ckptPerturb(b, 13)
	if err := SaveCheckpoint(path, b); err != nil {
		t.Fatalf("save after the kill: %v", err)
	}
	again, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	ckptEqualBits(t, ckptBits(again), ckptBits(b))
}

// ckptOnlyFiles fails unless dir holds exactly the named files (no
// temporary file left behind).
func ckptOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Fatalf("folder holds %q, want %q", got, names)
	}
}

// ckptTiny builds a small checkpoint: full metadata, but only the centers
// and the classifier of a D=2 network, with their momentum buffers.
func ckptTiny(dt tensor.Dtype) []byte {
	c := &Checkpoint{
		Version: CheckpointVersion, Hyper: DefaultHyper(), Dtype: dt, Classes: 10,
		Epoch: 3, Step: 2811, LR: 0.01, Tensors: map[string]*Tensor{},
	}
	for i, name := range []string{"centers", "fc2.weight", "momentum.fc2.weight"} {
		if dt == tensor.Float32 {
			v := make([]float32, 20)
			for j := range v {
				v[j] = float32(i*20+j) / 8
			}
			c.Tensors[name] = &Tensor{Shape: []int{10, 2}, Data: v}
		} else {
			v := make([]float64, 20)
			for j := range v {
				v[j] = float64(i*20+j) / 8
			}
			c.Tensors[name] = &Tensor{Shape: []int{10, 2}, Data: v}
		}
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// TestCheckpointFuzzCorpus checks that the committed seeds whose names start
// with "valid" parse and all others fail.
func TestCheckpointFuzzCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzReadCheckpoint", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no seed corpus: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(strings.TrimSpace(string(raw)), "\n", 2)
		if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
			t.Fatalf("%s is not a corpus file", f)
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		_, err = ReadCheckpoint(strings.NewReader(s), int64(len(s)))
		if valid := strings.HasPrefix(filepath.Base(f), "valid"); valid != (err == nil) {
			t.Errorf("%s: error %v", f, err)
		}
	}
}

var ckptFuzzTrainer = sync.OnceValues(func() (*Trainer, error) {
	h := DefaultHyper()
	h.Batch = 2
	return NewTrainer(h, tensor.Float32)
})

func FuzzReadCheckpoint(f *testing.F) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		b := ckptTiny(dt)
		n := int(binary.LittleEndian.Uint64(b))
		f.Add(b)
		f.Add(b[:8+n])
		f.Add(b[:len(b)-3])
	}
	f.Add([]byte{})
	f.Add([]byte("{}"))
	tr, err := ckptFuzzTrainer()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadCheckpoint(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if c != nil {
				t.Fatalf("a checkpoint and an error %v", err)
			}
			return
		}
		total := 0
		for name, x := range c.Tensors {
			n := 1
			for _, s := range x.Shape {
				n *= s
			}
			if n != x.len() || x.Dtype() != c.Dtype {
				t.Fatalf("tensor %s: %d values of %v for shape %v, checkpoint %v", name, x.len(), x.Dtype(), x.Shape, c.Dtype)
			}
			total += n * int(c.Dtype.Size())
		}
		if 8+total > len(data) {
			t.Fatalf("%d bytes of tensors from %d bytes of input", total, len(data))
		}
		// Writing it back and reading it again gives the same checkpoint.
		var buf bytes.Buffer
		if _, err := c.WriteTo(&buf); err != nil {
			t.Fatalf("write back: %v", err)
		}
		d, err := ReadCheckpoint(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		ckptEqualHyper(t, d.Hyper, c.Hyper)
		if d.Dtype != c.Dtype || d.Classes != c.Classes || d.Epoch != c.Epoch || d.Step != c.Step || d.LR != c.LR || d.Version != c.Version {
			t.Fatalf("read back %+v, want %+v", d, c)
		}
		if len(d.Tensors) != len(c.Tensors) {
			t.Fatalf("read back %d tensors, want %d", len(d.Tensors), len(c.Tensors))
		}
		var b1, b2 bytes.Buffer
		for name, x := range c.Tensors {
			y := d.Tensors[name]
			if y == nil || !slices.Equal(x.Shape, y.Shape) {
				t.Fatalf("tensor %s read back as %v", name, y)
			}
			b1.Reset()
			b2.Reset()
			binary.Write(&b1, binary.LittleEndian, x.Data)
			binary.Write(&b2, binary.LittleEndian, y.Data)
			if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
				t.Fatalf("tensor %s read back differently", name)
			}
		}
		// Restoring it never panics; it fits the network or says why not.
		if err := tr.Restore(c); err != nil && !errors.Is(err, ErrCheckpointMismatch) {
			t.Fatalf("restore: %v", err)
		}
	})
}

// TestCheckpointWithoutShift: checkpoints written before Hyper.Shift existed
// have no "shift" key and read back as unshifted training.
func TestCheckpointWithoutShift(t *testing.T) {
	valid := ckptBytes(t, nil)
	for _, tc := range []struct {
		edit func(m map[string]any)
		want int
	}{
		{func(m map[string]any) { m["shift"] = "3" }, 3},
		{func(m map[string]any) { delete(m, "shift") }, 0},
	} {
		b := ckptRewriteHeader(t, valid, func(h map[string]any) { tc.edit(h["__metadata__"].(map[string]any)) })
		c, err := ReadCheckpoint(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		if c.Hyper.Shift != tc.want {
			t.Errorf("shift %d, want %d", c.Hyper.Shift, tc.want)
		}
	}
}
