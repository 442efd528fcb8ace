package plots_test

import (
	"bytes"
	"fmt"
	"image/png"
	"log"

	"github.com/centerloss-go/centerloss/plots"
)

// Four 2-D features of two classes and their centers, drawn as an 800×800
// PNG; the bounds returned fit the data with a margin, on one scale.
func ExampleFeatures() {
	features := []float64{1, 0, 1.2, 0.1, 0, 1, 0.1, 1.3}
	labels := []int{0, 0, 1, 1}
	centers := []float64{1.1, 0.05, 0.05, 1.15}
	b, bounds, err := plots.Features(features, labels, centers, 2, plots.Options{Title: "two classes"})
	if err != nil {
		log.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(img.Bounds().Dx(), img.Bounds().Dy(), bounds.XMin < 0 && bounds.XMax > 1.2)
	// Output: 800 800 true
}
