package train

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/centerloss"
	"github.com/centerloss-go/centerloss/graph"
	"github.com/centerloss-go/centerloss/internal/value"
)

// evalBatch is the batch size of the evaluation graph: large enough to keep
// the cores busy, small enough to keep its buffers modest.
const evalBatch = 100

// Trainer holds a LeNet++ being trained with center loss, and everything
// that changes as it trains: weights, solver state, centers and position.
//
// Of its Hyper, the learning rate and its schedule, Momentum, WeightDecay,
// Lambda, Alpha, Seed (for the order and shifts of the steps to come),
// Shift and Flip may change between steps and take effect at the next one.
// Batch, Dim and Precision are built into its graphs: TrainStep refuses to
// run when they no longer match them, and a new trainer is needed instead.
type Trainer struct {
	Hyper
	Dtype   tensor.Dtype
	Net     *graph.Net
	Centers *centerloss.Centers
	Solver  *SGD
	Epoch   int // epochs completed
	Step    int // steps completed
	// Sums are the running sums of the epoch under way; a checkpoint keeps
	// them, so that an epoch interrupted and resumed reports the means of
	// all its steps.
	Sums EpochSums

	vm                   G.VM
	input, labels        *tensor.Dense
	softmax, center, all *G.Node
	lambda               *G.Node // set from Lambda before every step

	eval *evaluator
}

// StepResult is what one training step reports.
type StepResult struct {
	Loss, Softmax, Center float64 // the joint loss and its two parts
	Correct               int     // images of the batch classified correctly
}

// NewTrainer builds the training and evaluation graphs for h in dtype dt
// (float32 for speed, float64 for checks).
func NewTrainer(h Hyper, dt tensor.Dtype) (*Trainer, error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	cfg := graph.DefaultConfig()
	cfg.Batch, cfg.Dim, cfg.Dtype, cfg.Seed, cfg.Precision = h.Batch, h.Dim, dt, h.Seed, h.Precision
	cfg.Backend, cfg.OneDNN = h.Backend, h.OneDNN
	g := G.NewGraph()
	net, err := graph.New(g, cfg)
	if err != nil {
		return nil, err
	}
	centers, err := centerloss.NewCenters(cfg.Classes, h.Dim, dt)
	if err != nil {
		return nil, err
	}
	t := &Trainer{Hyper: h, Dtype: dt, Net: net, Centers: centers}
	t.input = tensor.New(tensor.Of(dt), tensor.WithShape(net.Input.Shape()...))
	t.labels = tensor.New(tensor.WithBacking(make([]int, h.Batch)))
	if err := G.Let(net.Input, t.input); err != nil {
		return nil, err
	}
	labels := G.NewVector(g, tensor.Int, G.WithShape(h.Batch), G.WithName("labels"), G.WithValue(t.labels))
	if t.softmax, err = graph.SoftmaxCrossEntropy(net.Logits, labels); err != nil {
		return nil, err
	}
	if t.center, err = centerloss.Loss(net.Features, labels, centers); err != nil {
		return nil, err
	}
	t.lambda = G.NewScalar(g, dt, G.WithName("lambda"), G.WithValue(scalar(dt, h.Lambda)))
	weighted, err := G.Mul(t.lambda, t.center)
	if err != nil {
		return nil, err
	}
	if t.all, err = G.Add(t.softmax, weighted); err != nil {
		return nil, err
	}
	if _, err := G.Grad(t.all, net.Learnables()...); err != nil {
		return nil, fmt.Errorf("building the gradient graph: %w", err)
	}
	// TraceExec with a watch list copies the features and logits out as they
	// are computed: the machine may reuse their buffers later in the run.
	t.vm = G.NewTapeMachine(g, G.BindDualValues(net.Learnables()...),
		G.TraceExec(), G.WithWatchlist(net.Features, net.Logits, t.softmax, t.center, t.all))
	t.Solver = NewSGD(net.Params, h.LR, h.Momentum, h.WeightDecay)
	if t.eval, err = newEvaluator(net, centers); err != nil {
		return nil, err
	}
	return t, nil
}

func scalar(dt tensor.Dtype, v float64) any {
	if dt == tensor.Float32 {
		return float32(v)
	}
	return v
}

// Close releases the machines.
func (t *Trainer) Close() {
	t.vm.Close()
	t.eval.vm.Close()
}

