package train

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gorgonia.org/tensor"
)

// CheckpointVersion is the version of the checkpoint layout this package
// writes (metadata "checkpoint_version"); it reads this version and older.
//
// Metadata keys, all strings as safetensors requires:
//
//	checkpoint          "centerloss-go", marks a checkpoint of this package
//	checkpoint_version  CheckpointVersion
//	format              "pt": the tensors follow PyTorch's layout
//	model               "LeNet++"
//	dtype               "float32" or "float64"
//	classes             number of classes (10)
//	epoch, step         epochs and steps completed
//	current_lr          learning rate of the next epoch, Hyper.LRAt(epoch+1)
//	seed, batch, dim, lr, lr_steps, lr_gamma, momentum, weight_decay, lambda, alpha, shift
//	                    the Hyper fields; lr_steps is comma-separated ("7,9", or
//	                    "" for none); floats are written in the shortest form
//	                    that reads back to the same float64; shift may be
//	                    missing (checkpoints written before it), meaning 0
//	epoch_loss_sum, epoch_softmax_sum, epoch_center_sum, epoch_correct, epoch_steps
//	                    Trainer.Sums, the running sums of an epoch interrupted
//	                    part-way; missing in older checkpoints, meaning none
const CheckpointVersion = 1

const (
	checkpointMagic = "centerloss-go"

	// maxHeaderLen bounds the JSON header, as the reference implementation does.
	maxHeaderLen = 100_000_000
	// maxTensorDim bounds one dimension of a tensor shape.
	maxTensorDim = math.MaxInt32
	// maxBatch bounds the batch size a checkpoint may ask a trainer for.
	maxBatch = 1 << 20
)

var (
	// ErrNotSafetensors reports input that is not a safetensors file, or a
	// safetensors file that is not a checkpoint of this package.
	ErrNotSafetensors = errors.New("not a safetensors checkpoint")
	// ErrCheckpointTruncated reports a checkpoint file that ends early.
	ErrCheckpointTruncated = errors.New("truncated")
	// ErrCheckpointMismatch reports a checkpoint that does not fit the
	// trainer it is restored into (a tensor missing, another shape, dtype or
	// feature dimension).
	ErrCheckpointMismatch = errors.New("checkpoint does not fit the trainer")
)

// Checkpoint is the content of a checkpoint file.
//
// Checkpoint files are safetensors files (https://github.com/huggingface/safetensors):
// an 8-byte little-endian header length, a JSON header mapping each tensor
// name to {"dtype", "shape", "data_offsets"} plus a "__metadata__" object of
// strings (see CheckpointVersion for its keys), then the raw little-endian
// tensor data. The header is padded with spaces to a multiple of 8 bytes and
// the tensors are stored in name order.
//
// Tensor names:
//
//	conv1_1.weight ... fc2.weight  the network parameters, named and laid out as
//	                               the state_dict of the equivalent PyTorch module
//	                               (see graph.Param); fc1.weight is (D, 1152)
//	centers                        the class centers, (classes, D)
//	momentum.<name>                the SGD momentum buffer of parameter <name>
//
// Every tensor has the trainer's dtype, F32 or F64. A checkpoint is meant to
// be taken between epochs: the shuffling of an epoch depends only on the seed
// and the epoch number, so training resumed from it sees the same batches as
// a run that never stopped.
type Checkpoint struct {
	Version int          // checkpoint_version
	Hyper   Hyper        // hyperparameters of the run
	Dtype   tensor.Dtype // tensor.Float32 or tensor.Float64
	Classes int
	Epoch   int       // epochs completed
	Step    int       // steps completed
	LR      float64   // learning rate of the next epoch, Hyper.LRAt(Epoch+1)
	Sums    EpochSums // of the epoch under way when Step is part-way through one

	// Metadata is the file's __metadata__. When writing, the typed fields
	// above replace the keys they own; other keys are kept as they are.
	Metadata map[string]string
	// Tensors holds every tensor by name.
	Tensors map[string]*Tensor
}

