// Package safetensors reads and writes the safetensors file format
// (github.com/huggingface/safetensors) for float32 and float64 tensors: an
// 8-byte little-endian header length, a JSON header that maps each tensor's
// name to its dtype, shape and data offsets (and "__metadata__" to a map of
// strings), then the tensors' bytes.
//
// Reading is strict: the header length must be plausible and fit the input,
// the JSON must be one object without duplicate keys or unknown fields, every
// shape must match its byte count, and the tensors must tile the data
// exactly, without gaps or overlaps. Memory grows with the bytes actually
// read, never with what a header claims. What the tensors and metadata mean
// is the caller's.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"

	"gorgonia.org/tensor"
)

// Limits of what Read accepts.
const (
	// maxHeaderLen bounds the JSON header, as the reference implementation does.
	maxHeaderLen = 100_000_000
	// MaxDim bounds one dimension of a tensor shape.
	MaxDim = math.MaxInt32
)

// Error is a malformed input: Truncated when it ends early, else not in the
// format. Detail says what is wrong, without naming the input.
type Error struct {
	Truncated bool
	Detail    string
}

func (e *Error) Error() string {
	if e.Truncated {
		return "truncated: " + e.Detail
	}
	return "not a safetensors file: " + e.Detail
}

func invalid(format string, args ...any) error {
	return &Error{Detail: fmt.Sprintf(format, args...)}
}

func truncated(format string, args ...any) error {
	return &Error{Truncated: true, Detail: fmt.Sprintf(format, args...)}
}

// Tensor is one tensor of a file.
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

// File is the content of a safetensors file.
type File struct {
	Metadata map[string]string // "__metadata__"; nil when the header has none
	Tensors  map[string]*Tensor
}

type headerEntry struct {
	Dtype       string    `json:"dtype"`
	Shape       []int     `json:"shape"`
	DataOffsets [2]uint64 `json:"data_offsets"`
}

// WriteTo writes f, its tensors in the order of their names. It writes
// nothing if a tensor is inconsistent (data length against shape, element
// type).
func (f *File) WriteTo(w io.Writer) (int64, error) {
	names := make([]string, 0, len(f.Tensors))
	for name := range f.Tensors {
		if name == "__metadata__" {
			return 0, errors.New("a tensor cannot be called __metadata__")
		}
		names = append(names, name)
	}
	sort.Strings(names)
	header := make(map[string]any, len(names)+1)
	if f.Metadata != nil {
		header["__metadata__"] = f.Metadata
	}
	var offset uint64
	for _, name := range names {
		x := f.Tensors[name]
		if x == nil {
			return 0, fmt.Errorf("tensor %s is nil", name)
		}
		dt := DtypeName(x.Dtype())
		if dt == "" {
			return 0, fmt.Errorf("tensor %s holds %T, want []float32 or []float64", name, x.Data)
		}
		n := 1
		for _, s := range x.Shape {
			if s < 0 {
				return 0, fmt.Errorf("tensor %s has shape %s", name, FormatShape(x.Shape))
			}
			n *= s
		}
		if n != x.Len() {
			return 0, fmt.Errorf("tensor %s has %d values for shape %s", name, x.Len(), FormatShape(x.Shape))
		}
		size := uint64(n) * uint64(x.Dtype().Size())
		shape := append(make([]int, 0, len(x.Shape)), x.Shape...) // [] rather than null for a scalar
		header[name] = headerEntry{Dtype: dt, Shape: shape, DataOffsets: [2]uint64{offset, offset + size}}
		offset += size
	}
	js, err := json.Marshal(header)
	if err != nil {
		return 0, err
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
		if err := binary.Write(cw, binary.LittleEndian, f.Tensors[name].Data); err != nil {
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

// Read parses a file of size bytes from r, checking its structure (see the
// package documentation). A malformed input gives an *Error; a failing
// reader its own error.
func Read(r io.Reader, size int64) (*File, error) {
	if size < 8 {
		return nil, truncated("the file has %d bytes, fewer than the 8 of the safetensors header length", max(size, 0))
	}
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, readErr(err, "the header length")
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n < 2 || n > maxHeaderLen {
		return nil, invalid("header length %d is implausible (a safetensors file starts with the length of its JSON header)", n)
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
	f := &File{Metadata: meta, Tensors: make(map[string]*Tensor, len(entries))}
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
		f.Tensors[e.name] = x
	}
	return f, nil
}

func readErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return truncated("the file ends inside %s", what)
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
	trimmed := bytes.TrimRight(js, " ")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, nil, invalid("the header is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // the '{'
		return nil, nil, invalid("the header is not valid JSON: %v", err)
	}
	var entries []entry
	var meta map[string]string
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, invalid("the header is not valid JSON: %v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, nil, invalid("the header is not valid JSON: key %v", tok)
		}
		if seen[name] {
			return nil, nil, invalid("the header names %q twice", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, invalid("the header is not valid JSON: %v", err)
		}
		if name == "__metadata__" {
			if err := json.Unmarshal(raw, &meta); err != nil || meta == nil {
				return nil, nil, invalid("__metadata__ must be an object of strings: %s", clip(raw))
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
		return nil, nil, invalid("the header is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, invalid("the header has data after its JSON object")
	}
	sort.Slice(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		return a.start < b.start || (a.start == b.start && a.end < b.end)
	})
	return entries, meta, nil
}

func parseEntry(name string, raw json.RawMessage) (entry, error) {
	bad := func(format string, args ...any) error {
		return invalid("tensor %q: "+format, append([]any{name}, args...)...)
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
		return entry{}, &DtypeError{Tensor: name, Dtype: *h.Dtype}
	}
	count := uint64(1)
	overflow := false
	e.shape = make([]int, len(*h.Shape))
	for i, s := range *h.Shape {
		v, err := strconv.ParseInt(s.String(), 10, 64)
		if err != nil || v < 0 || v > MaxDim {
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

// DtypeError is a tensor of another element type than F32 or F64: a valid
// safetensors file that this package does not read.
type DtypeError struct {
	Tensor, Dtype string
}

func (e *DtypeError) Error() string {
	return fmt.Sprintf("tensor %q: wrong dtype %q: F32 or F64 are read", e.Tensor, e.Dtype)
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
			return invalid("data offsets of tensors %q [%d, %d) and %q [%d, %d) overlap", prev.name, prev.start, prev.end, e.name, e.start, e.end)
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
				return invalid("data offsets of tensor %q [%d, %d) are out of range: the data has %d bytes", e.name, e.start, e.end, dataLen)
			}
		}
		return invalid("data bytes [%d, %d) belong to no tensor", gapAt, gapEnd)
	}
	if pos > dataLen {
		last := entries[len(entries)-1]
		return truncated("the tensors need %d bytes of data after the header, the file has %d (tensor %q ends at %d)",
			pos, dataLen, last.name, last.end)
	}
	if pos < dataLen {
		return invalid("%d unexpected bytes after the tensor data", dataLen-pos)
	}
	return nil
}

// DtypeName is the format's name of an element type, "F32" or "F64"; "" for others.
func DtypeName(dt tensor.Dtype) string {
	switch dt {
	case tensor.Float32:
		return "F32"
	case tensor.Float64:
		return "F64"
	}
	return ""
}

// FormatShape writes a shape as Python writes a tuple, "(10, 2)" or "(10,)",
// as the errors of this package and its callers do.
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
