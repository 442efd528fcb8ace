package graph

import (
	"fmt"
	"strings"

	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/internal/blas"
	"github.com/centerloss-go/centerloss/internal/onednn"
)

// Backend names what computes LeNet++'s convolutions, PReLUs and
// poolings, and the BLAS of this package's own kernels. The zero value is
// Auto.
type Backend string

// Backends.
const (
	// Auto takes oneDNN's primitives where they run here, else this
	// package's im2col kernels on the fastest BLAS that loads (oneDNN's
	// sgemm and OpenBLAS, else gonum's pure-Go BLAS); Net.Kernels says
	// which and why.
	Auto Backend = "auto"
	// OneDNN runs the trunk as oneDNN's primitives, in Config.Precision;
	// where they cannot run, New fails and says why.
	OneDNN Backend = "onednn"
	// OneDNNSgemm runs the im2col kernels with their products in oneDNN's
	// sgemm, the other routines in OpenBLAS (or gonum).
	OneDNNSgemm Backend = "onednn-sgemm"
	// OpenBLAS runs the im2col kernels on OpenBLAS, without oneDNN.
	OpenBLAS Backend = "openblas"
	// Gonum runs the im2col kernels on gonum's pure-Go BLAS, which needs
	// no library at all.
	Gonum Backend = "gonum"
)

// Backends lists the backends ParseBackend reads, Auto first.
var Backends = []Backend{Auto, OneDNN, OneDNNSgemm, OpenBLAS, Gonum}

// ParseBackend reads a backend's name ("" is Auto). "go", "purego",
// "pure-go", "none" and "off" are other names of Gonum.
func ParseBackend(s string) (Backend, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "":
		return Auto, nil
	case "go", "purego", "pure-go", "none", "off":
		return Gonum, nil
	}
	for _, b := range Backends {
		if Backend(s) == b {
			return b, nil
		}
	}
	names := make([]string, len(Backends))
	for i, b := range Backends {
		names[i] = string(b)
	}
	return "", fmt.Errorf("backend %q: want one of %s", s, strings.Join(names, ", "))
}

func (c Config) backend() Backend {
	if c.Backend == "" {
		return Auto
	}
	return c.Backend
}

// Available reports why c's backend and precision cannot run on this
// machine, or nil when they can (Auto always can, in float32). It loads
// the libraries they need; building the network may still fail where
// oneDNN has only its reference loop for some layer.
func (c Config) Available() error {
	if err := c.validate(); err != nil {
		return err
	}
	switch b := c.backend(); {
	case c.Stock:
		return nil
	case c.Precision == BF16:
		if _, err := openOneDNN(c.OneDNN); err != nil {
			return err
		}
		return bf16Available()
	case b == OneDNN:
		_, err := openOneDNN(c.OneDNN)
		return withBackend(b, err)
	case b == Auto:
		return nil
	default:
		_, err := c.im2colBLAS()
		return err
	}
}

// openOneDNN opens the oneDNN library named (the default ones for ""); a
// process keeps the first one it opens.
func openOneDNN(name string) (*onednn.Library, error) {
	return onednn.Open(onednn.Options{Library: name})
}

func withBackend(b Backend, err error) error {
	if err != nil {
		return fmt.Errorf("graph: backend %s: %w", b, err)
	}
	return nil
}

// im2colBLAS is the BLAS of the im2col kernels for the backends that
// name one.
func (c Config) im2colBLAS() (*blas.Implementation, error) {
	switch b := c.backend(); b {
	case Gonum:
		return blas.Gonum(), nil
	case OpenBLAS:
		impl, err := blas.OpenBLAS()
		return impl, withBackend(b, err)
	case OneDNNSgemm:
		lib, err := openOneDNN(c.OneDNN)
		if err != nil {
			return nil, withBackend(b, err)
		}
		impl, err := blas.Default().WithOneDNN(lib, true)
		return impl, withBackend(b, err)
	}
	return nil, fmt.Errorf("graph: backend %s names no BLAS of its own", c.backend())
}

// withSgemm adds the products of oneDNN's sgemm, where the library opens,
// to blas.Default, the fastest BLAS without it: one thread per product for
// the im2col kernels, which run one goroutine per core, else the
// library's threads.
func withSgemm(oneDNN string, oneThread bool) *blas.Implementation {
	impl := blas.Default()
	if lib, err := openOneDNN(oneDNN); err == nil {
		if both, err := impl.WithOneDNN(lib, oneThread); err == nil {
			return both
		}
	}
	return impl
}

// trunk chooses what computes the network's trunk: the layers build uses,
// the BLAS of this package's kernels and what Net.Kernels says. im2col are
// this package's layers, to be given the BLAS.
func (c Config) trunk(im2col func(*blas.Implementation) layers) (layers, *blas.Implementation, string, error) {
	const own = "im2col and BLAS products"
	b := c.backend()
	switch {
	case c.Stock:
		return stockLayers(), nil, "gorgonia's stock ops", nil
	case b == Gonum || b == OpenBLAS || b == OneDNNSgemm:
		impl, err := c.im2colBLAS()
		if err != nil {
			return layers{}, nil, "", err
		}
		return im2col(impl), impl, fmt.Sprintf("%s (backend %s)", own, b), nil
	case c.Dtype != tensor.Float32:
		if b == OneDNN {
			return layers{}, nil, "", withBackend(b, fmt.Errorf("oneDNN's primitives are float32 only, not %v", c.Dtype))
		}
		impl := withSgemm(c.OneDNN, true)
		return im2col(impl), impl, own + " (oneDNN's primitives are float32 only)", nil
	}
	bf16 := c.Precision == BF16
	_, err := openOneDNN(c.OneDNN)
	var plan *dnnlPlan
	if err == nil {
		plan, err = newDNNLPlan(c.Batch, bf16)
	}
	switch {
	case err != nil && bf16:
		// Never train in float32 when bfloat16 was asked for.
		return layers{}, nil, "", fmt.Errorf("graph: bf16 precision: %w", err)
	case err != nil && b == OneDNN:
		return layers{}, nil, "", withBackend(b, err)
	case err != nil:
		impl := withSgemm(c.OneDNN, true)
		return im2col(impl), impl, fmt.Sprintf("%s (backend auto; oneDNN's primitives unavailable: %v)", own, err), nil
	}
	// The linear layers run one product at a time, on the library's
	// threads: on one thread oneDNN's sgemm was slower here, and its sums
	// differed in the last bits from run to run, which a resumed run must
	// not.
	impl := withSgemm(c.OneDNN, false)
	ly := plan.layers()
	ly.fc = linear{impl}.apply
	return ly, impl, plan.describe(), nil
}
