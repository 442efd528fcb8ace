package centerloss_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/centerloss-go/centerloss/centerloss"
	"gorgonia.org/tensor"
)

func TestNewCenters(t *testing.T) {
	for _, dt := range dtypes {
		c, err := centerloss.NewCenters(3, 2, dt)
		if err != nil {
			t.Fatal(err)
		}
		if c.K() != 3 || c.D() != 2 || c.Dtype() != dt {
			t.Errorf("K, D, Dtype = %d, %d, %v; want 3, 2, %v", c.K(), c.D(), c.Dtype(), dt)
		}
		if s := c.Tensor().Shape(); !s.Eq(tensor.Shape{3, 2}) {
			t.Errorf("tensor shape %v, want (3, 2)", s)
		}
		for i, v := range floats(t, c.Tensor()) {
			if v != 0 {
				t.Errorf("center element %d = %v, want 0", i, v)
			}
		}
	}

	for _, tc := range []struct {
		name    string
		k, d    int
		dt      tensor.Dtype
		wantErr error
	}{
		{"no classes", 0, 2, tensor.Float64, centerloss.ErrShape},
		{"no dimensions", 3, 0, tensor.Float64, centerloss.ErrShape},
		{"negative", -1, 2, tensor.Float32, centerloss.ErrShape},
		{"int dtype", 3, 2, tensor.Int, centerloss.ErrDtype},
	} {
		if _, err := centerloss.NewCenters(tc.k, tc.d, tc.dt); !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.wantErr)
		}
	}
}

// TestUpdate checks the alpha rule on an example worked out by hand, with
// alpha = 0.5, K = 3, D = 2:
//
//	c0 = (1, 1), c1 = (2, 0), c2 = (-1, 3)
//	x0 = (3, 1), x1 = (1, 5) of class 0; x2 = (4, 2) of class 1; no class 2
//
// Class 0 is seen twice (n0 = 2):
//
//	Δc0 = ((c0-x0) + (c0-x1)) / (1+2) = ((-2, 0) + (0, -4)) / 3 = (-2/3, -4/3)
//	c0 ← (1, 1) - 0.5·(-2/3, -4/3) = (4/3, 5/3)
//
// Class 1 once (n1 = 1):
//
//	Δc1 = (c1-x2) / (1+1) = (-2, -2) / 2 = (-1, -1)
//	c1 ← (2, 0) - 0.5·(-1, -1) = (2.5, 0.5)
//
// Class 2 is absent and stays at (-1, 3).
func TestUpdate(t *testing.T) {
	x := []float64{3, 1, 1, 5, 4, 2}
	labels := []int{0, 0, 1}
	want := []float64{4.0 / 3, 5.0 / 3, 2.5, 0.5, -1, 3}
	for _, dt := range dtypes {
		t.Run(dt.String(), func(t *testing.T) {
			c := newCenters(t, 3, 2, dt, []float64{1, 1, 2, 0, -1, 3})
			if err := c.Update(dense(dt, x, 3, 2), labels, 0.5); err != nil {
				t.Fatal(err)
			}
			checkClose(t, "centers", floats(t, c.Tensor()), want, 1e-6)
		})
	}
}

// TestUpdateView passes the features of TestUpdate as a transposed view,
// which has to be read through an iterator.
func TestUpdateView(t *testing.T) {
	xt := dense(tensor.Float64, []float64{3, 1, 4, 1, 5, 2}, 2, 3) // features transposed
	if err := xt.T(); err != nil {
		t.Fatal(err)
	}
	c := newCenters(t, 3, 2, tensor.Float64, []float64{1, 1, 2, 0, -1, 3})
	if err := c.Update(xt, []int{0, 0, 1}, 0.5); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "centers", floats(t, c.Tensor()), []float64{4.0 / 3, 5.0 / 3, 2.5, 0.5, -1, 3}, 1e-12)
}

// TestUpdateAlphaBounds checks the two ends of [0, 1]: alpha = 0 leaves the
// centers alone, and alpha = 1 with one sample per class moves a center
// halfway to its sample: c ← c - (c-x)/2.
func TestUpdateAlphaBounds(t *testing.T) {
	centers := []float64{1, 1, 2, 0}
	x := []float64{3, 5, 0, 0}
	c := newCenters(t, 2, 2, tensor.Float64, centers)
	if err := c.Update(dense(tensor.Float64, x, 2, 2), []int{0, 1}, 0); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "alpha 0", floats(t, c.Tensor()), centers, 0)
	if err := c.Update(dense(tensor.Float64, x, 2, 2), []int{0, 1}, 1); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "alpha 1", floats(t, c.Tensor()), []float64{2, 3, 1, 0}, 1e-15)
}

