package experiment

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/graph"
	"github.com/centerloss-go/centerloss/internal/atomicfile"
	"github.com/centerloss-go/centerloss/mnist"
	"github.com/centerloss-go/centerloss/plots"
	"github.com/centerloss-go/centerloss/train"
	"github.com/centerloss-go/centerloss/verify"
)

// Options configures a whole training run.
type Options struct {
	train.Hyper
	Epochs     int    // train until this many epochs are complete
	DataDir    string // MNIST IDX files; "" finds the ones shipped with GoMNIST
	Out        string // folder for everything the run writes
	TrainLimit int    // use only the first N training images (0: all)
	TestLimit  int    // use only the first N test images (0: all)
	Resume     string // checkpoint to continue from; its hyperparameters replace Hyper
	// Overwrite replaces the outputs of another run found in Out, once
	// the new run has completed its first epoch or saved its checkpoint on
	// an interruption (a run that fails before leaves them as they were).
	// Without it (and without Resume) Run refuses such a folder with a
	// *RunExistsError, so that no run is lost to a repeated command.
	Overwrite bool
	// Ready, when set, is called once the run has its trainer and data and
	// has logged what computes it, before the first step; what it writes to
	// log follows those lines.
	Ready    func(log io.Writer, t *train.Trainer)
	Log      io.Writer // epoch summaries; nil discards
	Progress io.Writer // a train.Progress line every 100 steps; nil shows none
}

// Defaults returns the hyperparameters and the number of epochs of the
// default run on a data set: DefaultHyper and 5 epochs on MNIST; on
// Fashion-MNIST the schedule chosen for it by measurement (README,
// "Fashion-MNIST").
func Defaults(dataset string) (train.Hyper, int) {
	h := train.DefaultHyper()
	if dataset != mnist.Fashion {
		return h, 5
	}
	h.Dataset = mnist.Fashion
	h.LRSteps = []int{7, 9}
	return h, 10
}

// Files a run writes into Options.Out.
const (
	MetricsFile    = "metrics.csv"            // one row per epoch
	CheckpointFile = "checkpoint.safetensors" // the state after the last epoch (or interruption)
	SummaryFile    = "summary.json"           // configuration, final metrics, speed, BLAS and kernels
	AnimationFile  = "features_test.gif"      // the test features epoch by epoch
	FeaturesCSV    = "features_test.csv"      // final test features with labels
	FeaturesNPY    = "features_test.npy"      // the same, (N, D) float32
	LabelsNPY      = "labels_test.npy"        // (N,) int64
	PlotsDir       = "plots"                  // test_epoch_NNN.png and train_epoch_NNN.png
	CurvesFile     = "curves.png"             // losses, accuracies, intra and inter against the epoch
)

// progressEvery is how many steps apart Run reports progress: ten lines
// or so in an epoch of MNIST.
const progressEvery = 100

// trainPlotImages is how many training images the per-epoch training plot shows.
const trainPlotImages = 5000

var metricsHeader = []string{"epoch", "lr", "train_loss", "softmax_loss", "center_loss", "train_acc",
	"test_acc", "test_softmax_loss", "test_center_loss", "intra", "inter", "seconds", "images_per_second"}

func record(m train.Metrics) []string {
	// Shortest exact form, so that a resumed run reads back the same numbers.
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return []string{strconv.Itoa(m.Epoch), f(m.LR), f(m.TrainLoss), f(m.SoftmaxLoss), f(m.CenterLoss), f(m.TrainAcc),
		f(m.TestAcc), f(m.TestSoftmax), f(m.TestCenter), f(m.Intra), f(m.Inter), f(m.Seconds), f(m.ImagesPerSecond)}
}

// Summary is what summary.json holds.
type Summary struct {
	Hyper           train.Hyper     `json:"hyperparameters"`
	Epochs          int             `json:"epochs"`
	TrainImages     int             `json:"train_images"`
	TestImages      int             `json:"test_images"`
	Final           train.Metrics   `json:"final"`
	History         []train.Metrics `json:"history"`
	WallSeconds     float64         `json:"wall_seconds"`
	ImagesPerSecond float64         `json:"images_per_second"`
	BLAS            string          `json:"blas"`
	Kernels         string          `json:"kernels"` // what ran the convolutions, PReLUs and poolings
	Classes         []string        `json:"classes"` // the names of the data set's classes, by label
	Checkpoint      string          `json:"checkpoint"`
	// Scores measures the final test features without the
	// classifier.
	verify.Scores
}

