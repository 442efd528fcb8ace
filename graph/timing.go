package graph

import (
	"fmt"
	"math/rand/v2"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TimePass builds cfg's network in a graph of its own with softmax
// cross-entropy as the cost, runs one forward and backward pass over
// random images to allocate its buffers, then passes more, and returns the
// fastest of those: what one training step of the network costs on this
// machine, without the solver.
func TimePass(cfg Config, passes int) (time.Duration, error) {
	if passes < 1 {
		return 0, fmt.Errorf("graph: %d passes; need at least 1", passes)
	}
	g := G.NewGraph()
	net, err := New(g, cfg)
	if err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x71e))
	images := tensor.New(tensor.Of(cfg.Dtype), tensor.WithShape(net.Input.Shape()...))
	fill(images, rng.NormFloat64)
	labels := make([]int, cfg.Batch)
	for i := range labels {
		labels[i] = rng.IntN(cfg.Classes)
	}
	if err := G.Let(net.Input, images); err != nil {
		return 0, err
	}
	y := G.NewVector(g, tensor.Int, G.WithShape(cfg.Batch), G.WithValue(tensor.New(tensor.WithBacking(labels))))
	cost, err := SoftmaxCrossEntropy(net.Logits, y)
	if err != nil {
		return 0, err
	}
	if _, err := G.Grad(cost, net.Learnables()...); err != nil {
		return 0, err
	}
	m := G.NewTapeMachine(g, G.BindDualValues(net.Learnables()...))
	defer m.Close()
	best := time.Duration(1<<63 - 1)
	for i := 0; i <= passes; i++ {
		m.Reset()
		start := time.Now()
		if err := m.RunAll(); err != nil {
			return 0, err
		}
		if d := time.Since(start); i > 0 && d < best {
			best = d
		}
	}
	return best, nil
}
