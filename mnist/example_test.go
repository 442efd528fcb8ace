package mnist_test

import (
	"fmt"
	"log"

	"github.com/centerloss-go/centerloss/mnist"
)

// Load finds the MNIST files that ship with the GoMNIST module; the first
// five test images are the digits 7, 2, 1, 0 and 4.
func ExampleLoad() {
	ds, err := mnist.Load("", "test", 5)
	if err != nil {
		log.Fatal(err)
	}
	pixels := make([]float32, ds.Rows*ds.Cols)
	ds.Image(0, pixels) // scaled to about [-1, 1]
	fmt.Println(ds.N, ds.Rows, ds.Cols, ds.Labels)
	// Output: 5 28 28 [7 2 1 0 4]
}
