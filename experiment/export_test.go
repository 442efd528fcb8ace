package experiment

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// exportData returns features that do not print short, with labels.
func exportData() (features []float64, labels []int, dim int) {
	dim = 3
	labels = []int{0, 9, 4, 4, 7}
	third := 1.0
	third /= 3
	features = []float64{
		third, -2.5, 0,
		math.Copysign(0, -1), 1e-300, -1.7976931348623157e308,
		float64(float32(0.1)), 123456789.125, -third,
		5e-324, 2, 3,
		-1, 0.1, 42,
	}
	return features, labels, dim
}

func TestWriteFeaturesCSV(t *testing.T) {
	features, labels, dim := exportData()
	path := filepath.Join(t.TempDir(), "features.csv")
	if err := WriteFeaturesCSV(path, features, labels, dim); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rows[0], ","); got != "label,f1,f2,f3" {
		t.Fatalf("header %q", got)
	}
	if len(rows) != len(labels)+1 {
		t.Fatalf("%d rows, want %d", len(rows), len(labels)+1)
	}
	for i, row := range rows[1:] {
		if len(row) != dim+1 {
			t.Fatalf("row %d has %d fields", i, len(row))
		}
		if l, err := strconv.Atoi(row[0]); err != nil || l != labels[i] {
			t.Fatalf("row %d: label %q, want %d", i, row[0], labels[i])
		}
		for j := 0; j < dim; j++ {
			v, err := strconv.ParseFloat(row[j+1], 64)
			if want := features[i*dim+j]; err != nil || math.Float64bits(v) != math.Float64bits(want) {
				t.Fatalf("row %d, f%d: %q, want %v", i, j+1, row[j+1], want)
			}
		}
	}
}

func TestWriteFeaturesBadArguments(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		features []float64
		labels   []int
		dim      int
	}{
		{"dim 0", nil, nil, 0},
		{"short", []float64{1, 2, 3}, []int{1, 2}, 2},
		{"long", []float64{1, 2, 3}, []int{1}, 2},
	} {
		csvPath := filepath.Join(dir, "f.csv")
		err := WriteFeaturesCSV(csvPath, tc.features, tc.labels, tc.dim)
		if err == nil || !strings.Contains(err.Error(), csvPath) {
			t.Errorf("%s: csv error %v", tc.name, err)
		}
		npyPath := filepath.Join(dir, "f.npy")
		err = WriteFeaturesNPY(npyPath, filepath.Join(dir, "l.npy"), tc.features, tc.labels, tc.dim)
		if err == nil || !strings.Contains(err.Error(), npyPath) {
			t.Errorf("%s: npy error %v", tc.name, err)
		}
	}
	onlyFiles(t, dir)
}

// exportReadNPY parses a version 1.0 .npy file, returning its header dict
// and data.
func exportReadNPY(t *testing.T, path string) (header string, data []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 10 || string(b[:8]) != "\x93NUMPY\x01\x00" {
		t.Fatalf("%s: no npy 1.0 magic: %q", path, b[:min(len(b), 10)])
	}
	hlen := int(binary.LittleEndian.Uint16(b[8:]))
	if (10+hlen)%64 != 0 || 10+hlen > len(b) {
		t.Fatalf("%s: header length %d", path, hlen)
	}
	header = string(b[10 : 10+hlen])
	if !strings.HasSuffix(header, "\n") {
		t.Fatalf("%s: header %q does not end in a newline", path, header)
	}
	return strings.TrimRight(header, " \n"), b[10+hlen:]
}

func TestWriteFeaturesNPY(t *testing.T) {
	features, labels, dim := exportData()
	dir := t.TempDir()
	fp, lp := filepath.Join(dir, "features.npy"), filepath.Join(dir, "labels.npy")
	if err := WriteFeaturesNPY(fp, lp, features, labels, dim); err != nil {
		t.Fatal(err)
	}
	h, data := exportReadNPY(t, fp)
	if want := "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 3), }"; h != want {
		t.Fatalf("features header %q, want %q", h, want)
	}
	if len(data) != 4*len(features) {
		t.Fatalf("%d bytes of features, want %d", len(data), 4*len(features))
	}
	for i, v := range features {
		got := math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		if math.Float32bits(got) != math.Float32bits(float32(v)) {
			t.Fatalf("feature %d: %v, want %v", i, got, float32(v))
		}
	}
	h, data = exportReadNPY(t, lp)
	if want := "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }"; h != want {
		t.Fatalf("labels header %q, want %q", h, want)
	}
	if len(data) != 8*len(labels) {
		t.Fatalf("%d bytes of labels, want %d", len(data), 8*len(labels))
	}
	for i, l := range labels {
		if got := int64(binary.LittleEndian.Uint64(data[8*i:])); got != int64(l) {
			t.Fatalf("label %d: %d, want %d", i, got, l)
		}
	}

	// No rows still makes valid arrays.
	if err := WriteFeaturesNPY(fp, lp, nil, nil, 2); err != nil {
		t.Fatal(err)
	}
	if h, data := exportReadNPY(t, fp); !strings.Contains(h, "'shape': (0, 2)") || len(data) != 0 {
		t.Fatalf("empty features: header %q, %d bytes", h, len(data))
	}
	if h, _ := exportReadNPY(t, lp); !strings.Contains(h, "'shape': (0,)") {
		t.Fatalf("empty labels: header %q", h)
	}
	onlyFiles(t, dir, "features.npy", "labels.npy")
}

func TestWriteJSON(t *testing.T) {
	type summary struct {
		Acc    float64   `json:"acc"`
		Epochs int       `json:"epochs"`
		Curve  []float64 `json:"curve"`
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "summary.json")
	want := summary{Acc: 0.9912, Epochs: 8, Curve: []float64{0.5, 0.25}}
	if err := WriteJSON(path, want); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("{\n  \"acc\": 0.9912,\n")) || !bytes.HasSuffix(b, []byte("}\n")) {
		t.Fatalf("not indented:\n%s", b)
	}
	var got summary
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Acc != want.Acc || got.Epochs != want.Epochs || len(got.Curve) != 2 || got.Curve[1] != 0.25 {
		t.Fatalf("read back %+v, want %+v", got, want)
	}

	// A value JSON cannot hold fails before the file is touched.
	err = WriteJSON(path, map[string]float64{"acc": math.NaN()})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("NaN: error %v", err)
	}
	if b2, _ := os.ReadFile(path); !bytes.Equal(b2, b) {
		t.Fatal("a failed write changed the file")
	}
	onlyFiles(t, dir, "summary.json")

	if err := WriteJSON(filepath.Join(dir, "missing", "x.json"), 1); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing folder: error %v", err)
	}
}

// onlyFiles fails unless dir holds exactly the named files (no temporary
// file left behind).
func onlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Fatalf("folder holds %q, want %q", got, names)
	}
}
