//go:build linux && amd64

package graph

import (
	"fmt"

	"github.com/centerloss-go/centerloss/internal/onednn"
)

// TrunkPrimitives builds the oneDNN trunk for batches of n, in bfloat16
// when bf16 is set, and returns what each of its primitives and reorders
// computes with the implementation oneDNN chose for it, and the plan's
// description.
func TrunkPrimitives(n int, bf16 bool) (impls map[string]string, describe string, err error) {
	p, err := newDNNLPlan(n, bf16)
	if err != nil {
		return nil, "", err
	}
	impls = map[string]string{}
	for _, q := range p.primitives() {
		impls[q.what] = q.Implementation()
		for _, r := range q.reorders {
			impls[fmt.Sprintf("%s, reorder of argument %d", q.what, r.kind)] = r.Implementation()
		}
	}
	return impls, p.describe(), nil
}

// SteerPlans makes the plans built until restore is called turn down the
// candidates reject names, and use the activation layout act (0: the
// convolution's choice).
func SteerPlans(reject func(what string) bool, act onednn.Tag) (restore func()) {
	old := planHooks
	planHooks.reject, planHooks.act = reject, act
	return func() { planHooks = old }
}

// OneDNNISA names the instruction set oneDNN's kernels are generated for
// in this process, or says why oneDNN is not used.
func OneDNNISA() (string, error) {
	lib, err := loadOneDNN()
	if err != nil {
		return "", err
	}
	return lib.ISA, nil
}