// Validate reports the first option out of range as a *UsageError naming
// its field.
func (o Options) Validate() error {
	if o.Epochs < 1 {
		return &UsageError{Option: "Epochs", Value: strconv.Itoa(o.Epochs), Err: errors.New("must be at least 1")}
	}
	if o.TrainLimit < 0 {
		return &UsageError{Option: "TrainLimit", Value: strconv.Itoa(o.TrainLimit), Err: errors.New("must be at least 0")}
	}
	if o.TestLimit < 0 {
		return &UsageError{Option: "TestLimit", Value: strconv.Itoa(o.TestLimit), Err: errors.New("must be at least 0")}
	}
	if o.Out == "" {
		return &UsageError{Option: "Out", Err: errors.New("an output folder is needed")}
	}
	if o.Resume != "" {
		return nil // the checkpoint brings its hyperparameters
	}
	if err := mnist.CheckSet(o.Dataset); err != nil {
		return &UsageError{Option: "Dataset", Err: err}
	}
	if err := o.Hyper.Validate(); err != nil {
		var he *train.HyperError
		if errors.As(err, &he) {
			return &UsageError{Option: he.Param.Field, Err: err}
		}
		return err
	}
	return nil
}

// RunExistsError is Run's refusal of an output folder that holds another
// run's outputs, when the options say neither to resume nor to overwrite.
type RunExistsError struct {
	Dir        string
	Files      []string // the run's files found there
	Checkpoint string   // its checkpoint, "" when it has none
}

func (e *RunExistsError) Error() string {
	return fmt.Sprintf("output folder %s already holds a run (%s)", e.Dir, strings.Join(e.Files, ", "))
}

// runFiles are the files whose presence marks a folder as a run's.
var runFiles = []string{CheckpointFile, MetricsFile, SummaryFile}

// claimOut checks that dir holds no other run's outputs, unless they are
// to be overwritten.
func claimOut(dir string, overwrite bool) error {
	var found []string
	for _, f := range runFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			found = append(found, f)
		}
	}
	if len(found) == 0 || overwrite {
		return nil
	}
	e := &RunExistsError{Dir: dir, Files: found}
	if slices.Contains(found, CheckpointFile) {
		e.Checkpoint = filepath.Join(dir, CheckpointFile)
	}
	return e
}

// clearOut deletes the outputs of an earlier run in dir: the files Run
// writes and nothing else.
func clearOut(dir string) error {
	old := []string{MetricsFile, CheckpointFile, SummaryFile, AnimationFile, FeaturesCSV, FeaturesNPY, LabelsNPY, CurvesFile}
	plotFiles, _ := filepath.Glob(filepath.Join(dir, PlotsDir, "*_epoch_*.png"))
	for _, f := range old {
		plotFiles = append(plotFiles, filepath.Join(dir, f))
	}
	for _, f := range plotFiles {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("replacing the run in %s: %w", dir, err)
		}
	}
	return nil
}