// TrainStep runs one step on a batch: images (Batch×28×28, scaled) and
// labels. It updates the weights and the centers and returns the losses
// measured before the update. A loss, gradient or weight that is not finite
// stops it with an error naming the quantity.
func (t *Trainer) TrainStep(images []float32, labels []int) (StepResult, error) {
	var r StepResult
	if t.Batch != t.Net.Batch || t.Dim != t.Net.Dim || cmp.Or(t.Precision, graph.F32) != cmp.Or(t.Net.Precision, graph.F32) {
		return r, fmt.Errorf("train step: batch %d, D=%d, precision %q, but the trainer's graphs were built for batch %d, D=%d, precision %q: build a new trainer to change them",
			t.Batch, t.Dim, t.Precision, t.Net.Batch, t.Net.Dim, t.Net.Precision)
	}
	if len(labels) != t.Batch || len(images) != t.Batch*graph.Rows*graph.Cols {
		return r, fmt.Errorf("train step: got %d images and %d labels for a batch of %d", len(images)/(graph.Rows*graph.Cols), len(labels), t.Batch)
	}
	copyImages(t.input, images)
	copy(t.labels.Ints(), labels)
	if err := G.Let(t.lambda, scalar(t.Dtype, t.Lambda)); err != nil {
		return r, err
	}
	t.vm.Reset()
	if err := t.vm.RunAll(); err != nil {
		return r, fmt.Errorf("step %d: %w", t.Step+1, err)
	}
	var err error
	if r.Loss, err = value.Scalar(t.all.Value()); err != nil {
		return r, err
	}
	r.Softmax, _ = value.Scalar(t.softmax.Value())
	r.Center, _ = value.Scalar(t.center.Value())
	for _, q := range []struct {
		name string
		v    float64
	}{{"softmax loss", r.Softmax}, {"center loss", r.Center}, {"loss", r.Loss}} {
		if math.IsNaN(q.v) || math.IsInf(q.v, 0) {
			return r, &DivergedError{Epoch: t.Epoch + 1, Step: t.Step + 1, What: fmt.Sprintf("the %s is %v", q.name, q.v)}
		}
	}
	logits, err := value.Floats(t.Net.Logits.Value())
	if err != nil {
		return r, fmt.Errorf("step %d: logits: %w", t.Step+1, err)
	}
	for i, p := range argmaxRows(logits, t.Net.Classes) {
		if p == labels[i] {
			r.Correct++
		}
	}
	t.Solver.LR, t.Solver.Momentum, t.Solver.Decay = t.LRAt(t.Epoch+1), t.Momentum, t.WeightDecay
	if err := t.Solver.Step(); err != nil {
		return r, &DivergedError{Epoch: t.Epoch + 1, Step: t.Step + 1, What: err.Error()}
	}
	if err := t.Centers.Update(t.Net.Features.Value().(*tensor.Dense), labels, t.Alpha); err != nil {
		return r, fmt.Errorf("step %d: center update: %w", t.Step+1, err)
	}
	t.Step++
	return r, nil
}

// DivergedError reports a loss, gradient or weight that stopped being finite.
type DivergedError struct {
	Epoch, Step int    // 1-based position of the step that failed
	What        string // the quantity that went bad
}

func (e *DivergedError) Error() string { return e.Suggesting("a smaller learning rate or lambda") }

// Suggesting is the error's message with another suggestion of what to
// try, such as a command's names for the options.
func (e *DivergedError) Suggesting(what string) string {
	return fmt.Sprintf("training diverged at epoch %d, step %d: %s (try %s)", e.Epoch, e.Step, e.What, what)
}

// ErrDiverged matches every *DivergedError with errors.Is.
var ErrDiverged = errors.New("training diverged")

// Is makes errors.Is(err, ErrDiverged) true for a *DivergedError.
func (e *DivergedError) Is(target error) bool { return target == ErrDiverged }

func copyImages(dst *tensor.Dense, src []float32) {
	switch d := dst.Data().(type) {
	case []float32:
		copy(d, src)
	case []float64:
		for i, v := range src {
			d[i] = float64(v)
		}
	}
}

// argmaxRows returns the index of the largest entry of each row of the
// row-major matrix v of k columns.
func argmaxRows(v []float64, k int) []int {
	n := len(v) / k
	out := make([]int, n)
	for i := range out {
		best := math.Inf(-1)
		for j, x := range v[i*k : (i+1)*k] {
			if x > best {
				best, out[i] = x, j
			}
		}
	}
	return out
}

// flipImage mirrors one image left to right.
func flipImage(im []float32) {
	for r := 0; r < graph.Rows; r++ {
		slices.Reverse(im[r*graph.Cols : (r+1)*graph.Cols])
	}
}

// shiftStream marks the PCG streams of the shifts apart from those of Shuffle.
const shiftStream = 1 << 63

