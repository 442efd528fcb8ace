package train

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/graph"
)

// SGD is stochastic gradient descent with momentum and L2 weight decay in
// Caffe's form:
//
//	v ← momentum·v + lr·(g + decay·w);  w ← w − v
//
// gorgonia's Momentum solver adds the decay to the velocity instead of the
// gradient, so it is not used. Decay applies to the parameters whose
// graph.Param.Decay is set: the convolution and linear weights, not biases
// or PReLU slopes.
type SGD struct {
	LR, Momentum, Decay float64
	params              []sgdParam
}

type sgdParam struct {
	graph.Param
	velocity *tensor.Dense
}

// NewSGD returns a solver for params with zero velocities.
func NewSGD(params []graph.Param, lr, momentum, decay float64) *SGD {
	s := &SGD{LR: lr, Momentum: momentum, Decay: decay}
	for _, p := range params {
		v := tensor.New(tensor.Of(p.Node.Dtype()), tensor.WithShape(p.Node.Shape()...))
		s.params = append(s.params, sgdParam{Param: p, velocity: v})
	}
	return s
}

// Velocity returns the momentum buffer of the named parameter (shared, so a
// checkpoint can save or restore it), or nil.
func (s *SGD) Velocity(name string) *tensor.Dense {
	for _, p := range s.params {
		if p.Name == name {
			return p.velocity
		}
	}
	return nil
}

// Step updates every parameter from its accumulated gradient and zeroes the
// gradient. It stops with an error naming the parameter when a gradient or an
// updated weight is not finite.
func (s *SGD) Step() error {
	for _, p := range s.params {
		gv, err := p.Node.Grad()
		if err != nil {
			return fmt.Errorf("sgd: gradient of %s: %w", p.Name, err)
		}
		w, okw := p.Node.Value().(*tensor.Dense)
		g, okg := gv.(*tensor.Dense)
		if !okw || !okg {
			return fmt.Errorf("sgd: %s is not a dense tensor", p.Name)
		}
		decay := 0.0
		if p.Decay {
			decay = s.Decay
		}
		// Float32s and Float64s, unlike Data, do not allocate.
		switch w.Dtype() {
		case tensor.Float32:
			err = sgdStep(w.Float32s(), g.Float32s(), p.velocity.Float32s(), s.LR, s.Momentum, decay)
		case tensor.Float64:
			err = sgdStep(w.Float64s(), g.Float64s(), p.velocity.Float64s(), s.LR, s.Momentum, decay)
		}
		if err != nil {
			return fmt.Errorf("sgd: %s: %w", p.Name, err)
		}
	}
	return nil
}

// sgdStep updates one parameter, in chunks on all cores when it is large.
// It checks the gradient before and the weights after the update; a
// non-finite entry is reported by its index.
func sgdStep[T graph.Float](w, g, v []T, lr, mom, decay float64) error {
	if i := firstNonFinite(g); i >= 0 {
		return fmt.Errorf("gradient entry %d is %v", i, g[i])
	}
	l, m, d := T(lr), T(mom), T(decay)
	update := func(lo, hi int) {
		w, g, v := w[lo:hi], g[lo:hi], v[lo:hi]
		v, g = v[:len(w)], g[:len(w)] // lets the compiler drop the bounds checks
		for i := range w {
			v[i] = m*v[i] + l*(g[i]+d*w[i])
			w[i] -= v[i]
			g[i] = 0
		}
	}
	p := runtime.GOMAXPROCS(0)
	if len(w) < 1<<16 || p == 1 {
		update(0, len(w))
	} else {
		var wg sync.WaitGroup
		for k := range p {
			wg.Go(func() { update(k*len(w)/p, (k+1)*len(w)/p) })
		}
		wg.Wait()
	}
	if i := firstNonFinite(w); i >= 0 {
		return fmt.Errorf("weight entry %d became %v", i, w[i])
	}
	return nil
}

// firstNonFinite returns the index of the first NaN or infinite entry of x,
// or -1.
func firstNonFinite[T graph.Float](x []T) int {
	var sum T
	for _, v := range x {
		sum += v - v // 0 for every finite v, NaN otherwise
	}
	if sum == 0 {
		return -1
	}
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return i
		}
	}
	return -1
}