// Tensor is one tensor of a checkpoint.
type Tensor struct {
	Shape []int
	Data  any // []float32 or []float64, row-major, as many entries as Shape says
}

// Dtype returns the element type of x.
func (x *Tensor) Dtype() tensor.Dtype {
	switch x.Data.(type) {
	case []float32:
		return tensor.Float32
	case []float64:
		return tensor.Float64
	}
	return tensor.Dtype{}
}

func (x *Tensor) len() int {
	switch d := x.Data.(type) {
	case []float32:
		return len(d)
	case []float64:
		return len(d)
	}
	return 0
}

// momentumPrefix starts the name of a parameter's momentum buffer.
const momentumPrefix = "momentum."

// centersName is the name of the class centers.
const centersName = "centers"

// Checkpoint returns a copy of everything t needs to resume: weights, PReLU
// slopes, centers, momentum buffers, position and hyperparameters.
func (t *Trainer) Checkpoint() (*Checkpoint, error) {
	h := t.Hyper
	h.LRSteps = slices.Clone(h.LRSteps)
	c := &Checkpoint{
		Version: CheckpointVersion, Hyper: h, Dtype: t.Dtype, Classes: t.Net.Classes,
		Epoch: t.Epoch, Step: t.Step, LR: t.LRAt(t.Epoch + 1), Sums: t.Sums,
		Tensors: make(map[string]*Tensor),
	}
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
		c.Tensors[name] = &Tensor{Shape: slices.Clone([]int(d.Shape())), Data: data}
		return nil
	}
	for _, p := range t.Net.Params {
		w, _ := p.Node.Value().(*tensor.Dense)
		if err := add(p.Name, w); err != nil {
			return nil, err
		}
		if err := add(momentumPrefix+p.Name, t.Solver.Velocity(p.Name)); err != nil {
			return nil, err
		}
	}
	if err := add(centersName, t.Centers.Tensor()); err != nil {
		return nil, err
	}
	return c, nil
}

// SaveCheckpoint writes t atomically to path: a temporary file in the same
// folder, fsync, rename, fsync the folder. A crash never leaves a torn file
// in place of a good one.
func SaveCheckpoint(path string, t *Trainer) error {
	c, err := t.Checkpoint()
	if err != nil {
		return fmt.Errorf("save checkpoint %s: %w", path, err)
	}
	err = writeAtomic(path, func(w *bufio.Writer) error {
		_, err := c.WriteTo(w)
		return err
	})
	if err != nil {
		return fmt.Errorf("save checkpoint %s: %w", path, err)
	}
	return nil
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
	c, err := ReadCheckpointFile(path)
	if err != nil {
		return nil, err
	}
	h := c.Hyper
	h.LRSteps = slices.Clone(h.LRSteps)
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

// ReadCheckpointFile reads and checks the checkpoint at path without building
// a trainer. Every error names path.
func ReadCheckpointFile(path string) (*Checkpoint, error) {
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
	c, err := ReadCheckpoint(bufio.NewReaderSize(f, 1<<16), fi.Size())
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return c, nil
}

// Restore sets t to the state saved in c: weights, PReLU slopes, centers,
// momentum buffers, epoch and step. The hyperparameters stay t's own (they
// are built into its graphs). It checks everything before it changes
// anything: on error t is untouched. Errors wrap ErrCheckpointMismatch.
func (t *Trainer) Restore(c *Checkpoint) error {
	mismatch := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrCheckpointMismatch}, args...)...)
	}
	if c.Dtype != t.Dtype {
		return mismatch("checkpoint is %v, trainer is %v", c.Dtype, t.Dtype)
	}
	if c.Hyper.Dim != t.Dim {
		return mismatch("feature dimension: checkpoint has D=%d, trainer has D=%d", c.Hyper.Dim, t.Dim)
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
		targets = append(targets, target{p.Name, w}, target{momentumPrefix + p.Name, t.Solver.Velocity(p.Name)})
	}
	targets = append(targets, target{centersName, t.Centers.Tensor()})
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
			return mismatch("tensor %s has shape %s, trainer wants %s", tg.name, shapeString(src.Shape), shapeString(want))
		}
		if src.Dtype() != t.Dtype {
			return mismatch("tensor %s is %s, trainer is %v", tg.name, safetensorsDtype(src.Dtype()), t.Dtype)
		}
		if src.len() != tg.dst.Shape().TotalSize() {
			return mismatch("tensor %s has %d values for shape %s", tg.name, src.len(), shapeString(src.Shape))
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
	t.Epoch, t.Step, t.Sums = c.Epoch, c.Step, c.Sums
	t.Solver.LR = t.LRAt(t.Epoch + 1)
	return nil
}

