package train

import (
	"errors"
	"fmt"

	"github.com/centerloss-go/centerloss/graph"
)

// Data is a labelled set of images that Fit, TrainEpoch and Evaluate read
// in batches. *mnist.Dataset is one; any other source of 28×28 images with
// labels in [0, 10) can be trained on by implementing these three methods.
type Data interface {
	// Len returns the number of images.
	Len() int
	// ImageSize returns the rows and columns of every image; the network
	// decides which sizes it takes (LeNet++: 28×28).
	ImageSize() (rows, cols int)
	// Batch writes images idx[0], idx[1], ..., scaled as the network
	// expects, one after another into images (rows×cols values each,
	// row-major) and their labels into labels.
	Batch(idx []int, images []float32, labels []int) error
}

// ShiftedData is Data that can also translate its images, which training
// with Hyper.Shift > 0 needs: only the data knows what its background is.
type ShiftedData interface {
	Data
	// ShiftedBatch is Batch with image idx[k] translated by dx[k] pixels
	// to the right and dy[k] pixels down, background filling the gap.
	ShiftedBatch(idx, dx, dy []int, images []float32, labels []int) error
}

// checkData reports data whose images the network cannot take.
func checkData(ds Data) error {
	if ds == nil {
		return errors.New("no data set")
	}
	if r, c := ds.ImageSize(); r != graph.Rows || c != graph.Cols {
		return fmt.Errorf("the data's images are %d×%d, LeNet++ takes %d×%d", r, c, graph.Rows, graph.Cols)
	}
	return nil
}

// checkLabels reports a label of a batch outside [0, classes).
func checkLabels(idx, labels []int, classes int) error {
	for k, l := range labels {
		if l < 0 || l >= classes {
			return fmt.Errorf("label %d of image %d is outside [0, %d)", l, idx[k], classes)
		}
	}
	return nil
}
