// Command study trains the configurations of the results study of
// docs/RESULTS.md and writes their tables and the figure grid:
//
//   - the paper's Fig. 2 and 3: D = 2, softmax only (lambda 0) and lambda in
//     {0.001, 0.01, 0.1, 1} at alpha 0.5, each with two seeds;
//   - an alpha sweep {0.01, 0.1, 0.5, 1} at lambda 0.1;
//   - feature dimension D in {2, 8, 32, 128}, softmax only vs lambda 0.1.
//
// Every run goes to its own folder under -out; a run whose summary.json
// exists is skipped, so the study can be stopped and started again.
//
//	go run ./cmd/study                 # everything, then -out/results.md and -out/figure_lambda.png
//	go run ./cmd/study -only lambda    # one experiment
//	go run ./cmd/study -report         # only the report, from the runs finished so far
//
// With -dataset fashion it studies Fashion-MNIST instead, on the whole
// training set, into runs/study-fashion: lambda in {0, 0.01, 0.1, 1} with
// two seeds and the D experiment, three epochs each at lr 0.02, the last at
// a tenth of it.
//
// On a machine with several cores, one process per core, each pinned to its
// core and given its share of the runs, keeps every core busy through the
// mostly serial evaluation and plotting between epochs:
//
//	taskset -c 0 go run ./cmd/study -shard 1/2 &
//	taskset -c 1 go run ./cmd/study -shard 2/2
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/centerloss-go/centerloss/experiment"
	"github.com/centerloss-go/centerloss/graph"
	"github.com/centerloss-go/centerloss/internal/install"
	"github.com/centerloss-go/centerloss/mnist"
	"github.com/centerloss-go/centerloss/plots"
	"github.com/centerloss-go/centerloss/train"
)

// run is one configuration of the study.
type run struct {
	experiment string
	lambda     float64
	alpha      float64
	dim        int
	seed       uint64
}

func (r run) name() string {
	return fmt.Sprintf("lambda%g_alpha%g_dim%d_seed%d", r.lambda, r.alpha, r.dim, r.seed)
}

// lambdas are the values of the lambda experiment, by data set.
func lambdas(dataset string) []float64 {
	if dataset == mnist.Fashion {
		return []float64{0, 0.01, 0.1, 1}
	}
	return []float64{0, 0.001, 0.01, 0.1, 1}
}

// plan lists every run of the study of a data set; runs shared by two
// experiments appear once. Fashion-MNIST's has no alpha experiment.
func plan(dataset string) []run {
	var rs []run
	for _, l := range lambdas(dataset) {
		for _, s := range []uint64{1, 2} {
			rs = append(rs, run{"lambda", l, 0.5, 2, s})
		}
	}
	if dataset != mnist.Fashion {
		for _, a := range []float64{0.01, 0.1, 1} {
			rs = append(rs, run{"alpha", 0.1, a, 2, 1})
		}
	}
	for _, d := range []int{8, 32, 128} {
		for _, l := range []float64{0, 0.1} {
			rs = append(rs, run{"dim", l, 0.5, d, 1})
		}
	}
	return rs
}

// study is what differs between the studies of the two data sets.
type study struct {
	out        string
	epochs     int
	trainLimit int
	lr         float64
}

var studies = map[string]study{
	// 20000 images, 0.01: the schedule of docs/RESULTS.md.
	mnist.Digits: {"runs/study", 4, 20000, 0.01},
	// The whole training set at the Fashion-MNIST default's rate, in three
	// epochs instead of its ten (docs/RESULTS.md checks that the ranking holds).
	mnist.Fashion: {"runs/study-fashion", 3, 0, 0.02},
}

func main() { os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr)) }

