package checkpoint_test

import (
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
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/checkpoint"
)

// testHyper is the metadata of the hyperparameters that package train
// writes, which this package keeps as they are.
func testHyper() map[string]string {
	return map[string]string{
		"batch": "2", "lr": "0.0123", "lr_steps": "3,5,8", "lr_gamma": "0.3333333333333333", "momentum": "0.9",
		"weight_decay": "0.0005", "lambda": "0.30000000000000004", "alpha": "0.5", "dim": "2",
		"seed": "16045690984503111693", "shift": "2",
	}
}

// testParams are the parameters of a small stand-in network, enough to
// exercise every check of the format.
var testParams = []struct {
	name  string
	shape []int
}{
	{"conv1_1.weight", []int{4, 1, 5, 5}},
	{"conv1_1.bias", []int{4}},
	{"conv1_2.bias", []int{4}},
	{"fc1.bias", []int{2}},
	{"fc2.weight", []int{10, 2}},
}

// testCheckpoint builds a checkpoint of dtype dt whose tensors hold random
// bit patterns (NaNs with payloads, infinities, subnormals and negative
// zeros included).
func testCheckpoint(dt tensor.Dtype, seed uint64) *checkpoint.Checkpoint {
	rng := rand.New(rand.NewPCG(seed, 7))
	c := &checkpoint.Checkpoint{
		Version: checkpoint.Version, Dtype: dt, Classes: 10, Epoch: 7, Step: 1234, LR: 0.0041,
		Sums:     checkpoint.Sums{Loss: 1.5, Softmax: 1.25, Center: 2.5, Correct: 3, Steps: 2},
		Metadata: testHyper(), Tensors: map[string]*checkpoint.Tensor{},
	}
	random := func(shape []int) *checkpoint.Tensor {
		n := 1
		for _, s := range shape {
			n *= s
		}
		if dt == tensor.Float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = math.Float32frombits(rng.Uint32())
			}
			return &checkpoint.Tensor{Shape: shape, Data: v}
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Float64frombits(rng.Uint64())
		}
		return &checkpoint.Tensor{Shape: shape, Data: v}
	}
	for _, p := range testParams {
		c.Tensors[p.name] = random(p.shape)
		c.Tensors[checkpoint.MomentumPrefix+p.name] = random(p.shape)
	}
	c.Tensors[checkpoint.Centers] = random([]int{10, 2})
	return c
}

// bits returns the bit patterns of every value of a tensor.
func bits(x *checkpoint.Tensor) []uint64 {
	var out []uint64
	switch v := x.Data.(type) {
	case []float32:
		for _, f := range v {
			out = append(out, uint64(math.Float32bits(f)))
		}
	case []float64:
		for _, f := range v {
			out = append(out, math.Float64bits(f))
		}
	}
	return out
}

// equal fails unless got holds what want holds, every value bit for bit.
func equal(t *testing.T, got, want *checkpoint.Checkpoint) {
	t.Helper()
	if got.Version != want.Version || got.Dtype != want.Dtype || got.Classes != want.Classes || got.Epoch != want.Epoch ||
		got.Step != want.Step || got.LR != want.LR || got.Sums != want.Sums {
		t.Fatalf("read %+v, want %+v", got, want)
	}
	for k, v := range want.Metadata {
		if got.Metadata[k] != v && !owned[k] {
			t.Fatalf("metadata %s=%q, want %q", k, got.Metadata[k], v)
		}
	}
	if len(got.Tensors) != len(want.Tensors) {
		t.Fatalf("%d tensors, want %d", len(got.Tensors), len(want.Tensors))
	}
	for name, w := range want.Tensors {
		g := got.Tensors[name]
		if g == nil || !slices.Equal(g.Shape, w.Shape) || !slices.Equal(bits(g), bits(w)) {
			t.Fatalf("tensor %s differs", name)
		}
	}
}

// owned are the metadata keys of the typed fields, which writing replaces.
var owned = map[string]bool{
	"checkpoint": true, "checkpoint_version": true, "format": true, "model": true, "dtype": true, "classes": true,
	"epoch": true, "step": true, "current_lr": true, "epoch_loss_sum": true, "epoch_softmax_sum": true,
	"epoch_center_sum": true, "epoch_correct": true, "epoch_steps": true,
}

func encode(t testing.TB, c *checkpoint.Checkpoint) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := c.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo says %d bytes, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

