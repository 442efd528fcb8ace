// Package value reads the numbers out of gorgonia values: a scalar loss or
// gradient, or the elements of a float tensor, as float64 whatever the
// graph's float type.
package value

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// Scalar returns the number held by a scalar value: a gorgonia F32 or F64,
// or a float tensor with one element (gorgonia passes some scalars so).
func Scalar(v G.Value) (float64, error) {
	if v != nil {
		switch d := v.Data().(type) {
		case float64:
			return d, nil
		case float32:
			return float64(d), nil
		case []float64:
			if len(d) >= 1 && v.Size() == 1 {
				return d[0], nil
			}
		case []float32:
			if len(d) >= 1 && v.Size() == 1 {
				return float64(d[0]), nil
			}
		}
	}
	return 0, fmt.Errorf("not a float scalar: %T %v", v, v)
}

// Floats returns a copy of the elements of a float64 or float32 tensor (or
// scalar value) as float64, in row-major order.
func Floats(v G.Value) ([]float64, error) {
	if v != nil {
		switch d := v.Data().(type) {
		case []float64:
			return append([]float64(nil), d...), nil
		case []float32:
			out := make([]float64, len(d))
			for i, f := range d {
				out[i] = float64(f)
			}
			return out, nil
		case float64:
			return []float64{d}, nil
		case float32:
			return []float64{float64(d)}, nil
		}
	}
	return nil, fmt.Errorf("not a float value: %T", v)
}
