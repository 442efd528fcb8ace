package train

import (
	"fmt"
	"io"
	"time"
)

// Progress returns a Hooks.Progress that writes a line to w every `every`
// steps of an epoch and at its last step: the step, the epoch's running
// mean loss and training accuracy, its speed in images per second and,
// before the last step, the time the epoch's remaining steps take at that
// speed. batch is the trainer's batch size. Epoch 0 leaves the epoch out of
// the line, for callers that do not know it:
//
//	epoch 2  step 300/937  loss 0.4134  train acc 0.9712  512 img/s  1m20s left
//	  step 300/937  loss 0.4134  train acc 0.9712  512 img/s  1m20s left
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
		rate := float64(n*batch) / time.Since(start).Seconds()
		left := ""
		if step < steps {
			seconds := float64((steps-step)*batch) / rate
			left = fmt.Sprintf("  %v left", time.Duration(seconds*float64(time.Second)).Round(time.Second))
		}
		fmt.Fprintf(w, "%s  step %d/%d  loss %.4f  train acc %.4f  %.0f img/s%s\n", prefix, step, steps,
			loss/float64(n), float64(correct)/float64(n*batch), rate, left)
	}
}
