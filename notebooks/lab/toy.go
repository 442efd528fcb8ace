package lab

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// BlobSet is a toy data set: K Gaussian clusters ("blobs") in the plane.
type BlobSet struct {
	Points []float64 // N×2, row-major: point i is (Points[2i], Points[2i+1])
	Labels []int     // N labels in [0, K)
	Means  []float64 // K×2, the true mean of each blob
	N, K   int
}

// Blobs draws perClass points around each of k means spread evenly on a
// circle of radius 3 around the origin, with standard deviation spread in
// each coordinate. The points come in a shuffled order; the same seed gives
// the same set.
func Blobs(k, perClass int, spread float64, seed uint64) *BlobSet {
	if k < 1 || perClass < 1 || !(spread >= 0) {
		panic(fmt.Sprintf("lab: Blobs(%d, %d, %v): need k, perClass >= 1 and spread >= 0", k, perClass, spread))
	}
	rng := rand.New(rand.NewPCG(seed, 0xb10b5))
	b := &BlobSet{N: k * perClass, K: k, Means: make([]float64, 2*k)}
	for j := 0; j < k; j++ {
		a := 2*math.Pi*float64(j)/float64(k) + math.Pi/7
		b.Means[2*j], b.Means[2*j+1] = 3*math.Cos(a), 3*math.Sin(a)
	}
	b.Points = make([]float64, 2*b.N)
	b.Labels = make([]int, b.N)
	for i, p := range rng.Perm(b.N) {
		j := p % k
		b.Labels[i] = j
		b.Points[2*i] = b.Means[2*j] + spread*rng.NormFloat64()
		b.Points[2*i+1] = b.Means[2*j+1] + spread*rng.NormFloat64()
	}
	return b
}

// MiniBatch returns the step-th mini-batch of size points of b (counting
// from 0 and wrapping around the end of the set) as copies: size×2 points and
// size labels.
func (b *BlobSet) MiniBatch(size, step int) (points []float64, labels []int) {
	if size < 1 || size > b.N || step < 0 {
		panic(fmt.Sprintf("lab: MiniBatch(%d, %d) of %d points", size, step, b.N))
	}
	points = make([]float64, 2*size)
	labels = make([]int, size)
	for i := range labels {
		p := (step*size + i) % b.N
		points[2*i], points[2*i+1] = b.Points[2*p], b.Points[2*p+1]
		labels[i] = b.Labels[p]
	}
	return points, labels
}

// ClassMeans returns the mean of the points (N×dim, row-major) of each of k
// classes, as a k×dim slice; a class without points gets zeros.
func ClassMeans(points []float64, labels []int, k, dim int) []float64 {
	if len(points) != len(labels)*dim {
		panic(fmt.Sprintf("lab: ClassMeans: %d values for %d labels of dim %d", len(points), len(labels), dim))
	}
	sum := make([]float64, k*dim)
	n := make([]int, k)
	for i, l := range labels {
		n[l]++
		for d := 0; d < dim; d++ {
			sum[l*dim+d] += points[i*dim+d]
		}
	}
	for j := 0; j < k; j++ {
		for d := 0; d < dim && n[j] > 0; d++ {
			sum[j*dim+d] /= float64(n[j])
		}
	}
	return sum
}

// FiniteDiff returns the central-difference estimate of the gradient of f
// with respect to each element of x:
//
//	∂f/∂x_i ≈ (f(x + eps·e_i) − f(x − eps·e_i)) / (2·eps)
//
// f must read x (for example x is the live backing slice of a parameter
// tensor, see Backing, and f reruns the graph). Every element is restored
// after it has been perturbed.
func FiniteDiff(f func() float64, x []float64, eps float64) []float64 {
	if !(eps > 0) {
		panic(fmt.Sprintf("lab: FiniteDiff: eps %v must be positive", eps))
	}
	g := make([]float64, len(x))
	for i := range x {
		orig := x[i]
		x[i] = orig + eps
		up := f()
		x[i] = orig - eps
		down := f()
		x[i] = orig
		g[i] = (up - down) / (2 * eps)
	}
	return g
}

// MaxAbsDiff returns max_i |a_i − b_i|; it panics if the lengths differ.
func MaxAbsDiff(a, b []float64) float64 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("lab: MaxAbsDiff of %d and %d values", len(a), len(b)))
	}
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

// RelErr returns ||a − b|| / max(||a||, ||b||, 1e-12) (Euclidean norms), a
// scale-free measure of how far two gradients are apart.
func RelErr(a, b []float64) float64 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("lab: RelErr of %d and %d values", len(a), len(b)))
	}
	var d, na, nb float64
	for i := range a {
		d += (a[i] - b[i]) * (a[i] - b[i])
		na += a[i] * a[i]
		nb += b[i] * b[i]
	}
	return math.Sqrt(d) / math.Max(math.Sqrt(math.Max(na, nb)), 1e-12)
}

// Table formats a Markdown table (GitHub style) with the given header and
// rows; a row shorter than the header is padded with empty cells. Show it
// with display.Markdown(Table(...)) or print it: the columns are aligned, so
// it reads as plain text too. A "|" inside a cell is escaped.
func Table(header []string, rows [][]string) string {
	cols := len(header)
	for _, r := range rows {
		cols = max(cols, len(r))
	}
	if cols == 0 {
		return ""
	}
	cell := func(r []string, c int) string {
		if c < len(r) {
			return strings.ReplaceAll(r[c], "|", `\|`)
		}
		return ""
	}
	width := make([]int, cols)
	for c := range width {
		width[c] = max(3, len([]rune(cell(header, c))))
		for _, r := range rows {
			width[c] = max(width[c], len([]rune(cell(r, c))))
		}
	}
	var sb strings.Builder
	line := func(r []string) {
		sb.WriteString("|")
		for c := range width {
			s := cell(r, c)
			sb.WriteString(" " + s + strings.Repeat(" ", width[c]-len([]rune(s))) + " |")
		}
		sb.WriteString("\n")
	}
	line(header)
	sb.WriteString("|")
	for _, w := range width {
		sb.WriteString(" " + strings.Repeat("-", w) + " |")
	}
	sb.WriteString("\n")
	for _, r := range rows {
		line(r)
	}
	return sb.String()
}