// Shuffle returns the order in which epoch (1-based) visits n images: a
// permutation drawn from the seed and the epoch alone, so that a resumed run
// sees the same batches as an uninterrupted one.
func Shuffle(seed uint64, epoch, n int) []int {
	rng := rand.New(rand.NewPCG(seed, uint64(epoch)))
	return rng.Perm(n)
}

// EpochResult sums the steps of one epoch.
type EpochResult struct {
	Loss, Softmax, Center float64 // means over the epoch's steps
	Acc                   float64 // running training accuracy over the epoch
	Images                int     // images trained on by this call (fewer in a resumed epoch)
}

// EpochSums are the sums over the steps of an epoch so far.
type EpochSums struct {
	Loss, Softmax, Center float64 // of the steps' losses
	Correct               int     // training images classified correctly
	Steps                 int     // steps summed
}

// ErrInterrupted is returned by TrainEpoch when its context is cancelled;
// the trainer then stands after the last completed step.
var ErrInterrupted = errors.New("training interrupted")

// TrainEpoch runs the rest of the current epoch over ds in shuffled order,
// dropping the last partial batch, and calls progress (if not nil) after
// every step. A trainer restored from a checkpoint taken mid-epoch goes on
// with the next batch of the same order. When ctx is cancelled it stops after
// the step under way and returns an error wrapping ErrInterrupted.
func (t *Trainer) TrainEpoch(ctx context.Context, ds Data, progress func(step, steps int, r StepResult)) (EpochResult, error) {
	var e EpochResult
	if err := checkData(ds); err != nil {
		return e, fmt.Errorf("train: %w", err)
	}
	var shifted ShiftedData
	if t.Shift > 0 {
		var ok bool
		if shifted, ok = ds.(ShiftedData); !ok {
			return e, fmt.Errorf("train: shift %d needs data that can shift its images (%T has no ShiftedBatch)", t.Shift, ds)
		}
	}
	n := ds.Len()
	steps := n / t.Batch
	if steps == 0 {
		return e, fmt.Errorf("the training set has %d images, fewer than one batch of %d", n, t.Batch)
	}
	done := t.Step - t.Epoch*steps
	if done < 0 || done >= steps {
		return e, fmt.Errorf("the trainer stands at step %d of epoch %d, which does not fit %d steps per epoch: was it trained on another number of images or batch size?", t.Step, t.Epoch+1, steps)
	}
	order := Shuffle(t.Seed, t.Epoch+1, n)
	images := make([]float32, t.Batch*graph.Rows*graph.Cols)
	labels := make([]int, t.Batch)
	dx, dy := make([]int, t.Batch), make([]int, t.Batch)
	var shifts rand.PCG
	if done == 0 {
		t.Sums = EpochSums{}
	}
	for s := done; s < steps; s++ {
		if err := ctx.Err(); err != nil {
			return e, fmt.Errorf("%w at epoch %d, step %d", ErrInterrupted, t.Epoch+1, t.Step)
		}
		idx := order[s*t.Batch : (s+1)*t.Batch]
		var err error
		// The shifts and flips of a step depend on the seed and the step
		// alone, so a resumed run sees the same images as an uninterrupted one.
		shifts.Seed(t.Seed, shiftStream|uint64(t.Step))
		if shifted != nil {
			span := uint64(2*t.Shift + 1)
			for i := range idx {
				dx[i], dy[i] = int(shifts.Uint64()%span)-t.Shift, int(shifts.Uint64()%span)-t.Shift
			}
			err = shifted.ShiftedBatch(idx, dx, dy, images, labels)
		} else {
			err = ds.Batch(idx, images, labels)
		}
		if err == nil {
			err = checkLabels(idx, labels, t.Net.Classes)
		}
		if err != nil {
			return e, fmt.Errorf("train: epoch %d, step %d: %w", t.Epoch+1, t.Step+1, err)
		}
		if t.Flip {
			for i := range idx {
				if shifts.Uint64()&1 == 1 {
					flipImage(images[i*graph.Rows*graph.Cols : (i+1)*graph.Rows*graph.Cols])
				}
			}
		}
		r, err := t.TrainStep(images, labels)
		if err != nil {
			return e, err
		}
		t.Sums.Loss += r.Loss
		t.Sums.Softmax += r.Softmax
		t.Sums.Center += r.Center
		t.Sums.Correct += r.Correct
		t.Sums.Steps++
		e.Images += t.Batch
		if progress != nil {
			progress(s+1, steps, r)
		}
	}
	// Means over every step of the epoch, those before a resume included
	// (only those after it when resumed from a checkpoint without sums).
	summed := float64(t.Sums.Steps)
	e.Loss, e.Softmax, e.Center = t.Sums.Loss/summed, t.Sums.Softmax/summed, t.Sums.Center/summed
	e.Acc = float64(t.Sums.Correct) / (summed * float64(t.Batch))
	t.Sums = EpochSums{}
	t.Epoch++
	return e, nil
}

