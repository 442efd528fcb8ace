package value

import (
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestScalar(t *testing.T) {
	f32, f64 := G.F32(1.5), G.F64(-2.25)
	for _, c := range []struct {
		v    G.Value
		want float64
	}{
		{&f32, 1.5},
		{&f64, -2.25},
		{tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{0.75})), 0.75},
		{tensor.New(tensor.WithShape(1, 1), tensor.WithBacking([]float64{3})), 3},
	} {
		if got, err := Scalar(c.v); err != nil || got != c.want {
			t.Errorf("Scalar(%v) = %v, %v; want %v", c.v, got, err, c.want)
		}
	}
	for _, bad := range []G.Value{
		nil,
		tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{1, 2})),
		tensor.New(tensor.WithShape(1), tensor.WithBacking([]int{1})),
	} {
		if got, err := Scalar(bad); err == nil {
			t.Errorf("Scalar(%v) = %v, want an error", bad, got)
		}
	}
}

func TestFloats(t *testing.T) {
	f32 := G.F32(0.5)
	for _, c := range []struct {
		v    G.Value
		want []float64
	}{
		{tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, 2.5, -3, 4})), []float64{1, 2.5, -3, 4}},
		{tensor.New(tensor.WithShape(3), tensor.WithBacking([]float64{0.1, 0.2, 0.3})), []float64{0.1, 0.2, 0.3}},
		{&f32, []float64{0.5}},
	} {
		if got, err := Floats(c.v); err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Floats(%v) = %v, %v; want %v", c.v, got, err, c.want)
		}
	}
	backing := []float64{1, 2}
	got, _ := Floats(tensor.New(tensor.WithShape(2), tensor.WithBacking(backing)))
	got[0] = 9
	if backing[0] != 1 {
		t.Error("Floats returned the tensor's own slice, not a copy")
	}
	if _, err := Floats(tensor.New(tensor.WithShape(1), tensor.WithBacking([]int{1}))); err == nil {
		t.Error("Floats of ints: no error")
	}
}