// TestUpdateErrors checks that bad input returns an error and leaves the
// centers untouched.
func TestUpdateErrors(t *testing.T) {
	centers := []float64{1, 1, 2, 0, -1, 3}
	x := dense(tensor.Float64, []float64{3, 1, 1, 5, 4, 2}, 3, 2)
	for _, tc := range []struct {
		name     string
		features tensor.Tensor
		labels   []int
		alpha    float64
		wantErr  error
	}{
		{"alpha below 0", x, []int{0, 0, 1}, -0.1, centerloss.ErrAlpha},
		{"alpha above 1", x, []int{0, 0, 1}, 1.5, centerloss.ErrAlpha},
		{"alpha NaN", x, []int{0, 0, 1}, math.NaN(), centerloss.ErrAlpha},
		{"dtype", dense(tensor.Float32, []float64{3, 1, 1, 5, 4, 2}, 3, 2), []int{0, 0, 1}, 0.5, centerloss.ErrDtype},
		{"feature dimension", dense(tensor.Float64, []float64{3, 1, 1, 5, 4, 2}, 2, 3), []int{0, 0}, 0.5, centerloss.ErrShape},
		{"not a matrix", dense(tensor.Float64, []float64{3, 1, 1, 5, 4, 2}, 6), []int{0, 0, 1}, 0.5, centerloss.ErrShape},
		{"too few labels", x, []int{0, 0}, 0.5, centerloss.ErrShape},
		{"too many labels", x, []int{0, 0, 1, 2}, 0.5, centerloss.ErrShape},
		{"no labels", x, nil, 0.5, centerloss.ErrShape},
		{"nil features", nil, []int{0, 0, 1}, 0.5, centerloss.ErrShape},
		{"label K", x, []int{0, 0, 3}, 0.5, centerloss.ErrLabel},
		{"negative label", x, []int{0, -1, 1}, 0.5, centerloss.ErrLabel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCenters(t, 3, 2, tensor.Float64, centers)
			err := c.Update(tc.features, tc.labels, tc.alpha)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			checkClose(t, "centers", floats(t, c.Tensor()), centers, 0)
		})
	}

	t.Run("zero Centers", func(t *testing.T) {
		var c centerloss.Centers
		if err := c.Update(x, []int{0, 0, 1}, 0.5); err == nil {
			t.Error("no error")
		}
	})
	t.Run("reshaped tensor", func(t *testing.T) {
		c := newCenters(t, 3, 2, tensor.Float64, centers)
		if err := c.Tensor().Reshape(2, 3); err != nil {
			t.Fatal(err)
		}
		if err := c.Update(x, []int{0, 0, 1}, 0.5); !errors.Is(err, centerloss.ErrShape) {
			t.Errorf("error %v, want %v", err, centerloss.ErrShape)
		}
	})
}

// TestStats checks Stats on an example worked out by hand:
//
//	c0 = (0, 0), c1 = (3, 4), c2 = (0, -2)
//	x0 = (0, 1) of class 0: distance 1
//	x1 = (3, 0) of class 1: distance 4
//	x2 = (1, -2) of class 2: distance 1
//
// intra = (1+4+1)/3 = 2; the centers are 5, 2 and √45 apart, so inter = 2.
func TestStats(t *testing.T) {
	for _, dt := range dtypes {
		t.Run(dt.String(), func(t *testing.T) {
			c := newCenters(t, 3, 2, dt, []float64{0, 0, 3, 4, 0, -2})
			intra, inter, err := c.Stats(dense(dt, []float64{0, 1, 3, 0, 1, -2}, 3, 2), []int{0, 1, 2})
			if err != nil {
				t.Fatal(err)
			}
			if !near(intra, 2, 1e-7) || !near(inter, 2, 1e-7) {
				t.Errorf("intra, inter = %v, %v; want 2, 2", intra, inter)
			}
		})
	}

	t.Run("one class", func(t *testing.T) {
		c := newCenters(t, 1, 2, tensor.Float64, []float64{1, 1})
		intra, inter, err := c.Stats(dense(tensor.Float64, []float64{4, 5}, 1, 2), []int{0})
		if err != nil {
			t.Fatal(err)
		}
		if intra != 5 || !math.IsInf(inter, 1) {
			t.Errorf("intra, inter = %v, %v; want 5, +Inf", intra, inter)
		}
	})

	t.Run("errors", func(t *testing.T) {
		c := newCenters(t, 3, 2, tensor.Float64, make([]float64, 6))
		x := dense(tensor.Float64, []float64{0, 1, 3, 0, 1, -2}, 3, 2)
		if _, _, err := c.Stats(x, []int{0, 1, 3}); !errors.Is(err, centerloss.ErrLabel) {
			t.Errorf("label out of range: error %v, want %v", err, centerloss.ErrLabel)
		}
		if _, _, err := c.Stats(x, []int{0, 1}); !errors.Is(err, centerloss.ErrShape) {
			t.Errorf("too few labels: error %v, want %v", err, centerloss.ErrShape)
		}
		x32 := dense(tensor.Float32, []float64{0, 1, 3, 0, 1, -2}, 3, 2)
		if _, _, err := c.Stats(x32, []int{0, 1, 2}); !errors.Is(err, centerloss.ErrDtype) {
			t.Errorf("dtype: error %v, want %v", err, centerloss.ErrDtype)
		}
	})
}

// TestCentersValues copies the centers out as float64, in either type.
func TestCentersValues(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		c, err := centerloss.NewCenters(3, 2, dt)
		if err != nil {
			t.Fatal(err)
		}
		switch d := c.Tensor().Data().(type) {
		case []float32:
			copy(d, []float32{1, 2, 3, 4, 5, 6.5})
		case []float64:
			copy(d, []float64{1, 2, 3, 4, 5, 6.5})
		}
		v := c.Values()
		if !slices.Equal(v, []float64{1, 2, 3, 4, 5, 6.5}) {
			t.Errorf("%v: %v", dt, v)
		}
		v[0] = 9
		if c.Values()[0] != 1 {
			t.Errorf("%v: Values shares the centers' memory", dt)
		}
	}
}
