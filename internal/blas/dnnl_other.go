//go:build !(linux && amd64)

package blas

import (
	"errors"

	"github.com/centerloss-go/centerloss/internal/onednn"
)

// fastSgemm is never opened on this platform; see dnnl_amd64.go.
type fastSgemm struct{}

func openFast(*onednn.Library, bool) (*fastSgemm, error) {
	return nil, errors.New("oneDNN is only used on linux/amd64")
}

func (*fastSgemm) name() string { return "" }

func (*fastSgemm) sgemm(aT, bT bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
}