func mainErr(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("study", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataset := fs.String("dataset", mnist.Digits, "the images: mnist, or fashion (Fashion-MNIST, Debian package dataset-fashion-mnist)")
	dataDir := fs.String("data", "", "folder with the data set's IDX files (default: where -dataset is found)")
	out := fs.String("out", "", "folder of the runs and the report (default runs/study, runs/study-fashion)")
	epochs := fs.Int("epochs", 0, "epochs per run (default 4 on MNIST, 3 on Fashion-MNIST)")
	trainLimit := fs.Int("train-limit", -1, "training images per run (0: all 60000; default 20000 on MNIST, all on Fashion-MNIST)")
	testLimit := fs.Int("test-limit", 0, "test images (0: all 10000)")
	only := fs.String("only", "", "run only the experiment lambda, alpha or dim")
	reportOnly := fs.Bool("report", false, "train nothing: write the report from the runs finished so far")
	shardFlag := fs.String("shard", "1/1", "k/n: train only runs k, k+n, k+2n, ... of the plan, so that n processes can share it")
	precisionFlag := fs.String("precision", string(graph.F32), "arithmetic of the convolutions: f32, or bf16 on CPUs with bfloat16 units")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *dataset == "" {
		*dataset = mnist.Digits
	}
	if err := mnist.CheckSet(*dataset); err != nil {
		fmt.Fprintf(stderr, "study: -dataset: %v\n", err)
		return 2
	}
	s := studies[*dataset]
	if *out == "" {
		*out = s.out
	}
	if *epochs == 0 {
		*epochs = s.epochs
	}
	if *trainLimit < 0 {
		*trainLimit = s.trainLimit
	}
	if *epochs < 1 {
		fmt.Fprintf(stderr, "study: -epochs %d: must be at least 1\n", *epochs)
		return 2
	}
	precision, err := graph.ParsePrecision(*precisionFlag)
	cfg := graph.DefaultConfig()
	cfg.Precision, cfg.OneDNN = precision, os.Getenv(install.OneDNNVar)
	if err == nil {
		err = cfg.Available()
	}
	if err != nil {
		fmt.Fprintf(stderr, "study: -precision %s: %v\n", *precisionFlag, err)
		return 2
	}
	// The backend comes from the environment only, as the trainer's
	// default does.
	backend, src, err := install.Backend(string(graph.Auto), false, os.Getenv(install.BLASVar))
	if cfg.Backend = backend; err == nil {
		err = cfg.Available()
	}
	if err != nil {
		fmt.Fprintf(stderr, "study: %s: %v\n", src, err)
		return 2
	}
	if *only != "" && *only != "lambda" && *only != "alpha" && *only != "dim" {
		fmt.Fprintf(stderr, "study: -only %q: want lambda, alpha or dim\n", *only)
		return 2
	}
	k, n, err := parseShard(*shardFlag)
	if err != nil {
		fmt.Fprintf(stderr, "study: -shard %q: %v\n", *shardFlag, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for i, r := range plan(*dataset) {
		if *reportOnly {
			break
		}
		if i%n != k-1 {
			continue
		}
		if *only != "" && r.experiment != *only && !(*only == "alpha" && r.lambda == 0.1 && r.dim == 2 && r.seed == 1) {
			continue
		}
		dir := filepath.Join(*out, r.name())
		if _, err := os.Stat(filepath.Join(dir, experiment.SummaryFile)); err == nil {
			fmt.Fprintf(stdout, "%s: done, skipped\n", r.name())
			continue
		}
		// A run without its summary was stopped part-way: it starts again.
		o := experiment.Options{Hyper: train.DefaultHyper(), Epochs: *epochs, Out: dir, DataDir: *dataDir,
			TrainLimit: *trainLimit, TestLimit: *testLimit, Log: stdout, Overwrite: true}
		o.Lambda, o.Alpha, o.Dim, o.Seed, o.Precision, o.Dataset = r.lambda, r.alpha, r.dim, r.seed, precision, *dataset
		o.Backend, o.OneDNN = cfg.Backend, cfg.OneDNN
		// The study's schedule, fixed so that its results stay reproducible
		// when the trainer's defaults change; the last epoch at a tenth of
		// the rate.
		o.LR, o.LRSteps = s.lr, []int{*epochs}
		fmt.Fprintf(stdout, "== %s\n", r.name())
		if _, err := experiment.Run(ctx, o); err != nil {
			fmt.Fprintf(stderr, "study: %s: %v\n", r.name(), err)
			if errors.Is(err, train.ErrInterrupted) {
				return 130
			}
			if !errors.Is(err, train.ErrDiverged) {
				return 1
			}
		}
	}
	if err := report(*out, *dataset, stdout); err != nil {
		fmt.Fprintf(stderr, "study: %v\n", err)
		return 1
	}
	return 0
}

// parseShard parses "k/n" with 1 <= k <= n.
func parseShard(s string) (k, n int, err error) {
	if _, err := fmt.Sscanf(s, "%d/%d", &k, &n); err != nil || fmt.Sprintf("%d/%d", k, n) != s {
		return 0, 0, errors.New("want k/n, e.g. 1/2")
	}
	if n < 1 || k < 1 || k > n {
		return 0, 0, errors.New("want 1 <= k <= n")
	}
	return k, n, nil
}

// report writes results.md (one table per experiment) and the lambda figure
// from the summaries found under dir.
func report(dir, dataset string, stdout io.Writer) error {
	sums := map[string]*experiment.Summary{}
	for _, r := range plan(dataset) {
		b, err := os.ReadFile(filepath.Join(dir, r.name(), experiment.SummaryFile))
		if err != nil {
			continue
		}
		var s experiment.Summary
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, r.name(), experiment.SummaryFile), err)
		}
		sums[r.name()] = &s
	}
	var md strings.Builder
	header := "| %s | runs | test acc | nearest-center acc | intra | inter | intra/inter | verification acc | AUC | verification acc (distance) | minutes |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
	row := func(label string, runs []*experiment.Summary) {
		if len(runs) == 0 {
			fmt.Fprintf(&md, "| %s | 0 | not run yet |  |  |  |  |  |  |  |  |\n", label)
			return
		}
		f := func(get func(*experiment.Summary) float64, prec int) string {
			var m, v float64
			for _, s := range runs {
				m += get(s) / float64(len(runs))
			}
			for _, s := range runs {
				v += (get(s) - m) * (get(s) - m) / float64(len(runs))
			}
			if len(runs) == 1 {
				return fmt.Sprintf("%.*f", prec, m)
			}
			return fmt.Sprintf("%.*f ± %.*f", prec, m, prec, math.Sqrt(v))
		}
		fmt.Fprintf(&md, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", label, len(runs),
			f(func(s *experiment.Summary) float64 { return s.Final.TestAcc }, 4),
			f(func(s *experiment.Summary) float64 { return s.NearestCenterAcc }, 4),
			f(func(s *experiment.Summary) float64 { return s.Final.Intra }, 3),
			f(func(s *experiment.Summary) float64 { return s.Final.Inter }, 3),
			f(func(s *experiment.Summary) float64 { return s.Final.Intra / s.Final.Inter }, 3),
			f(func(s *experiment.Summary) float64 { return s.Verification.Accuracy }, 4),
			f(func(s *experiment.Summary) float64 { return s.Verification.AUC }, 4),
			f(func(s *experiment.Summary) float64 { return s.VerificationEuclidean.Accuracy }, 4),
			f(func(s *experiment.Summary) float64 { return s.WallSeconds / 60 }, 1))
	}
	pick := func(keep func(run) bool) []*experiment.Summary {
		var out []*experiment.Summary
		for _, r := range plan(dataset) {
			if s := sums[r.name()]; s != nil && keep(r) {
				out = append(out, s)
			}
		}
		return out
	}
	md.WriteString("### Lambda (D = 2, alpha 0.5, seeds 1 and 2: mean ± spread)\n\n")
	fmt.Fprintf(&md, header, "lambda")
	var pngs [][]byte
	for _, l := range lambdas(dataset) {
		row(fmt.Sprint(l), pick(func(r run) bool { return r.experiment == "lambda" && r.lambda == l }))
		if s := sums[run{"lambda", l, 0.5, 2, 1}.name()]; s != nil {
			b, err := os.ReadFile(filepath.Join(dir, run{"lambda", l, 0.5, 2, 1}.name(), experiment.PlotsDir, fmt.Sprintf("test_epoch_%03d.png", s.Epochs)))
			if err == nil {
				pngs = append(pngs, b)
			}
		}
	}
	if dataset != mnist.Fashion {
		md.WriteString("\n### Alpha (D = 2, lambda 0.1, seed 1)\n\n")
		fmt.Fprintf(&md, header, "alpha")
		for _, a := range []float64{0.01, 0.1, 0.5, 1} {
			row(fmt.Sprint(a), pick(func(r run) bool { return r.lambda == 0.1 && r.dim == 2 && r.seed == 1 && r.alpha == a }))
		}
	}
	md.WriteString("\n### Feature dimension (alpha 0.5, seed 1)\n\n")
	fmt.Fprintf(&md, header, "D, lambda")
	for _, d := range []int{2, 8, 32, 128} {
		for _, l := range []float64{0, 0.1} {
			row(fmt.Sprintf("%d, %g", d, l), pick(func(r run) bool { return r.dim == d && r.lambda == l && r.alpha == 0.5 && r.seed == 1 }))
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	if len(pngs) > 0 {
		grid, err := plots.Grid(pngs, len(pngs))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "figure_lambda.png"), grid, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(dir, "results.md"))
	return nil
}