func decode(data []byte) (*checkpoint.Checkpoint, error) {
	return checkpoint.Read(bytes.NewReader(data), int64(len(data)))
}

func TestRoundTrip(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		t.Run(dt.String(), func(t *testing.T) {
			want := testCheckpoint(dt, 1)
			want.Metadata["note"] = "kept"
			want.Metadata["epoch"] = "overwritten by Epoch"
			path := filepath.Join(t.TempDir(), "c.safetensors")
			if err := checkpoint.WriteFile(path, want); err != nil {
				t.Fatal(err)
			}
			got, err := checkpoint.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			equal(t, got, want)
			if got.Metadata["note"] != "kept" || got.Metadata["epoch"] != "7" {
				t.Fatalf("metadata %v: other keys are kept, typed fields own theirs", got.Metadata)
			}
		})
	}
}

// TestFilesOfVersion1 reads files written by the first version of this
// format, with every metadata key, and writes them back byte for byte.
func TestFilesOfVersion1(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		t.Run(dt.String(), func(t *testing.T) {
			path := filepath.Join("testdata", "v1_"+dt.String()+".safetensors")
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := checkpoint.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			third := 1.0
			third /= 3 // at run time: the constant 1.0/3 is exact
			for k, v := range testHyper() {
				if c.Metadata[k] != v {
					t.Errorf("metadata %s=%q, want %q", k, c.Metadata[k], v)
				}
			}
			if c.Dtype != dt || c.Classes != 10 || c.Epoch != 3 || c.Step != 2811 || c.LR != 0.0123*third ||
				c.Sums != (checkpoint.Sums{Loss: 12.5 / 3, Softmax: 10.25, Center: 0.3, Correct: 101, Steps: 7}) {
				t.Errorf("read %+v", c)
			}
			if c.Metadata["note"] != "kept as written" {
				t.Errorf("metadata %v", c.Metadata)
			}
			centers := c.Tensors[checkpoint.Centers]
			if !slices.Equal(centers.Shape, []int{10, 2}) || centers.Len() != 20 || centers.Dtype() != dt {
				t.Fatalf("centers %v, %d values of %v", centers.Shape, centers.Len(), centers.Dtype())
			}
			if again := encode(t, c); !bytes.Equal(again, raw) {
				t.Fatalf("written back as %d different bytes, want the %d of %s", len(again), len(raw), path)
			}
		})
	}
}

