package graph_test

import (
	"fmt"
	"log"

	G "gorgonia.org/gorgonia"

	"github.com/centerloss-go/centerloss/graph"
)

// LeNet++ for batches of 64 images with 2-D deep features: the input, the
// features center loss attaches to, the logits, and the learnable tensors
// with their PyTorch names.
func ExampleNew() {
	net, err := graph.New(G.NewGraph(), graph.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(net.Input.Shape(), net.Features.Shape(), net.Logits.Shape())
	fmt.Println(len(net.Params), net.Params[0].Name, net.Params[0].Node.Shape(), net.Params[0].Decay)
	// Output:
	// (64, 1, 28, 28) (64, 2) (64, 10)
	// 22 conv1_1.weight (32, 1, 5, 5) true
}