// Hooks attach a run's outputs to Fit, which itself writes and prints
// nothing. Each hook is optional.
type Hooks struct {
	// Progress is called after every training step with the epoch
	// (1-based), the step within it (1-based), the steps per epoch and the
	// step's result.
	Progress func(epoch, step, steps int, r StepResult)
	// Epoch is called after every epoch and its evaluation; an error
	// stops Fit and is returned.
	Epoch func(r EpochReport) error
}

// Metrics are the numbers of one epoch: a row of the metrics.csv that
// package experiment writes.
type Metrics struct {
	Epoch           int     `json:"epoch"`
	LR              float64 `json:"lr"`
	TrainLoss       float64 `json:"train_loss"`
	SoftmaxLoss     float64 `json:"softmax_loss"`
	CenterLoss      float64 `json:"center_loss"`
	TrainAcc        float64 `json:"train_acc"`
	TestAcc         float64 `json:"test_acc"`
	TestSoftmax     float64 `json:"test_softmax_loss"`
	TestCenter      float64 `json:"test_center_loss"`
	Intra           float64 `json:"intra"`
	Inter           float64 `json:"inter"`
	Seconds         float64 `json:"seconds"`
	ImagesPerSecond float64 `json:"images_per_second"`
}

// Line is m as one line of a log, "epoch 3/5  loss ...  12s", the
// format of the trainer's log and of the notebooks: the learning rate and
// the speed are shown when they are known (not zero).
func (m Metrics) Line(epochs int) string {
	s := fmt.Sprintf("epoch %d/%d  loss %.4f (softmax %.4f, center %.4f)  train acc %.4f  test acc %.4f  intra %.3f  inter %.3f",
		m.Epoch, epochs, m.TrainLoss, m.SoftmaxLoss, m.CenterLoss, m.TrainAcc, m.TestAcc, m.Intra, m.Inter)
	if m.LR != 0 {
		s += fmt.Sprintf("  lr %g", m.LR)
	}
	s += fmt.Sprintf("  %.0fs", m.Seconds)
	if m.ImagesPerSecond != 0 {
		s += fmt.Sprintf("  %.0f img/s", m.ImagesPerSecond)
	}
	return s
}

// EpochReport is what Fit hands its Epoch hook.
type EpochReport struct {
	Metrics                  // the epoch's row of metrics.csv
	Train        EpochResult // the training sums
	Test         EvalResult  // the test evaluation, features included
	TrainSeconds float64     // time spent training, without the evaluation
}