// metadata returns the __metadata__ of c.
func (c *Checkpoint) metadata() map[string]string {
	m := make(map[string]string, len(c.Metadata)+20)
	for k, v := range c.Metadata {
		m[k] = v
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	steps := make([]string, len(c.Hyper.LRSteps))
	for i, s := range c.Hyper.LRSteps {
		steps[i] = strconv.Itoa(s)
	}
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
		"seed":               strconv.FormatUint(c.Hyper.Seed, 10),
		"batch":              strconv.Itoa(c.Hyper.Batch),
		"dim":                strconv.Itoa(c.Hyper.Dim),
		"lr":                 f(c.Hyper.LR),
		"lr_steps":           strings.Join(steps, ","),
		"lr_gamma":           f(c.Hyper.LRGamma),
		"momentum":           f(c.Hyper.Momentum),
		"weight_decay":       f(c.Hyper.WeightDecay),
		"lambda":             f(c.Hyper.Lambda),
		"alpha":              f(c.Hyper.Alpha),
		"shift":              strconv.Itoa(c.Hyper.Shift),
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

type headerEntry struct {
	Dtype       string    `json:"dtype"`
	Shape       []int     `json:"shape"`
	DataOffsets [2]uint64 `json:"data_offsets"`
}

// WriteTo writes c in the safetensors format. It writes nothing if a tensor
// is inconsistent (data length against shape, element type).
func (c *Checkpoint) WriteTo(w io.Writer) (int64, error) {
	names := make([]string, 0, len(c.Tensors))
	for name := range c.Tensors {
		if name == "__metadata__" {
			return 0, errors.New("write checkpoint: a tensor cannot be called __metadata__")
		}
		names = append(names, name)
	}
	sort.Strings(names)
	header := make(map[string]any, len(names)+1)
	header["__metadata__"] = c.metadata()
	var offset uint64
	for _, name := range names {
		x := c.Tensors[name]
		if x == nil {
			return 0, fmt.Errorf("write checkpoint: tensor %s is nil", name)
		}
		dt := safetensorsDtype(x.Dtype())
		if dt == "" {
			return 0, fmt.Errorf("write checkpoint: tensor %s holds %T, want []float32 or []float64", name, x.Data)
		}
		n := 1
		for _, s := range x.Shape {
			if s < 0 {
				return 0, fmt.Errorf("write checkpoint: tensor %s has shape %s", name, shapeString(x.Shape))
			}
			n *= s
		}
		if n != x.len() {
			return 0, fmt.Errorf("write checkpoint: tensor %s has %d values for shape %s", name, x.len(), shapeString(x.Shape))
		}
		size := uint64(n) * uint64(x.Dtype().Size())
		shape := append(make([]int, 0, len(x.Shape)), x.Shape...) // [] rather than null for a scalar
		header[name] = headerEntry{Dtype: dt, Shape: shape, DataOffsets: [2]uint64{offset, offset + size}}
		offset += size
	}
	js, err := json.Marshal(header)
	if err != nil {
		return 0, fmt.Errorf("write checkpoint: %w", err)
	}
	if pad := (8 - len(js)%8) % 8; pad > 0 {
		js = append(js, bytes.Repeat([]byte(" "), pad)...)
	}
	cw := &countingWriter{w: w}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(js)))
	if _, err := cw.Write(lenBuf[:]); err != nil {
		return cw.n, err
	}
	if _, err := cw.Write(js); err != nil {
		return cw.n, err
	}
	for _, name := range names {
		if err := binary.Write(cw, binary.LittleEndian, c.Tensors[name].Data); err != nil {
			return cw.n, err
		}
	}
	return cw.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadCheckpoint parses a checkpoint of size bytes from r without building a
// trainer, for inspection. It checks the safetensors structure (header
// length, JSON, dtypes, shapes, data offsets that tile the data exactly), the
// metadata, and that the tensors agree with each other: the centers are
// (classes, dim) and every parameter has a momentum buffer of its shape.
// Whether the tensors fit a network is checked by Trainer.Restore. Errors do
// not name the input: the caller does.
func ReadCheckpoint(r io.Reader, size int64) (*Checkpoint, error) {
	truncated := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrCheckpointTruncated}, args...)...)
	}
	notST := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrNotSafetensors}, args...)...)
	}
	if size < 8 {
		return nil, truncated("the file has %d bytes, fewer than the 8 of the safetensors header length", max(size, 0))
	}
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, readErr(err, "the header length")
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n < 2 || n > maxHeaderLen {
		return nil, notST("header length %d is implausible (a safetensors file starts with the length of its JSON header)", n)
	}
	if n > uint64(size-8) {
		return nil, truncated("the header length says %d bytes of header, but only %d bytes follow it", n, size-8)
	}
	js := make([]byte, n)
	if _, err := io.ReadFull(r, js); err != nil {
		return nil, readErr(err, "the header")
	}
	entries, meta, err := parseHeader(js)
	if err != nil {
		return nil, err
	}
	dataLen := uint64(size) - 8 - n
	if err := checkOffsets(entries, dataLen); err != nil {
		return nil, err
	}
	var total uint64
	if len(entries) > 0 {
		total = entries[len(entries)-1].end
	}
	// checkOffsets made total == dataLen <= size: the read is bounded by the
	// input, and grows with what is actually read.
	data, err := io.ReadAll(io.LimitReader(r, int64(total)))
	if err != nil {
		return nil, readErr(err, "the tensor data")
	}
	if uint64(len(data)) < total {
		return nil, truncated("the tensor data ends after %d of %d bytes", len(data), total)
	}
	c := &Checkpoint{Metadata: meta, Tensors: make(map[string]*Tensor, len(entries))}
	for _, e := range entries {
		b := data[e.start:e.end]
		x := &Tensor{Shape: e.shape}
		switch e.dtype {
		case tensor.Float32:
			v := make([]float32, len(b)/4)
			for i := range v {
				v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
			x.Data = v
		default:
			v := make([]float64, len(b)/8)
			for i := range v {
				v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
			}
			x.Data = v
		}
		c.Tensors[e.name] = x
	}
	if err := c.parseMetadata(); err != nil {
		return nil, err
	}
	if err := c.checkTensors(); err != nil {
		return nil, err
	}
	return c, nil
}

func readErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the file ends inside %s", ErrCheckpointTruncated, what)
	}
	return fmt.Errorf("reading %s: %w", what, err)
}

type entry struct {
	name       string
	dtype      tensor.Dtype
	shape      []int
	start, end uint64
}

// parseHeader decodes the JSON header into its tensor entries, sorted by
// data offsets, and its metadata.
func parseHeader(js []byte) ([]entry, map[string]string, error) {
	notST := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrNotSafetensors}, args...)...)
	}
	trimmed := bytes.TrimRight(js, " ")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, nil, notST("the header is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // the '{'
		return nil, nil, notST("the header is not valid JSON: %v", err)
	}
	var entries []entry
	var meta map[string]string
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, notST("the header is not valid JSON: %v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, nil, notST("the header is not valid JSON: key %v", tok)
		}
		if seen[name] {
			return nil, nil, notST("the header names %q twice", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, notST("the header is not valid JSON: %v", err)
		}
		if name == "__metadata__" {
			if err := json.Unmarshal(raw, &meta); err != nil || meta == nil {
				return nil, nil, notST("__metadata__ must be an object of strings: %s", clip(raw))
			}
			continue
		}
		e, err := parseEntry(name, raw)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // the '}'
		return nil, nil, notST("the header is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, notST("the header has data after its JSON object")
	}
	sort.Slice(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		return a.start < b.start || (a.start == b.start && a.end < b.end)
	})
	return entries, meta, nil
}

