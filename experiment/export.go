package experiment

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/centerloss-go/centerloss/internal/atomicfile"
)

// WriteFeaturesCSV writes "label,f1,...,fD" rows (header line first) for
// features (n x dim row-major), atomically. Values are written in the
// shortest form that reads back to the same float64.
func WriteFeaturesCSV(path string, features []float64, labels []int, dim int) error {
	if err := checkFeatures(features, labels, dim); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	err := atomicfile.Write(path, func(bw *bufio.Writer) error {
		bw.WriteString("label")
		for j := 1; j <= dim; j++ {
			bw.WriteString(",f")
			bw.WriteString(strconv.Itoa(j))
		}
		bw.WriteByte('\n') // bufio keeps the first error for the Flush
		var buf []byte
		for i, l := range labels {
			buf = strconv.AppendInt(buf[:0], int64(l), 10)
			for _, v := range features[i*dim : (i+1)*dim] {
				buf = append(buf, ',')
				buf = strconv.AppendFloat(buf, v, 'g', -1, 64)
			}
			buf = append(buf, '\n')
			if _, err := bw.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteFeaturesNPY writes features as an (n, dim) float32 .npy and labels as
// an (n,) int64 .npy (two files, each written atomically), in NumPy's format
// version 1.0, readable with numpy.load.
func WriteFeaturesNPY(featuresPath, labelsPath string, features []float64, labels []int, dim int) error {
	if err := checkFeatures(features, labels, dim); err != nil {
		return fmt.Errorf("write %s: %w", featuresPath, err)
	}
	n := len(labels)
	err := atomicfile.Write(featuresPath, func(w *bufio.Writer) error {
		if err := writeNPYHeader(w, "<f4", []int{n, dim}); err != nil {
			return err
		}
		var b [4]byte
		for _, v := range features {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(float32(v)))
			if _, err := w.Write(b[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", featuresPath, err)
	}
	err = atomicfile.Write(labelsPath, func(w *bufio.Writer) error {
		if err := writeNPYHeader(w, "<i8", []int{n}); err != nil {
			return err
		}
		var b [8]byte
		for _, l := range labels {
			binary.LittleEndian.PutUint64(b[:], uint64(int64(l)))
			if _, err := w.Write(b[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", labelsPath, err)
	}
	return nil
}

func checkFeatures(features []float64, labels []int, dim int) error {
	if dim < 1 {
		return fmt.Errorf("feature dimension %d must be at least 1", dim)
	}
	if len(features) != len(labels)*dim {
		return fmt.Errorf("%d feature values for %d labels of dimension %d; want %d",
			len(features), len(labels), dim, len(labels)*dim)
	}
	return nil
}

// writeNPYHeader writes the magic string, version 1.0 and the header dict of
// a C-ordered array, padded with spaces and a newline so that the data
// starts at a multiple of 64 bytes.
func writeNPYHeader(w io.Writer, descr string, shape []int) error {
	dims := make([]string, len(shape))
	for i, s := range shape {
		dims[i] = strconv.Itoa(s)
	}
	sh := strings.Join(dims, ", ")
	if len(shape) == 1 {
		sh += ","
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, sh)
	const preamble = 10 // magic (6), version (2), header length (2)
	total := (preamble + len(dict) + 1 + 63) / 64 * 64
	hlen := total - preamble
	if hlen > math.MaxUint16 {
		return fmt.Errorf("npy header of %d bytes is too long", hlen)
	}
	buf := make([]byte, 0, total)
	buf = append(buf, "\x93NUMPY\x01\x00"...)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(hlen))
	buf = append(buf, dict...)
	for len(buf) < total-1 {
		buf = append(buf, ' ')
	}
	buf = append(buf, '\n')
	_, err := w.Write(buf)
	return err
}

// WriteJSON writes v indented, atomically.
func WriteJSON(path string, v any) error {
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	js = append(js, '\n')
	err = atomicfile.Write(path, func(w *bufio.Writer) error {
		_, err := w.Write(js)
		return err
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