// Fit trains t on trainSet until it has completed epochs epochs,
// evaluating on testSet after each, and calls h's hooks. When ctx is
// cancelled it stops after the step under way with an error wrapping
// ErrInterrupted; t then stands after that step, ready to be saved and
// resumed, and a resumed Fit goes on with the same batches.
func (t *Trainer) Fit(ctx context.Context, trainSet, testSet Data, epochs int, h Hooks) error {
	for t.Epoch < epochs {
		epoch := t.Epoch + 1
		start := time.Now()
		var progress func(step, steps int, r StepResult)
		if h.Progress != nil {
			progress = func(step, steps int, r StepResult) { h.Progress(epoch, step, steps, r) }
		}
		er, err := t.TrainEpoch(ctx, trainSet, progress)
		if err != nil {
			return err
		}
		secs := time.Since(start).Seconds()
		ev, err := t.Evaluate(testSet)
		if err != nil {
			return err
		}
		r := EpochReport{
			Metrics: Metrics{
				Epoch: epoch, LR: t.LRAt(epoch), TrainLoss: er.Loss, SoftmaxLoss: er.Softmax, CenterLoss: er.Center,
				TrainAcc: er.Acc, TestAcc: ev.Acc, TestSoftmax: ev.Softmax, TestCenter: ev.Center,
				Intra: ev.Intra, Inter: ev.Inter, Seconds: time.Since(start).Seconds(),
				ImagesPerSecond: float64(er.Images) / secs,
			},
			Train: er, Test: ev, TrainSeconds: secs,
		}
		if h.Epoch != nil {
			if err := h.Epoch(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// EvalResult is the network measured on a data set.
type EvalResult struct {
	Acc          float64   // softmax classifier accuracy
	Softmax      float64   // mean softmax cross-entropy
	Center       float64   // center loss 1/(2N) Σ ||x_i - c_{y_i}||²
	Intra, Inter float64   // mean distance to own center; smallest distance between centers
	Features     []float64 // N×Dim deep features, in data set order
	Predicted    []int     // N predicted classes
	Labels       []int     // N true classes, as the data set gave them
}

// Evaluate runs the network over every image of ds through the evaluation
// graph; training gradients are untouched.
func (t *Trainer) Evaluate(ds Data) (EvalResult, error) {
	return t.eval.run(ds, t.Centers)
}

// evaluator is a gradient-free clone of the network.
type evaluator struct {
	net   *graph.Net
	vm    G.VM
	input *tensor.Dense
}

func newEvaluator(net *graph.Net, c *centerloss.Centers) (*evaluator, error) {
	g := G.NewGraph()
	clone, err := net.Clone(g, evalBatch)
	if err != nil {
		return nil, err
	}
	e := &evaluator{net: clone}
	e.input = tensor.New(tensor.Of(net.Dtype), tensor.WithShape(clone.Input.Shape()...))
	if err := G.Let(clone.Input, e.input); err != nil {
		return nil, err
	}
	e.vm = G.NewTapeMachine(g, G.TraceExec(), G.WithWatchlist(clone.Features, clone.Logits))
	return e, nil
}

func (e *evaluator) run(ds Data, c *centerloss.Centers) (EvalResult, error) {
	var r EvalResult
	if err := checkData(ds); err != nil {
		return r, fmt.Errorf("evaluate: %w", err)
	}
	n := ds.Len()
	if n == 0 {
		return r, errors.New("evaluate: empty data set")
	}
	const px = graph.Rows * graph.Cols
	dim, k := e.net.Dim, e.net.Classes
	r.Features = make([]float64, n*dim)
	r.Predicted = make([]int, n)
	r.Labels = make([]int, n)
	batch := make([]float32, evalBatch*px)
	idx := make([]int, evalBatch)
	correct := 0
	for lo := 0; lo < n; lo += evalBatch {
		hi := min(lo+evalBatch, n)
		// A short last batch is padded with zeros whose outputs are ignored.
		clear(batch)
		for i := range hi - lo {
			idx[i] = lo + i
		}
		labels := r.Labels[lo:hi]
		err := ds.Batch(idx[:hi-lo], batch[:(hi-lo)*px], labels)
		if err == nil {
			err = checkLabels(idx[:hi-lo], labels, k)
		}
		if err != nil {
			return r, fmt.Errorf("evaluate: images %d to %d: %w", lo, hi-1, err)
		}
		copyImages(e.input, batch)
		e.vm.Reset()
		if err := e.vm.RunAll(); err != nil {
			return r, fmt.Errorf("evaluate: %w", err)
		}
		feats, err := value.Floats(e.net.Features.Value())
		if err != nil {
			return r, fmt.Errorf("evaluate: features: %w", err)
		}
		logits, err := value.Floats(e.net.Logits.Value())
		if err != nil {
			return r, fmt.Errorf("evaluate: logits: %w", err)
		}
		pred := argmaxRows(logits, k)
		for i := 0; i < hi-lo; i++ {
			copy(r.Features[(lo+i)*dim:(lo+i+1)*dim], feats[i*dim:(i+1)*dim])
			r.Predicted[lo+i] = pred[i]
			if pred[i] == labels[i] {
				correct++
			}
			r.Softmax += crossEntropy(logits[i*k:(i+1)*k], labels[i])
		}
	}
	r.Acc = float64(correct) / float64(n)
	r.Softmax /= float64(n)
	ft := tensor.New(tensor.Of(c.Dtype()), tensor.WithShape(n, dim))
	switch d := ft.Data().(type) {
	case []float32:
		for i, v := range r.Features {
			d[i] = float32(v)
		}
	case []float64:
		copy(d, r.Features)
	}
	var err error
	if r.Intra, r.Inter, err = c.Stats(ft, r.Labels); err != nil {
		return r, fmt.Errorf("evaluate: %w", err)
	}
	centers := c.Values()
	for i, l := range r.Labels {
		for j := 0; j < dim; j++ {
			d := r.Features[i*dim+j] - centers[l*dim+j]
			r.Center += d * d
		}
	}
	r.Center /= 2 * float64(n)
	return r, nil
}

// crossEntropy is -log softmax(row)[label], through log-sum-exp.
func crossEntropy(row []float64, label int) float64 {
	m := slices.Max(row)
	var s float64
	for _, v := range row {
		s += math.Exp(v - m)
	}
	return m + math.Log(s) - row[label]
}