// TestFileLayout checks the safetensors framing byte by byte.
func TestFileLayout(t *testing.T) {
	c := testCheckpoint(tensor.Float32, 2)
	path := filepath.Join(t.TempDir(), "c.safetensors")
	if err := checkpoint.WriteFile(path, c); err != nil {
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
	if e.Dtype != "F32" || !slices.Equal(e.Shape, []int{4, 1, 5, 5}) {
		t.Fatalf("conv1_1.weight: %+v", e)
	}
	w := c.Tensors["conv1_1.weight"].Data.([]float32)
	raw := data[8+n+e.DataOffsets[0] : 8+n+e.DataOffsets[1]]
	for i, v := range w {
		if got := binary.LittleEndian.Uint32(raw[4*i:]); got != math.Float32bits(v) {
			t.Fatalf("conv1_1.weight[%d] stored as %#x, want %#x", i, got, math.Float32bits(v))
		}
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, %v; want 0644", info.Mode(), err)
	}
}

// rewriteHeader changes the JSON header of a checkpoint, keeping its data.
func rewriteHeader(t *testing.T, data []byte, edit func(h map[string]any)) []byte {
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

// entry returns the header entry of a tensor as a generic map.
func entry(h map[string]any, name string) map[string]any { return h[name].(map[string]any) }

// lastTensor returns the name of the tensor stored last.
func lastTensor(h map[string]any) string {
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

func TestReadFileErrors(t *testing.T) {
	valid := encode(t, testCheckpoint(tensor.Float32, 5))
	n := int(binary.LittleEndian.Uint64(valid))
	with := func(f func(b []byte)) []byte {
		b := slices.Clone(valid)
		f(b)
		return b
	}
	header := func(f func(h map[string]any)) []byte { return rewriteHeader(t, valid, f) }
	meta := func(f func(m map[string]any)) []byte {
		return header(func(h map[string]any) { f(h["__metadata__"].(map[string]any)) })
	}
	edited := func(f func(c *checkpoint.Checkpoint)) []byte {
		c := testCheckpoint(tensor.Float32, 5)
		f(c)
		return encode(t, c)
	}
	drop := func(names ...string) []byte {
		return edited(func(c *checkpoint.Checkpoint) {
			for _, name := range names {
				delete(c.Tensors, name)
			}
		})
	}
	reshape := func(shape []int, names ...string) []byte {
		return edited(func(c *checkpoint.Checkpoint) {
			for _, name := range names {
				c.Tensors[name].Shape = shape
			}
		})
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
		{name: "empty", data: []byte{}, want: "truncated: the file has 0 bytes", wantErr: checkpoint.ErrTruncated},
		{name: "cut in the length", data: valid[:5], want: "fewer than the 8", wantErr: checkpoint.ErrTruncated},
		{name: "cut after the length", data: valid[:8], want: "only 0 bytes follow", wantErr: checkpoint.ErrTruncated},
		{name: "cut in the header", data: valid[:8+n/2], want: "truncated: the header length says", wantErr: checkpoint.ErrTruncated},
		{name: "cut after the header", data: valid[:8+n], want: "truncated: the tensors need", wantErr: checkpoint.ErrTruncated},
		{name: "cut in the data", data: valid[:8+n+100], want: "truncated: the tensors need", wantErr: checkpoint.ErrTruncated},
		{name: "cut by one byte", data: valid[:len(valid)-1], want: "truncated: the tensors need", wantErr: checkpoint.ErrTruncated},
		{name: "huge header length", data: with(func(b []byte) { b[7] = 0x40 }), want: "header length", wantErr: checkpoint.ErrNotSafetensors},
		{name: "header length too short", data: with(func(b []byte) { binary.LittleEndian.PutUint64(b, uint64(n-16)) }), want: "not valid JSON", wantErr: checkpoint.ErrNotSafetensors},
		{name: "header not JSON", data: with(func(b []byte) { b[8] = 'x' }), want: "the header is not a JSON object", wantErr: checkpoint.ErrNotSafetensors},
		{name: "header bit flip", data: with(func(b []byte) { b[bytes.Index(b, []byte(`"data_offsets"`))] ^= 0x80 }), want: "not valid JSON", wantErr: checkpoint.ErrNotSafetensors},
		{name: "garbage", data: []byte("this is certainly not a checkpoint, it is some text"), want: "header length", wantErr: checkpoint.ErrNotSafetensors},
		{name: "unknown header field", data: header(func(h map[string]any) { entry(h, "fc1.bias")["extra"] = 1 }), want: `tensor "fc1.bias": bad header entry`, wantErr: checkpoint.ErrNotSafetensors},
		{name: "no dtype", data: header(func(h map[string]any) { delete(entry(h, "fc1.bias"), "dtype") }), want: "lacks dtype", wantErr: checkpoint.ErrNotSafetensors},
		{name: "dtype I64", data: header(func(h map[string]any) { entry(h, "fc1.bias")["dtype"] = "I64" }), want: `tensor "fc1.bias": wrong dtype "I64"`},
		{name: "negative shape", data: header(func(h map[string]any) { entry(h, "fc1.bias")["shape"] = []int{-2} }), want: "bad shape", wantErr: checkpoint.ErrNotSafetensors},
		{name: "shape against offsets", data: header(func(h map[string]any) { entry(h, "fc1.bias")["shape"] = []int{3} }), want: "shape (3,) of F32 needs 12 bytes", wantErr: checkpoint.ErrNotSafetensors},
		{name: "huge shape", data: header(func(h map[string]any) { entry(h, "fc1.bias")["shape"] = []int{1 << 30, 1 << 30, 1 << 30} }), want: "more than 2^64", wantErr: checkpoint.ErrNotSafetensors},
		{name: "offsets reversed", data: header(func(h map[string]any) {
			e := entry(h, "fc1.bias")
			o := e["data_offsets"].([]any)
			e["data_offsets"] = []any{o[1], o[0]}
		}), want: "end before they begin", wantErr: checkpoint.ErrNotSafetensors},
		{name: "offsets overlap", data: header(func(h map[string]any) {
			entry(h, "conv1_1.bias")["data_offsets"] = entry(h, "conv1_2.bias")["data_offsets"]
		}), want: "overlap", wantErr: checkpoint.ErrNotSafetensors},
		{name: "offsets out of range", data: header(func(h map[string]any) {
			e := entry(h, lastTensor(h))
			o := e["data_offsets"].([]any)
			a, _ := o[0].(json.Number).Int64()
			b, _ := o[1].(json.Number).Int64()
			e["data_offsets"] = []int64{a + 8, b + 8}
		}), want: "out of range", wantErr: checkpoint.ErrNotSafetensors},
		{name: "offsets near 2^64", data: header(func(h map[string]any) {
			entry(h, "fc1.bias")["data_offsets"] = []uint64{math.MaxUint64 - 8, math.MaxUint64}
		}), want: "out of range", wantErr: checkpoint.ErrNotSafetensors},
		{name: "trailing bytes", data: append(slices.Clone(valid), 1, 2, 3), want: "3 unexpected bytes", wantErr: checkpoint.ErrNotSafetensors},
		{name: "duplicate name", data: with(func(b []byte) {
			i := bytes.Index(b, []byte(`"conv1_2.bias"`))
			copy(b[i:], `"conv1_1.bias"`)
		}), want: `names "conv1_1.bias" twice`, wantErr: checkpoint.ErrNotSafetensors},
		{name: "no metadata", data: header(func(h map[string]any) { delete(h, "__metadata__") }), want: "no __metadata__", wantErr: checkpoint.ErrNotSafetensors},
		{name: "metadata not strings", data: meta(func(m map[string]any) { m["epoch"] = 7 }), want: "__metadata__ must be an object of strings", wantErr: checkpoint.ErrNotSafetensors},
		{name: "another safetensors file", data: meta(func(m map[string]any) { delete(m, "checkpoint") }), want: `metadata checkpoint=""`, wantErr: checkpoint.ErrNotSafetensors},
		{name: "newer version", data: meta(func(m map[string]any) { m["checkpoint_version"] = "2" }), want: "checkpoint_version 2 is newer"},
		{name: "dtype metadata", data: meta(func(m map[string]any) { m["dtype"] = "float64" }), want: "wrong dtype F32: the checkpoint is float64"},
		{name: "tensor dtype", data: edited(func(c *checkpoint.Checkpoint) {
			c.Tensors["fc1.bias"] = &checkpoint.Tensor{Shape: []int{2}, Data: make([]float64, 2)}
		}), want: `tensor "fc1.bias": wrong dtype F64: the checkpoint is float32`},
		{name: "momentum missing", data: drop("momentum.fc1.bias"), want: `tensor "momentum.fc1.bias" is missing`},
		{name: "momentum alone", data: drop("fc1.bias"), want: `tensor "fc1.bias" is missing`},
		{name: "centers missing", data: drop("centers"), want: `tensor "centers" is missing`},
		{name: "centers shape", data: reshape([]int{5, 4}, "centers"), want: `tensor "centers" has shape (5, 4), but the metadata says 10 classes: want (10, D)`},
		{name: "momentum shape", data: reshape([]int{4, 1, 25}, "momentum.conv1_1.weight"), want: `tensor "momentum.conv1_1.weight" has shape (4, 1, 25), but "conv1_1.weight" has (4, 1, 5, 5)`},
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
			c, err := checkpoint.ReadFile(path)
			if err == nil || c != nil {
				t.Fatalf("read %v, error %v", c, err)
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

func TestReadErrors(t *testing.T) {
	valid := encode(t, testCheckpoint(tensor.Float32, 5))
	// A reader shorter than the size it claims.
	_, err := checkpoint.Read(bytes.NewReader(valid[:len(valid)-10]), int64(len(valid)))
	if !errors.Is(err, checkpoint.ErrTruncated) || !strings.Contains(err.Error(), "the tensor data ends after") {
		t.Fatalf("short reader: %v", err)
	}
	// A reader that fails.
	boom := errors.New("disk on fire")
	_, err = checkpoint.Read(io.MultiReader(bytes.NewReader(valid[:100]), failReader{boom}), int64(len(valid)))
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "reading the header") {
		t.Fatalf("failing reader: %v", err)
	}
	// A size that lies high is caught before anything that large is read.
	_, err = checkpoint.Read(bytes.NewReader(valid), 1<<50)
	if !errors.Is(err, checkpoint.ErrNotSafetensors) || !strings.Contains(err.Error(), "unexpected bytes after the tensor data") {
		t.Fatalf("size 2^50: %v", err)
	}
}

type failReader struct{ err error }

func (r failReader) Read([]byte) (int, error) { return 0, r.err }

func TestWriteToErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		x    *checkpoint.Tensor
	}{
		{"length", &checkpoint.Tensor{Shape: []int{2, 2}, Data: []float32{1, 2, 3}}},
		{"type", &checkpoint.Tensor{Shape: []int{2}, Data: []int{1, 2}}},
		{"shape", &checkpoint.Tensor{Shape: []int{-1}, Data: []float32{}}},
		{"nil", nil},
	} {
		c := &checkpoint.Checkpoint{Version: 1, Tensors: map[string]*checkpoint.Tensor{"x": tc.x}}
		var buf bytes.Buffer
		if _, err := c.WriteTo(&buf); err == nil || buf.Len() != 0 {
			t.Errorf("%s: error %v after %d bytes", tc.name, err, buf.Len())
		}
	}
}

// TestWriteFileKeepsOldFile: a write that cannot be made leaves the file it
// would replace as it was, and says which file it was.
func TestWriteFileKeepsOldFile(t *testing.T) {
	good := testCheckpoint(tensor.Float32, 10)
	dir := t.TempDir()
	path := filepath.Join(dir, "run.safetensors")
	if err := checkpoint.WriteFile(path, good); err != nil {
		t.Fatal(err)
	}
	bad := testCheckpoint(tensor.Float32, 11)
	bad.Tensors["x"] = &checkpoint.Tensor{Shape: []int{2}, Data: []float32{1}}
	err := checkpoint.WriteFile(path, bad)
	if err == nil || !strings.HasPrefix(err.Error(), "write checkpoint "+path+": ") {
		t.Fatalf("error %v does not name the file", err)
	}
	got, err := checkpoint.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, got, good)
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("folder holds %v (%v), want only the checkpoint", entries, err)
	}

	missing := filepath.Join(dir, "no", "such", "folder", "run.safetensors")
	if err := checkpoint.WriteFile(missing, good); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing folder: error %v does not name the file", err)
	}
}