func parseEntry(name string, raw json.RawMessage) (entry, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: tensor %q: "+format, append([]any{ErrNotSafetensors, name}, args...)...)
	}
	var h struct {
		Dtype       *string        `json:"dtype"`
		Shape       *[]json.Number `json:"shape"`
		DataOffsets *[]json.Number `json:"data_offsets"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&h); err != nil {
		return entry{}, bad("bad header entry %s: %v", clip(raw), err)
	}
	if h.Dtype == nil || h.Shape == nil || h.DataOffsets == nil {
		return entry{}, bad("header entry %s lacks dtype, shape or data_offsets", clip(raw))
	}
	e := entry{name: name}
	switch *h.Dtype {
	case "F32":
		e.dtype = tensor.Float32
	case "F64":
		e.dtype = tensor.Float64
	default:
		return entry{}, fmt.Errorf("tensor %q: wrong dtype %q: checkpoints hold F32 or F64", name, *h.Dtype)
	}
	count := uint64(1)
	overflow := false
	e.shape = make([]int, len(*h.Shape))
	for i, s := range *h.Shape {
		v, err := strconv.ParseInt(s.String(), 10, 64)
		if err != nil || v < 0 || v > maxTensorDim {
			return entry{}, bad("bad shape %s", clip(raw))
		}
		e.shape[i] = int(v)
		hi, lo := bits.Mul64(count, uint64(v))
		overflow = overflow || hi != 0
		count = lo
	}
	hi, need := bits.Mul64(count, uint64(e.dtype.Size()))
	overflow = overflow || hi != 0
	if len(*h.DataOffsets) != 2 {
		return entry{}, bad("data_offsets must be [begin, end], got %s", clip(raw))
	}
	var off [2]uint64
	for i, s := range *h.DataOffsets {
		v, err := strconv.ParseUint(s.String(), 10, 64)
		if err != nil {
			return entry{}, bad("bad data_offsets %s", clip(raw))
		}
		off[i] = v
	}
	e.start, e.end = off[0], off[1]
	if e.end < e.start {
		return entry{}, bad("data offsets [%d, %d) end before they begin", e.start, e.end)
	}
	if overflow || e.end-e.start != need {
		return entry{}, bad("data offsets [%d, %d) hold %d bytes, but shape %s of %s needs %s bytes",
			e.start, e.end, e.end-e.start, shapeString(e.shape), *h.Dtype, needString(need, overflow))
	}
	return e, nil
}

func needString(need uint64, overflow bool) string {
	if overflow {
		return "more than 2^64"
	}
	return strconv.FormatUint(need, 10)
}

// checkOffsets checks that the tensors, sorted by offset, cover the dataLen
// bytes of data exactly, without gaps or overlaps.
func checkOffsets(entries []entry, dataLen uint64) error {
	var prev *entry
	var gapAt, gapEnd uint64
	gap := false
	pos := uint64(0)
	for i := range entries {
		e := &entries[i]
		if prev != nil && e.start < prev.end {
			return fmt.Errorf("%w: data offsets of tensors %q [%d, %d) and %q [%d, %d) overlap",
				ErrNotSafetensors, prev.name, prev.start, prev.end, e.name, e.start, e.end)
		}
		if e.start > pos && !gap {
			gap, gapAt, gapEnd = true, pos, e.start
		}
		pos = e.end
		prev = e
	}
	if gap {
		for _, e := range entries {
			if e.end > dataLen {
				return fmt.Errorf("%w: data offsets of tensor %q [%d, %d) are out of range: the data has %d bytes",
					ErrNotSafetensors, e.name, e.start, e.end, dataLen)
			}
		}
		return fmt.Errorf("%w: data bytes [%d, %d) belong to no tensor", ErrNotSafetensors, gapAt, gapEnd)
	}
	if pos > dataLen {
		last := entries[len(entries)-1]
		return fmt.Errorf("%w: the tensors need %d bytes of data after the header, the file has %d (tensor %q ends at %d)",
			ErrCheckpointTruncated, pos, dataLen, last.name, last.end)
	}
	if pos < dataLen {
		return fmt.Errorf("%w: %d unexpected bytes after the tensor data", ErrNotSafetensors, dataLen-pos)
	}
	return nil
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
	if len(errs) == 0 && c.Version > CheckpointVersion {
		return fmt.Errorf("checkpoint_version %d is newer than this program's %d", c.Version, CheckpointVersion)
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
	h := &c.Hyper
	if s, ok := get("seed"); ok {
		var err error
		if h.Seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			errs = append(errs, fmt.Errorf("metadata: seed=%q, want an unsigned integer", s))
		}
	}
	h.Batch = integer("batch", 1, maxBatch)
	h.Dim = integer("dim", 1, maxTensorDim)
	h.LR = float("lr")
	h.LRGamma = float("lr_gamma")
	h.Momentum = float("momentum")
	h.WeightDecay = float("weight_decay")
	h.Lambda = float("lambda")
	h.Alpha = float("alpha")
	h.Shift = 0
	if _, ok := m["shift"]; ok {
		h.Shift = integer("shift", 0, maxShift)
	}
	c.Sums = EpochSums{}
	if _, ok := m["epoch_steps"]; ok {
		c.Sums = EpochSums{Loss: float("epoch_loss_sum"), Softmax: float("epoch_softmax_sum"),
			Center: float("epoch_center_sum"), Correct: integer("epoch_correct", 0, math.MaxInt),
			Steps: integer("epoch_steps", 0, math.MaxInt)}
	}
	h.LRSteps = nil
	if s, ok := get("lr_steps"); ok && s != "" {
		for _, f := range strings.Split(s, ",") {
			v, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				errs = append(errs, fmt.Errorf("metadata: lr_steps=%q, want comma-separated epochs", s))
				break
			}
			h.LRSteps = append(h.LRSteps, v)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := h.Validate(); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	return nil
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
			return fmt.Errorf("tensor %q: wrong dtype %s: the checkpoint is %v (%s)", name, safetensorsDtype(dt), c.Dtype, safetensorsDtype(c.Dtype))
		}
	}
	centers, ok := c.Tensors[centersName]
	if !ok {
		return fmt.Errorf("tensor %q is missing", centersName)
	}
	if want := []int{c.Classes, c.Hyper.Dim}; !slices.Equal(centers.Shape, want) {
		return fmt.Errorf("tensor %q has shape %s, but the metadata says %d classes and D=%d",
			centersName, shapeString(centers.Shape), c.Classes, c.Hyper.Dim)
	}
	for _, name := range names {
		if name == centersName {
			continue
		}
		if base, ok := strings.CutPrefix(name, momentumPrefix); ok {
			p, ok := c.Tensors[base]
			if !ok {
				return fmt.Errorf("tensor %q is a momentum buffer, but tensor %q is missing", name, base)
			}
			if !slices.Equal(p.Shape, c.Tensors[name].Shape) {
				return fmt.Errorf("tensor %q has shape %s, but %q has %s",
					name, shapeString(c.Tensors[name].Shape), base, shapeString(p.Shape))
			}
			continue
		}
		if _, ok := c.Tensors[momentumPrefix+name]; !ok {
			return fmt.Errorf("tensor %q is missing (the momentum buffer of %q)", momentumPrefix+name, name)
		}
	}
	return nil
}

func safetensorsDtype(dt tensor.Dtype) string {
	switch dt {
	case tensor.Float32:
		return "F32"
	case tensor.Float64:
		return "F64"
	}
	return ""
}

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.Itoa(v)
	}
	if len(s) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// clip shortens raw JSON for an error message.
func clip(raw []byte) string {
	const n = 80
	if len(raw) > n {
		return strconv.Quote(string(raw[:n])) + "..."
	}
	return string(raw)
}
