//go:build !(linux && amd64)

package graph

import "errors"

// dnnlPlan is never built on this platform: oneDNN's primitives are only
// used on linux/amd64.
type dnnlPlan struct{}

func newDNNLPlan(int, bool) (*dnnlPlan, error) {
	return nil, errors.New("oneDNN's primitives are only used on linux/amd64")
}

func bf16Available() error {
	return errors.New("bf16 runs on oneDNN's primitives, which are only used on linux/amd64")
}

func (*dnnlPlan) describe() string { return "" }
func (*dnnlPlan) layers() layers   { return layers{} }
