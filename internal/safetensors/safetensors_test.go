package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func sample() *File {
	return &File{
		Metadata: map[string]string{"format": "pt", "note": "ä \"quoted\""},
		Tensors: map[string]*Tensor{
			"w":      {Shape: []int{2, 3}, Data: []float32{1, -2, float32(math.Inf(1)), 0, 5.5, float32(math.NaN())}},
			"b":      {Shape: []int{3}, Data: []float64{math.SmallestNonzeroFloat64, math.Copysign(0, -1), 1e300}},
			"scalar": {Shape: []int{}, Data: []float64{7}},
		},
	}
}

func encode(t testing.TB, f *File) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := f.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo: %d bytes reported, %d written, %v", n, buf.Len(), err)
	}
	return buf.Bytes()
}

func decode(b []byte) (*File, error) { return Read(bytes.NewReader(b), int64(len(b))) }

// sameBits reports whether two files hold the same metadata and tensors,
// bit for bit (NaN payloads and signed zeros included).
func sameBits(a, b *File) bool {
	if !reflect.DeepEqual(a.Metadata, b.Metadata) || len(a.Tensors) != len(b.Tensors) {
		return false
	}
	for name, x := range a.Tensors {
		y := b.Tensors[name]
		if y == nil || !reflect.DeepEqual(x.Shape, y.Shape) || x.Dtype() != y.Dtype() {
			return false
		}
		var bx, by bytes.Buffer
		binary.Write(&bx, binary.LittleEndian, x.Data)
		binary.Write(&by, binary.LittleEndian, y.Data)
		if !bytes.Equal(bx.Bytes(), by.Bytes()) {
			return false
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	want := sample()
	b := encode(t, want)
	if n := binary.LittleEndian.Uint64(b); (8+n)%8 != 0 || b[8] != '{' {
		t.Errorf("header of %d bytes: the data should start 8-aligned after a JSON object", n)
	}
	got, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(got, want) {
		t.Errorf("read back %+v, want %+v", got, want)
	}
	if again := encode(t, got); !bytes.Equal(again, b) {
		t.Error("writing what was read gives other bytes")
	}
}

func TestWriteErrors(t *testing.T) {
	for _, c := range []struct {
		x    *Tensor
		want string
	}{
		{nil, "is nil"},
		{&Tensor{Shape: []int{2}, Data: []int{1, 2}}, "want []float32 or []float64"},
		{&Tensor{Shape: []int{3}, Data: []float32{1, 2}}, "2 values for shape (3,)"},
		{&Tensor{Shape: []int{-1}, Data: []float32{}}, "shape (-1,)"},
	} {
		var buf bytes.Buffer
		_, err := (&File{Tensors: map[string]*Tensor{"x": c.x}}).WriteTo(&buf)
		if err == nil || !strings.Contains(err.Error(), c.want) || buf.Len() != 0 {
			t.Errorf("%+v: error %v and %d bytes, want %q and nothing written", c.x, err, buf.Len(), c.want)
		}
	}
}

// TestReadRejects edits a valid file in the ways a damaged or foreign file
// differs, and checks the kind of each error.
func TestReadRejects(t *testing.T) {
	valid := encode(t, sample())
	n := int(binary.LittleEndian.Uint64(valid))
	header := func(js string) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
		return append(append(b, js...), make([]byte, 8)...)
	}
	for _, c := range []struct {
		name      string
		data      []byte
		truncated bool
		want      string
	}{
		{"empty", nil, true, "fewer than the 8"},
		{"cut in the header", valid[:8+n/2], true, "header length says"},
		{"cut in the data", valid[:len(valid)-1], true, "the tensors need"},
		{"huge header length", append([]byte{0, 0, 0, 0, 0, 0, 0, 0x40}, valid[8:]...), false, "implausible"},
		{"not JSON", header("[1, 2]  "), false, "not a JSON object"},
		{"duplicate", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`), false, `names "a" twice`},
		{"unknown field", header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}`), false, "bad header entry"},
		{"shape against bytes", header(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`), false, "needs 12 bytes"},
		{"gap", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`), false, "belong to no tensor"},
		{"overlap", header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`), false, "overlap"},
		{"bytes left", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`), false, "4 unexpected bytes"},
		{"metadata not strings", header(`{"__metadata__":{"a":1},"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`), false, "object of strings"},
	} {
		_, err := decode(c.data)
		var se *Error
		if !errors.As(err, &se) || se.Truncated != c.truncated || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want an *Error (truncated %v) saying %q", c.name, err, c.truncated, c.want)
		}
	}
	_, err := decode(header(`{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`))
	var de *DtypeError
	if !errors.As(err, &de) || de.Tensor != "a" || de.Dtype != "I64" {
		t.Errorf("I64 tensor: error %v, want a *DtypeError", err)
	}
}

// FuzzRead: no input panics or allocates beyond its size, and what reads
// without error writes back to a file that reads the same.
func FuzzRead(f *testing.F) {
	valid := encode(f, sample())
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decode(b)
		if err != nil {
			return
		}
		again, err := decode(encode(t, got))
		if err != nil || !sameBits(again, got) {
			t.Fatalf("rewritten file reads as %+v, %v", again, err)
		}
	})
}
