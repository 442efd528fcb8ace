package centerloss

import (
	"errors"
	"fmt"

	"gorgonia.org/tensor"
)

// Errors returned, wrapped with context, by the functions of this package and
// by the operation when a graph runs. Test for them with errors.Is. A
// TapeMachine returns the error of an operation inside an error value whose
// Err method gives it back, and errors.Is does not look through that value.
var (
	// ErrShape reports a tensor or node whose shape does not match the centers
	// or the other inputs, or centers whose tensor was reshaped.
	ErrShape = errors.New("shape mismatch")

	// ErrDtype reports an element type other than the one expected.
	ErrDtype = errors.New("dtype mismatch")

	// ErrLabel reports a label outside [0, K).
	ErrLabel = errors.New("label out of range")

	// ErrAlpha reports a center update rate outside [0, 1].
	ErrAlpha = errors.New("alpha out of range")
)

// errNoCenters reports a nil or zero Centers.
var errNoCenters = errors.New("centers not created by NewCenters")

// float is the set of element types the centers and features may have.
type float interface {
	~float32 | ~float64
}

// centerData returns the centers as a row-major K*D slice, after checking
// that the tensor is still the one NewCenters made: callers hold it through
// Tensor and could have reshaped or transposed it.
func centerData[T float](c *Centers) ([]T, error) {
	if c == nil || c.t == nil {
		return nil, errNoCenters
	}
	if !c.t.Shape().Eq(tensor.Shape{c.k, c.d}) || c.t.RequiresIterator() || !c.t.DataOrder().IsRowMajor() {
		return nil, fmt.Errorf("centers tensor is no longer a contiguous %dx%d matrix (shape %v): %w", c.k, c.d, c.t.Shape(), ErrShape)
	}
	data, ok := c.t.Data().([]T)
	if !ok || len(data) < c.k*c.d {
		return nil, fmt.Errorf("centers tensor holds %T, want %d values of %v: %w", c.t.Data(), c.k*c.d, c.t.Dtype(), ErrDtype)
	}
	return data[:c.k*c.d], nil
}

// batchData checks a batch of features and labels against the centers and
// returns the features as a row-major N*D slice.
func batchData[T float](c *Centers, features tensor.Tensor, labels []int) ([]T, error) {
	if features == nil {
		return nil, fmt.Errorf("nil features: %w", ErrShape)
	}
	if dt := features.Dtype(); dt != c.Dtype() {
		return nil, fmt.Errorf("features dtype %v, centers dtype %v: %w", dt, c.Dtype(), ErrDtype)
	}
	n := len(labels)
	if want := (tensor.Shape{n, c.d}); n == 0 || !features.Shape().Eq(want) {
		return nil, fmt.Errorf("features shape %v with %d labels, want %v: %w", features.Shape(), n, want, ErrShape)
	}
	if err := checkLabels(labels, c.k); err != nil {
		return nil, err
	}
	return rowMajor[T](features)
}

// checkLabels reports the first label outside [0, k).
func checkLabels(labels []int, k int) error {
	for i, y := range labels {
		if y < 0 || y >= k {
			return fmt.Errorf("label %d at index %d, want [0, %d): %w", y, i, k, ErrLabel)
		}
	}
	return nil
}

// rowMajor returns the elements of t in row-major order. Views that need an
// iterator (slices, transposes) are copied first, so the kernels can use
// plain loops.
func rowMajor[T float](t tensor.Tensor) ([]T, error) {
	if t.RequiresIterator() {
		d, ok := t.(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("unsupported non-contiguous tensor %T: %w", t, ErrShape)
		}
		t = d.Materialize()
	}
	if !t.DataOrder().IsRowMajor() {
		return nil, fmt.Errorf("column-major tensor not supported: %w", ErrShape)
	}
	data, ok := t.Data().([]T)
	if !ok || len(data) < t.Shape().TotalSize() {
		return nil, fmt.Errorf("tensor holds %T, want %d values of %v: %w", t.Data(), t.Shape().TotalSize(), t.Dtype(), ErrDtype)
	}
	return data[:t.Shape().TotalSize()], nil
}

// sqDist returns ||a - b||², accumulated in float64.
func sqDist[T float](a, b []T) float64 {
	b = b[:len(a)]
	var s float64
	for j, v := range a {
		e := float64(v - b[j])
		s += e * e
	}
	return s
}