// tiny builds a small checkpoint: full metadata, but only the centers and
// the classifier of a D=2 network, with their momentum buffers.
func tiny(dt tensor.Dtype) []byte {
	c := &checkpoint.Checkpoint{
		Version: checkpoint.Version, Metadata: testHyper(),
		Dtype: dt, Classes: 10, Epoch: 3, Step: 2811, LR: 0.01, Tensors: map[string]*checkpoint.Tensor{},
	}
	for i, name := range []string{"centers", "fc2.weight", "momentum.fc2.weight"} {
		if dt == tensor.Float32 {
			v := make([]float32, 20)
			for j := range v {
				v[j] = float32(i*20+j) / 8
			}
			c.Tensors[name] = &checkpoint.Tensor{Shape: []int{10, 2}, Data: v}
		} else {
			v := make([]float64, 20)
			for j := range v {
				v[j] = float64(i*20+j) / 8
			}
			c.Tensors[name] = &checkpoint.Tensor{Shape: []int{10, 2}, Data: v}
		}
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// TestFuzzCorpus checks that the committed seeds whose names start with
// "valid" parse and all others fail. The valid ones predate the epoch
// sums, so they also show that files without those keys load.
func TestFuzzCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzRead", "*"))
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
		c, err := decode([]byte(s))
		valid := strings.HasPrefix(filepath.Base(f), "valid")
		if valid != (err == nil) {
			t.Errorf("%s: error %v", f, err)
		}
		if valid && err == nil && (c.Sums != (checkpoint.Sums{}) || c.Epoch != 3) {
			t.Errorf("%s: sums %+v, epoch %d", f, c.Sums, c.Epoch)
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		b := tiny(dt)
		n := int(binary.LittleEndian.Uint64(b))
		f.Add(b)
		f.Add(b[:8+n])
		f.Add(b[:len(b)-3])
	}
	f.Add([]byte{})
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decode(data)
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
			if n != x.Len() || x.Dtype() != c.Dtype {
				t.Fatalf("tensor %s: %d values of %v for shape %v, checkpoint %v", name, x.Len(), x.Dtype(), x.Shape, c.Dtype)
			}
			total += n * int(c.Dtype.Size())
		}
		if 8+total > len(data) {
			t.Fatalf("%d bytes of tensors from %d bytes of input", total, len(data))
		}
		// Writing it back and reading it again gives the same checkpoint.
		d, err := decode(encode(t, c))
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		equal(t, d, c)
	})
}
