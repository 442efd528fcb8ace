//go:build !((linux || darwin) && (amd64 || arm64))

package blas

import "errors"

// library is never opened on this platform; see openblas_dl.go.
type library struct{}

func libraryNames() []string { return nil }

func openLibrary(string) (*library, error) {
	return nil, errors.New("run-time loading of OpenBLAS is not supported on this platform")
}

func (*library) name() string   { return "" }
func (*library) setThreads(int) {}

func (*library) sgemm(aT, bT bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
}
func (*library) dgemm(aT, bT bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
}
func (*library) sgemv(aT bool, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
}
func (*library) dgemv(aT bool, m, n int, alpha float64, a []float64, lda int, x []float64, incX int, beta float64, y []float64, incY int) {
}
func (*library) sger(m, n int, alpha float32, x []float32, incX int, y []float32, incY int, a []float32, lda int) {
}
func (*library) dger(m, n int, alpha float64, x []float64, incX int, y []float64, incY int, a []float64, lda int) {
}
