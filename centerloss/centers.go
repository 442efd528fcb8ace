package centerloss

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// Centers holds the K x D matrix of class centers, one row per class.
//
// The centers are kept outside any graph and start at zero. [Loss] reads
// their current values every time the graph runs; [Centers.Update] moves
// them. A Centers is not safe for concurrent use.
type Centers struct {
	k, d int
	t    *tensor.Dense

	// counts is scratch space for Update, one entry per class, kept here so
	// that the per-step update does not allocate.
	counts []int
}

// NewCenters returns k zero centers of dimension d, stored with dtype dt,
// which must be tensor.Float32 or tensor.Float64.
func NewCenters(k, d int, dt tensor.Dtype) (*Centers, error) {
	if k < 1 || d < 1 {
		return nil, fmt.Errorf("centerloss: new centers: need k, d >= 1, got k=%d, d=%d: %w", k, d, ErrShape)
	}
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("centerloss: new centers: dtype %v, want float32 or float64: %w", dt, ErrDtype)
	}
	return &Centers{
		k:      k,
		d:      d,
		t:      tensor.New(tensor.Of(dt), tensor.WithShape(k, d)),
		counts: make([]int, k),
	}, nil
}

// K returns the number of classes.
func (c *Centers) K() int { return c.k }

// D returns the dimension of a center, which is the feature dimension.
func (c *Centers) D() int { return c.d }

// Dtype returns the element type of the centers.
func (c *Centers) Dtype() tensor.Dtype {
	if c.t == nil {
		return tensor.Dtype{}
	}
	return c.t.Dtype()
}

// Tensor returns the live K x D matrix of centers. It shares memory with c,
// so it can be used to read, save or restore the centers (for example with
// its Data slice or tensor.Copy). Its shape and layout must not be changed.
func (c *Centers) Tensor() *tensor.Dense { return c.t }

// Values returns a copy of the centers as a row-major K×D slice of
// float64, whatever the centers' type.
func (c *Centers) Values() []float64 {
	out := make([]float64, c.k*c.d)
	switch d := c.t.Data().(type) {
	case []float32:
		for i, v := range d[:len(out)] {
			out[i] = float64(v)
		}
	case []float64:
		copy(out, d)
	}
	return out
}

// Update applies the alpha rule of the paper's Eq. 4 with the features
// (N x D, the dtype of c) and labels of one mini-batch:
//
//	Δc_j = Σ_{i: y_i=j} (c_j - x_i) / (1 + n_j)
//	c_j  ← c_j - alpha·Δc_j
//
// where n_j is the number of samples of class j in the batch. Classes absent
// from the batch do not move. Call it after each solver step; the package
// documentation tells how to read the features from a TapeMachine.
//
// It returns an error, leaving the centers unchanged, if alpha is outside
// [0, 1], if the dtype or shape of features does not match, if
// len(labels) != N, or if a label is outside [0, K).
func (c *Centers) Update(features tensor.Tensor, labels []int, alpha float64) error {
	if !(alpha >= 0 && alpha <= 1) { // also rejects NaN
		return fmt.Errorf("centerloss: update: alpha %v outside [0, 1]: %w", alpha, ErrAlpha)
	}
	if c.Dtype() == tensor.Float32 {
		return update[float32](c, features, labels, alpha)
	}
	return update[float64](c, features, labels, alpha)
}

// update is Centers.Update for element type T.
func update[T float](c *Centers, features tensor.Tensor, labels []int, alpha float64) error {
	centers, err := centerData[T](c)
	if err != nil {
		return fmt.Errorf("centerloss: update: %w", err)
	}
	x, err := batchData[T](c, features, labels)
	if err != nil {
		return fmt.Errorf("centerloss: update: %w", err)
	}
	d := c.d
	counts := c.counts
	for _, y := range labels {
		counts[y] = 0
	}
	for _, y := range labels {
		counts[y]++
	}
	// Eq. 4 rearranged as c_j ← (1 - alpha·n_j/(1+n_j))·c_j + alpha/(1+n_j)·Σ x_i,
	// which updates c_j in place without a copy of the old centers: first
	// scale each present center once, then add its samples.
	for _, y := range labels {
		n := counts[y]
		if n < 0 {
			continue // already scaled
		}
		s := T(1 - alpha*float64(n)/float64(1+n))
		row := centers[y*d : y*d+d]
		for j := range row {
			row[j] *= s
		}
		counts[y] = -n // mark as scaled, keep n for the next loop
	}
	for i, y := range labels {
		w := T(alpha / float64(1-counts[y]))
		row := centers[y*d : y*d+d]
		xi := x[i*d : i*d+d]
		for j := range row {
			row[j] += w * xi[j]
		}
	}
	return nil
}

// Stats returns, for the features (N x D, the dtype of c) and labels of a
// batch, the mean Euclidean distance of a feature to its own class center
// (intra) and the smallest Euclidean distance between two distinct centers
// (inter). With a single class there is no pair of centers and inter is +Inf.
//
// It returns an error if the dtype or shape of features does not match, if
// len(labels) != N, or if a label is outside [0, K).
func (c *Centers) Stats(features tensor.Tensor, labels []int) (intra, inter float64, err error) {
	if c.Dtype() == tensor.Float32 {
		intra, inter, err = stats[float32](c, features, labels)
	} else {
		intra, inter, err = stats[float64](c, features, labels)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("centerloss: stats: %w", err)
	}
	return intra, inter, nil
}

// stats is Centers.Stats for element type T.
func stats[T float](c *Centers, features tensor.Tensor, labels []int) (intra, inter float64, err error) {
	centers, err := centerData[T](c)
	if err != nil {
		return 0, 0, err
	}
	x, err := batchData[T](c, features, labels)
	if err != nil {
		return 0, 0, err
	}
	d := c.d
	for i, y := range labels {
		intra += math.Sqrt(sqDist(x[i*d:i*d+d], centers[y*d:y*d+d]))
	}
	intra /= float64(len(labels))

	inter = math.Inf(1)
	for a := 0; a < c.k; a++ {
		for b := a + 1; b < c.k; b++ {
			inter = min(inter, sqDist(centers[a*d:a*d+d], centers[b*d:b*d+d]))
		}
	}
	return intra, math.Sqrt(inter), nil
}
