package centerloss_test

import (
	"math"
	"testing"

	"github.com/centerloss-go/centerloss/centerloss"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

var dtypes = []tensor.Dtype{tensor.Float32, tensor.Float64}

// dense returns a tensor of dtype dt holding a copy of data.
func dense(dt tensor.Dtype, data []float64, shape ...int) *tensor.Dense {
	if dt == tensor.Float32 {
		f := make([]float32, len(data))
		for i, v := range data {
			f[i] = float32(v)
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), data...)))
}

// floats returns the elements of a float32 or float64 value as float64s.
func floats(t *testing.T, v gorgonia.Value) []float64 {
	t.Helper()
	if v == nil {
		t.Fatal("nil value")
	}
	switch d := v.Data().(type) {
	case float64:
		return []float64{d}
	case float32:
		return []float64{float64(d)}
	case []float64:
		return append([]float64(nil), d...)
	case []float32:
		out := make([]float64, len(d))
		for i, f := range d {
			out[i] = float64(f)
		}
		return out
	}
	t.Fatalf("value %v holds %T", v, v.Data())
	return nil
}

// scalar returns the single element of v.
func scalar(t *testing.T, v gorgonia.Value) float64 {
	t.Helper()
	f := floats(t, v)
	if len(f) != 1 {
		t.Fatalf("value %v is not a scalar", v)
	}
	return f[0]
}

// newCenters returns k x d centers of dtype dt holding data.
func newCenters(t *testing.T, k, d int, dt tensor.Dtype, data []float64) *centerloss.Centers {
	t.Helper()
	c, err := centerloss.NewCenters(k, d, dt)
	if err != nil {
		t.Fatal(err)
	}
	setCenters(t, c, data)
	return c
}

// setCenters overwrites the centers through the shared tensor.
func setCenters(t *testing.T, c *centerloss.Centers, data []float64) {
	t.Helper()
	if err := tensor.Copy(c.Tensor(), dense(c.Dtype(), data, c.K(), c.D())); err != nil {
		t.Fatal(err)
	}
}

// constant returns a scalar constant of dtype dt.
func constant(dt tensor.Dtype, v float64) *gorgonia.Node {
	if dt == tensor.Float32 {
		return gorgonia.NewConstant(float32(v))
	}
	return gorgonia.NewConstant(v)
}

// near reports whether got and want agree to within tol, relative to the
// magnitude of want.
func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*(1+math.Abs(want))
}

func checkClose(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !near(got[i], want[i], tol) {
			t.Errorf("%s[%d] = %.7g, want %.7g", what, i, got[i], want[i])
		}
	}
}