// prepareOut creates the output folder and proves it writable, so that a
// bad output folder fails now rather than after the first epoch.
func prepareOut(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, PlotsDir), 0o755); err != nil {
		return fmt.Errorf("output folder %s: %w", dir, err)
	}
	// Temporary files of a run killed while writing are never complete.
	for _, sub := range []string{dir, filepath.Join(dir, PlotsDir)} {
		stale, _ := filepath.Glob(filepath.Join(sub, ".*.tmp*"))
		for _, f := range stale {
			os.Remove(f)
		}
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("output folder %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// compute gives a checkpoint's hyperparameters o's precision, backend and
// oneDNN library, which a checkpoint does not hold.
func (o Options) compute(h *train.Hyper) {
	h.Precision, h.Backend, h.OneDNN = o.Precision, o.Backend, o.OneDNN
}

// Run trains LeNet++ as o says, evaluating on the test set after every
// epoch and writing into o.Out the files named by the constants above. When
// ctx is cancelled it finishes the step under way, saves a checkpoint and
// returns an error wrapping ErrInterrupted.
func Run(ctx context.Context, o Options) (*Summary, error) {
	start := time.Now()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	if o.Resume == "" {
		if err := claimOut(o.Out, o.Overwrite); err != nil {
			return nil, err
		}
	}
	if err := prepareOut(o.Out); err != nil {
		return nil, err
	}
	var t *train.Trainer
	var err error
	if o.Precision == "" {
		o.Precision = graph.F32
	}
	if o.Resume != "" {
		// The checkpoint brings every hyperparameter but what computes them.
		if t, err = train.LoadCheckpoint(o.Resume, o.compute); err != nil {
			return nil, err
		}
		o.Hyper = t.Hyper
		fmt.Fprintf(logw, "resuming from %s at epoch %d, step %d\n", o.Resume, t.Epoch, t.Step)
	} else if t, err = train.NewTrainer(o.Hyper, tensor.Float32); err != nil {
		return nil, err
	}
	defer t.Close()
	trainSet, err := loadSet(o.DataDir, t.Dataset, "train", o.TrainLimit)
	if err != nil {
		return nil, err
	}
	testSet, err := loadSet(o.DataDir, t.Dataset, "test", o.TestLimit)
	if err != nil {
		return nil, err
	}
	// First what computes the run: the layers (and in which precision),
	// then the BLAS for the rest.
	fmt.Fprintf(logw, "Layers: %s\n", t.Net.Kernels())
	fmt.Fprintf(logw, "BLAS: %s\n", t.Net.BLAS())
	if t.Epoch >= o.Epochs {
		return nil, &UsageError{Option: "Epochs", Value: strconv.Itoa(o.Epochs), Err: fmt.Errorf("the checkpoint has already completed %d epochs", t.Epoch)}
	}
	if o.Ready != nil {
		o.Ready(logw, t)
	}
	shift := ""
	if t.Shift > 0 {
		shift = fmt.Sprintf(", shifts up to %d px", t.Shift)
	}
	if t.Flip {
		shift += ", mirrored at random"
	}
	fmt.Fprintf(logw, "training LeNet++ (D=%d) on %d images, testing on %d; lambda %g, alpha %g, batch %d, lr %g%s\n",
		t.Dim, trainSet.N, testSet.N, t.Lambda, t.Alpha, t.Batch, t.LRAt(t.Epoch+1), shift)

	history, err := readMetrics(filepath.Join(o.Out, MetricsFile), t.Epoch)
	if err != nil {
		return nil, err
	}
	classes, err := mnist.Classes(t.Dataset)
	if err != nil {
		return nil, err
	}
	checkpoint := filepath.Join(o.Out, CheckpointFile)
	var hooks train.Hooks
	if o.Progress != nil {
		hooks.Progress = train.Progress(o.Progress, t.Batch, progressEvery)
	}
	// The run's outputs, after every epoch: metrics.csv, the curves, the
	// checkpoint, the feature plots, the log line; after the last, the
	// final exports.
	var outs []Output
	replace := func() error { return nil }
	if o.Overwrite && o.Resume == "" {
		replace = sync.OnceValue(func() error { return clearOut(o.Out) })
		outs = append(outs, func(train.EpochReport) error { return replace() })
	}
	hist := &History{Metrics: history}
	outs = append(outs, hist.Record,
		MetricsCSV(filepath.Join(o.Out, MetricsFile), hist),
		Curves(filepath.Join(o.Out, CurvesFile), hist),
		Checkpointer(checkpoint, t),
		FeaturePlots(o.Out, t, testSet, trainSet.Head(trainPlotImages), classes),
		LogLine(logw, o.Epochs),
		Exports(o.Out, testSet, o.Epochs))
	hooks.Epoch = Outputs(outs...)
	if err := t.Fit(ctx, trainSet, testSet, o.Epochs, hooks); err != nil {
		if errors.Is(err, train.ErrInterrupted) {
			// Its checkpoint replaces the old run's: the old run's other
			// files go first, so that the folder never holds two runs.
			if rerr := replace(); rerr != nil {
				return nil, errors.Join(err, rerr)
			}
			if serr := train.SaveCheckpoint(checkpoint, t); serr != nil {
				return nil, errors.Join(err, serr)
			}
			return nil, &InterruptedError{Checkpoint: checkpoint, Epoch: t.Epoch + 1, Step: t.Step}
		}
		return nil, err
	}
	s := &Summary{
		Hyper: o.Hyper, Epochs: o.Epochs, TrainImages: trainSet.N, TestImages: testSet.N,
		Final: hist.Metrics[len(hist.Metrics)-1], History: hist.Metrics, WallSeconds: time.Since(start).Seconds(),
		ImagesPerSecond: float64(hist.Images) / hist.TrainSeconds, BLAS: t.Net.BLAS(), Kernels: t.Net.Kernels(), Classes: classes, Checkpoint: checkpoint,
	}
	if s.Scores, err = verify.Score(hist.Test.Features, hist.Test.Predicted, testSet.Labels, t.Centers.Values(), t.Dim); err != nil {
		return nil, err
	}
	fmt.Fprint(logw, s.Scores)
	if err := WriteJSON(filepath.Join(o.Out, SummaryFile), s); err != nil {
		return nil, err
	}
	return s, nil
}

// InterruptedError says where an interrupted run saved its state.
type InterruptedError struct {
	Checkpoint  string
	Epoch, Step int
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("training interrupted in epoch %d after step %d; checkpoint saved to %s", e.Epoch, e.Step, e.Checkpoint)
}

// Unwrap makes errors.Is(err, ErrInterrupted) true.
func (e *InterruptedError) Unwrap() error { return train.ErrInterrupted }

// UsageError is an option out of range, or one that does not fit the data
// or the checkpoint; the trainer reports it as bad usage, naming its flag.
type UsageError struct {
	Option string // the Options (or Hyper) field at fault, e.g. "TrainLimit"
	Value  string // its value as given, when the message shows it
	Err    error  // what is wrong with it
}

func (e *UsageError) Error() string {
	if e.Value != "" {
		return e.Option + " " + e.Value + ": " + e.Err.Error()
	}
	return e.Option + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *UsageError) Unwrap() error { return e.Err }

// limitUsage makes a *mnist.LimitError from mnist.Load a *UsageError naming the
// option.
func limitUsage(option string, err error) error {
	var le *mnist.LimitError
	if errors.As(err, &le) {
		return &UsageError{Option: option, Err: err}
	}
	return err
}

// loadSet reads the "train" or "test" set of the named data set from dir,
// or from where the data set is found when dir is "".
func loadSet(dir, dataset, set string, limit int) (*mnist.Dataset, error) {
	if dir == "" {
		var err error
		if dir, err = mnist.DirOf(dataset); err != nil {
			return nil, err
		}
	}
	ds, err := mnist.Load(dir, set, limit)
	option := "TrainLimit"
	if set == "test" {
		option = "TestLimit"
	}
	return ds, limitUsage(option, err)
}

// Evaluate loads a checkpoint, evaluates it on the test set, scores its
// test features as a run's summary does and writes the test-feature plot
// into o.Out. Only DataDir, TestLimit, Out, Precision, Backend and OneDNN
// of o are used.
func Evaluate(o Options, checkpoint string) (train.EvalResult, verify.Scores, error) {
	var r train.EvalResult
	var fs verify.Scores
	if o.Out == "" {
		return r, fs, &UsageError{Option: "Out", Err: errors.New("an output folder is needed")}
	}
	if err := prepareOut(o.Out); err != nil {
		return r, fs, err
	}
	t, err := train.LoadCheckpoint(checkpoint, o.compute)
	if err != nil {
		return r, fs, err
	}
	defer t.Close()
	testSet, err := loadSet(o.DataDir, t.Dataset, "test", o.TestLimit)
	if err != nil {
		return r, fs, err
	}
	if r, err = t.Evaluate(testSet); err != nil {
		return r, fs, err
	}
	centers := t.Centers.Values()
	if fs, err = verify.Score(r.Features, r.Predicted, testSet.Labels, centers, t.Dim); err != nil {
		return r, fs, err
	}
	title := fmt.Sprintf("%s · epoch %d · λ=%g · α=%g · test acc %.2f%%", filepath.Base(checkpoint), t.Epoch, t.Lambda, t.Alpha, 100*r.Acc)
	classes, err := mnist.Classes(t.Dataset)
	if err != nil {
		return r, fs, err
	}
	png, _, err := plots.Features(r.Features, testSet.Labels, centers, t.Dim, plots.Options{Title: title, Classes: classes})
	if err != nil {
		return r, fs, err
	}
	path := filepath.Join(o.Out, "eval_features_test.png")
	if err := writeFile(path, png); err != nil {
		return r, fs, err
	}
	return r, fs, nil
}

// writeFile replaces path atomically with data, naming path on error.
func writeFile(path string, data []byte) error {
	err := atomicfile.Write(path, func(w *bufio.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// readMetrics returns the rows of an earlier run's metrics.csv up to epoch
// upTo, so that a resumed run continues the file; none when it is absent or
// upTo is 0.
func readMetrics(path string, upTo int) ([]train.Metrics, error) {
	if upTo == 0 {
		return nil, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []train.Metrics
	for i, row := range rows {
		if i == 0 {
			continue
		}
		m, err := parseMetrics(row)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		if m.Epoch <= upTo {
			out = append(out, m)
		}
	}
	return out, nil
}

func parseMetrics(row []string) (train.Metrics, error) {
	var m train.Metrics
	if len(row) != len(metricsHeader) {
		return m, fmt.Errorf("%d columns, want %d", len(row), len(metricsHeader))
	}
	var err error
	if m.Epoch, err = strconv.Atoi(row[0]); err != nil {
		return m, err
	}
	dst := []*float64{&m.LR, &m.TrainLoss, &m.SoftmaxLoss, &m.CenterLoss, &m.TrainAcc, &m.TestAcc,
		&m.TestSoftmax, &m.TestCenter, &m.Intra, &m.Inter, &m.Seconds, &m.ImagesPerSecond}
	for i, d := range dst {
		if *d, err = strconv.ParseFloat(row[i+1], 64); err != nil {
			return m, err
		}
	}
	return m, nil
}

// writeMetrics rewrites metrics.csv atomically with every epoch so far.
func writeMetrics(path string, history []train.Metrics) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(metricsHeader)
	for _, m := range history {
		_ = w.Write(record(m))
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeFile(path, buf.Bytes())
}
