package train

import (
	"fmt"
	"io"
	"time"
)

// Progress returns a Hooks.Progress that writes a line to w every `every`
// steps of an epoch and at its last step: the step, the epoch's running
// mean loss and training accuracy, and its speed in images per second.
// batch is the trainer's batch size. Epoch 0 leaves the epoch out of the
// line, for callers that do not know it:
//
//	epoch 2  step 300/937  loss 0.4134  train acc 0.9712  512 img/s
//	  step 300/937  loss 0.4134  train acc 0.9712  512 img/s
func Progress(w io.Writer, batch, every int) func(epoch, step, steps int, r StepResult) {
	every = max(every, 1)
	var start time.Time
	var loss float64
	correct, n, last := 0, 0, 0
	return func(epoch, step, steps int, r StepResult) {
		if step <= last { // a new epoch, or a new pass over one
			loss, correct, n = 0, 0, 0
		}
		if n == 0 {
			start = time.Now()
		}
		last = step
		loss += r.Loss
		correct += r.Correct
		n++
		if step%every != 0 && step != steps {
			return
		}
		prefix := ""
		if epoch > 0 {
			prefix = fmt.Sprintf("epoch %d", epoch)
		}
		fmt.Fprintf(w, "%s  step %d/%d  loss %.4f  train acc %.4f  %.0f img/s\n", prefix, step, steps,
			loss/float64(n), float64(correct)/float64(n*batch), float64(n*batch)/time.Since(start).Seconds())
	}
}
