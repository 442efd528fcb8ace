package centerloss_test

import (
	"fmt"
	"log"

	"github.com/centerloss-go/centerloss/centerloss"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This example trains a linear layer whose two outputs serve both as the
// deep features and as the logits of two classes, with
// cost = softmax cross-entropy + lambda·L_C.
func Example() {
	const lambda, alpha = 0.5, 0.5
	labels := []int{1, 1, 0, 0}

	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(4, 3), G.WithName("x"), G.WithValue(tensor.New(
		tensor.WithShape(4, 3), tensor.WithBacking([]float64{1, 0, 2, 0, 1, 1, 1, 1, 0, 2, 0, 1}))))
	w := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 2), G.WithName("w"), G.WithValue(tensor.New(
		tensor.WithShape(3, 2), tensor.WithBacking([]float64{0.5, -0.5, 0.25, 0.75, -0.5, 0.5}))))
	y := G.NewVector(g, tensor.Int, G.WithShape(4), G.WithName("y"), G.WithValue(tensor.New(
		tensor.WithBacking(labels))))
	onehot := G.NewMatrix(g, tensor.Float64, G.WithShape(4, 2), G.WithName("onehot"), G.WithValue(tensor.New(
		tensor.WithShape(4, 2), tensor.WithBacking([]float64{0, 1, 0, 1, 1, 0, 1, 0}))))

	features := G.Must(G.Mul(x, w)) // 4 x 2
	logp := G.Must(G.Log(G.Must(G.SoftMax(features))))
	ce := G.Must(G.Neg(G.Must(G.Div(G.Must(G.Sum(G.Must(G.HadamardProd(onehot, logp)))), G.NewConstant(4.0)))))

	centers, err := centerloss.NewCenters(2, 2, tensor.Float64)
	if err != nil {
		log.Fatal(err)
	}
	lc, err := centerloss.Loss(features, y, centers)
	if err != nil {
		log.Fatal(err)
	}
	cost := G.Must(G.Add(ce, G.Must(G.Mul(G.NewConstant(lambda), lc))))
	if _, err := G.Grad(cost, w); err != nil {
		log.Fatal(err)
	}

	// A TapeMachine may reuse the memory of an intermediate node later in
	// the same run; TraceExec with a watchlist keeps copies of the nodes
	// read after the run.
	vm := G.NewTapeMachine(g, G.BindDualValues(w), G.TraceExec(), G.WithWatchlist(features, ce, lc))
	defer vm.Close()
	solver := G.NewVanillaSolver(G.WithLearnRate(0.1))
	for step := 1; step <= 3; step++ {
		if err := vm.RunAll(); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("step %d: cross-entropy %.4f, L_C %.4f\n", step, ce.Value(), lc.Value())
		if err := solver.Step(G.NodesToValueGrads(G.Nodes{w})); err != nil {
			log.Fatal(err)
		}
		// After the solver step, move the centers with this batch's features.
		if err := centers.Update(features.Value().(tensor.Tensor), labels, alpha); err != nil {
			log.Fatal(err)
		}
		vm.Reset()
	}
	fmt.Printf("centers %.3f\n", centers.Tensor().Data())

	// Output:
	// step 1: cross-entropy 0.3255, L_C 0.4062
	// step 2: cross-entropy 0.3233, L_C 0.2164
	// step 3: cross-entropy 0.3195, L_C 0.1373
	// centers [0.442 -0.115 -0.267 0.593]
}
