package graph_test

import (
	"fmt"
	"log"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

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

// The activations of a forward pass, read by the names of their layers: a
// float32 NCHW copy on every set of kernels (oneDNN's primitives in float32
// or bfloat16, the im2col kernels, gorgonia's stock ops).
func ExampleNet_Activation() {
	cfg := graph.DefaultConfig()
	cfg.Batch = 2
	g := G.NewGraph()
	net, err := graph.New(g, cfg)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := net.Activation("pool1"); err != nil {
		fmt.Println(err)
	}
	// Blank images: every activation is then the layer's bias, 0 here.
	images := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(cfg.Batch, 1, graph.Rows, graph.Cols))
	if err := G.Let(net.Input, images); err != nil {
		log.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"conv1_1", "pool1", "pool3", "fc1"} {
		a, err := net.Activation(name)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(name, a.Dtype(), a.Shape(), a.Float32s()[0])
	}
	if _, err := net.Activation("pool4"); err != nil {
		fmt.Println(err)
	}
	// Output:
	// graph: activation pool1: no forward pass has run yet
	// conv1_1 float32 (2, 32, 28, 28) 0
	// pool1 float32 (2, 32, 14, 14) 0
	// pool3 float32 (2, 128, 3, 3) 0
	// fc1 float32 (2, 2) 0
	// graph: no activation "pool4"; the activations are conv1_1, prelu1_1, conv1_2, prelu1_2, pool1, conv2_1, prelu2_1, conv2_2, prelu2_2, pool2, conv3_1, prelu3_1, conv3_2, prelu3_2, pool3, fc1, prelu_fc1, fc2
}
