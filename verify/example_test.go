package verify_test

import (
	"fmt"
	"log"

	"github.com/centerloss-go/centerloss/verify"
)

// Twenty images of two digits, whose features lie on two axes, one per
// digit. Image 0, a 0, lies on the 1 axis and is classified as a 1: the
// pairs it is in (two of the 18 drawn) are the only ones the cosine gets
// wrong.
func ExampleScore() {
	labels := make([]int, 20)
	features, predicted := make([]float64, 2*20), make([]int, 20)
	for i := range labels {
		labels[i] = i % 2
		predicted[i] = labels[i]
		features[2*i+labels[i]] = 1 + float64(i)/10
	}
	features[0], features[1], predicted[0] = 0, 1, 1
	centers := []float64{1, 0, 0, 1} // digit 0 at (1, 0), digit 1 at (0, 1)

	s, err := verify.Score(features, predicted, labels, centers, 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(s)
	// Output:
	// nearest-center acc 0.9500
	// verification on 9+9 pairs: by cosine acc 0.8500 ± 0.3202  AUC 0.8827; by distance acc 0.8500 ± 0.3202  AUC 0.8889
	//   of them the 16 pairs whose two images are classified right: by cosine acc 1.0000 ± 0.0000  AUC 1.0000
}
