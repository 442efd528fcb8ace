package checkpoint

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

	"github.com/centerloss-go/centerloss/internal/atomicfile"
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
//	seed, batch, dim, lr, lr_steps, lr_gamma, momentum, weight_decay, lambda, alpha, shift
//	                    the Hyper fields; lr_steps is comma-separated ("7,9", or
//	                    "" for none); floats are written in the shortest form
//	                    that reads back to the same float64; shift may be
//	                    missing (checkpoints written before it), meaning 0
//	dataset             the images the run learns when not MNIST: "fashion"
//	flip                "true" when the training images were mirrored at
//	                    random; missing when not
//	epoch_loss_sum, epoch_softmax_sum, epoch_center_sum, epoch_correct, epoch_steps
//	                    Sums, the running sums of an epoch interrupted
//	                    part-way; missing in older checkpoints, meaning none
const Version = 1

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
	// ErrTruncated reports a checkpoint file that ends early.
	ErrTruncated = errors.New("truncated")
)

// Checkpoint is the content of a checkpoint file: its metadata, typed, and
// its tensors by name (see the package documentation for both).
type Checkpoint struct {
	Version int          // checkpoint_version
	Hyper   Hyper        // hyperparameters of the run
	Dtype   tensor.Dtype // tensor.Float32 or tensor.Float64
	Classes int
	Epoch   int     // epochs completed
	Step    int     // steps completed
	LR      float64 // learning rate of the next epoch
	Sums    Sums    // of the epoch under way when Step is part-way through one

	// Metadata is the file's __metadata__. When writing, the typed fields
	// above replace the keys they own; other keys are kept as they are.
	Metadata map[string]string
	// Tensors holds every tensor by name.
	Tensors map[string]*Tensor
}

// Hyper are the hyperparameters a checkpoint keeps, one metadata key each.
// Their ranges are the trainer's to check; Read checks only that each is a
// number of its kind.
type Hyper struct {
	Batch       int     // batch
	LR          float64 // lr, the initial learning rate
	LRSteps     []int   // lr_steps, the epochs at whose start the rate is multiplied by LRGamma
	LRGamma     float64 // lr_gamma
	Momentum    float64 // momentum
	WeightDecay float64 // weight_decay
	Lambda      float64 // lambda, the weight of the center loss
	Alpha       float64 // alpha, the center learning rate
	Dim         int     // dim, the deep-feature dimension
	Seed        uint64  // seed
	Shift       int     // shift, the largest random translation in pixels; 0 when the key is missing
	Dataset     string  // dataset; "" (no key) is MNIST
	Flip        bool    // flip; false when the key is missing
}

// Sums are the running sums of an epoch stopped part-way (metadata
// epoch_loss_sum ... epoch_steps), so that the resumed epoch reports the
// means of all its steps; zero when the keys are missing.
type Sums struct {
	Loss, Softmax, Center float64 // of the steps' losses
	Correct               int     // training images classified correctly
	Steps                 int     // steps summed
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

// Len returns the number of values of x.
func (x *Tensor) Len() int {
	switch d := x.Data.(type) {
	case []float32:
		return len(d)
	case []float64:
		return len(d)
	}
	return 0
}

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
	delete(m, "dataset")
	if c.Hyper.Dataset != "" {
		m["dataset"] = c.Hyper.Dataset
	}
	delete(m, "flip")
	if c.Hyper.Flip {
		m["flip"] = "true"
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
				return 0, fmt.Errorf("write checkpoint: tensor %s has shape %s", name, FormatShape(x.Shape))
			}
			n *= s
		}
		if n != x.Len() {
			return 0, fmt.Errorf("write checkpoint: tensor %s has %d values for shape %s", name, x.Len(), FormatShape(x.Shape))
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

// Read parses a checkpoint of size bytes from r. It checks the safetensors structure (header
// length, JSON, dtypes, shapes, data offsets that tile the data exactly), the
// metadata, and that the tensors agree with each other: the centers are
// (classes, dim) and every parameter has a momentum buffer of its shape.
// Whether the tensors fit a network, and the hyperparameters a trainer, is
// for the trainer to check. Errors do not name the input: the caller does.
func Read(r io.Reader, size int64) (*Checkpoint, error) {
	truncated := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrTruncated}, args...)...)
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
		return fmt.Errorf("%w: the file ends inside %s", ErrTruncated, what)
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
			e.start, e.end, e.end-e.start, FormatShape(e.shape), *h.Dtype, needString(need, overflow))
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
			ErrTruncated, pos, dataLen, last.name, last.end)
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
	h.Dataset = m["dataset"] // the trainer checks the name
	h.Flip = false
	if s, ok := m["flip"]; ok {
		if h.Flip, ok = map[string]bool{"true": true, "false": false}[s]; !ok {
			errs = append(errs, fmt.Errorf("metadata: flip=%q, want true or false", s))
		}
	}
	h.Shift = 0
	if _, ok := m["shift"]; ok {
		h.Shift = integer("shift", 0, math.MaxInt32) // the trainer bounds it further
	}
	c.Sums = Sums{}
	if _, ok := m["epoch_steps"]; ok {
		c.Sums = Sums{Loss: float("epoch_loss_sum"), Softmax: float("epoch_softmax_sum"),
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
			return fmt.Errorf("tensor %q: wrong dtype %s: the checkpoint is %v (%s)", name, safetensorsDtype(dt), c.Dtype, safetensorsDtype(c.Dtype))
		}
	}
	centers, ok := c.Tensors[Centers]
	if !ok {
		return fmt.Errorf("tensor %q is missing", Centers)
	}
	if want := []int{c.Classes, c.Hyper.Dim}; !slices.Equal(centers.Shape, want) {
		return fmt.Errorf("tensor %q has shape %s, but the metadata says %d classes and D=%d",
			Centers, FormatShape(centers.Shape), c.Classes, c.Hyper.Dim)
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

func safetensorsDtype(dt tensor.Dtype) string {
	switch dt {
	case tensor.Float32:
		return "F32"
	case tensor.Float64:
		return "F64"
	}
	return ""
}

// FormatShape writes a shape as Python writes a tuple, "(10, 2)" or "(10,)",
// as this package's errors do.
func FormatShape(s []int) string {
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
