// Command train trains LeNet++ on MNIST (or Fashion-MNIST) with softmax +
// center loss (Wen et al., ECCV 2016) and writes metrics, feature plots, an animation, a
// checkpoint and the final features into the -out folder.
//
//	go run ./cmd/train                                   # the defaults: full MNIST, D = 2
//	go run ./cmd/train -lambda 0 -out runs/softmax       # softmax only
//	go run ./cmd/train -dataset fashion -out runs/fashion # Fashion-MNIST
//	go run ./cmd/train -resume runs/default/checkpoint.safetensors -epochs 12
//	go run ./cmd/train -eval runs/default/checkpoint.safetensors -out runs/eval
//	go run ./cmd/train -help                             # every flag with its default
//
// Ctrl-C finishes the step under way, saves a checkpoint, prints how to
// resume and exits with status 130.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/centerloss-go/centerloss/experiment"
	"github.com/centerloss-go/centerloss/graph"
	"github.com/centerloss-go/centerloss/internal/install"
	"github.com/centerloss-go/centerloss/mnist"
	"github.com/centerloss-go/centerloss/train"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, trains and returns the exit status: 0 done, 1 failed,
// 2 bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	h, epochs := experiment.Defaults(mnist.Digits)
	fashion, fashionEpochs := experiment.Defaults(mnist.Fashion)
	o := experiment.Options{Hyper: h}
	fs.IntVar(&o.Epochs, "epochs", epochs, fmt.Sprintf("number of epochs (Fashion-MNIST: %d)", fashionEpochs))
	for _, p := range train.Params() {
		usage := p.Usage
		if v := p.Format(&fashion); v != p.Format(&h) && p.Field != "Dataset" {
			usage += fmt.Sprintf(" (Fashion-MNIST: %q)", v)
		}
		switch v := p.Value(&o.Hyper).(type) {
		case *int:
			fs.IntVar(v, p.Name, *v, usage)
		case *uint64:
			fs.Uint64Var(v, p.Name, *v, usage)
		case *float64:
			fs.Float64Var(v, p.Name, *v, usage)
		case *bool:
			fs.BoolVar(v, p.Name, *v, usage)
		case *string:
			fs.StringVar(v, p.Name, *v, usage)
		default:
			fs.Var(hyperValue{p, &o.Hyper}, p.Name, usage)
		}
	}
	fs.StringVar(&o.DataDir, "data", "", "folder with the data set's IDX files (default: the GoMNIST module's copy of MNIST, Debian's of Fashion-MNIST)")
	fs.StringVar(&o.Out, "out", "runs/default", "folder for everything the run writes")
	fs.IntVar(&o.TrainLimit, "train-limit", 0, "use only the first N training images (0: all 60000)")
	fs.IntVar(&o.TestLimit, "test-limit", 0, "use only the first N test images (0: all 10000)")
	fs.StringVar(&o.Resume, "resume", "", "continue training from this checkpoint (its hyperparameters are used)")
	fs.BoolVar(&o.Overwrite, "overwrite", false, "replace the run that -out already holds (without it, such a folder is refused)")
	evalPath := fs.String("eval", "", "evaluate this checkpoint on the test set and plot its features, without training")
	precision := fs.String("precision", string(graph.F32), "arithmetic of the convolutions: f32, or bf16 on CPUs with bfloat16 units (AVX512_BF16 or AMX)")
	backend := fs.String("backend", string(graph.Auto), "what computes the convolutions: auto (the fastest available), onednn, onednn-sgemm, openblas or gonum (default from $"+install.BLASVar+"; $"+install.OneDNNVar+" names the oneDNN library)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: train [flags]\n\nTrains LeNet++ on MNIST or Fashion-MNIST with softmax + center loss.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "train: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if o.Dataset == mnist.Fashion {
		// Fashion-MNIST's defaults, where the flags do not set them.
		if !given["epochs"] {
			o.Epochs = fashionEpochs
		}
		for _, p := range train.Params() {
			if !given[p.Name] {
				if err := p.Parse(&o.Hyper, p.Format(&fashion)); err != nil {
					panic(err) // a value Format wrote
				}
			}
		}
	}
	var err error
	if o.Precision, err = graph.ParsePrecision(*precision); err != nil {
		fmt.Fprintf(stderr, "train: -precision: %v\n", err)
		return 2
	}
	if code := chooseBackend(&o, *backend, given["backend"], stderr); code != 0 {
		return code
	}
	if o.Resume != "" || *evalPath != "" {
		// A checkpoint brings its own hyperparameters; silently ignoring
		// one given on the command line would mislead.
		var clash []string
		for _, p := range train.Params() {
			if given[p.Name] {
				clash = append(clash, "-"+p.Name)
			}
		}
		if len(clash) > 0 {
			fmt.Fprintf(stderr, "train: %s cannot be combined with -resume or -eval: the checkpoint's hyperparameters are used\n", strings.Join(clash, ", "))
			return 2
		}
	}
	if *evalPath != "" {
		if o.Resume != "" {
			fmt.Fprintln(stderr, "train: -eval and -resume cannot be combined")
			return 2
		}
		r, scores, err := experiment.Evaluate(o, *evalPath)
		if err != nil {
			fmt.Fprintf(stderr, "train: %s\n", message(err))
			return failStatus(err)
		}
		fmt.Fprintf(stdout, "%s: test acc %.4f  softmax loss %.4f  center loss %.4f  intra %.3f  inter %.3f\n%s",
			*evalPath, r.Acc, r.Softmax, r.Center, r.Intra, r.Inter, scores)
		return 0
	}
	if err := o.Validate(); err != nil {
		fmt.Fprintf(stderr, "train: %s\n", message(err))
		return 2
	}
	o.Log = stdout
	o.Ready = func(log io.Writer, t *train.Trainer) {
		onOneDNN := strings.HasPrefix(t.Net.Kernels(), "oneDNN ")
		if !onOneDNN && (t.Backend == graph.Auto || t.Backend == "") {
			fmt.Fprintln(log, installAdvice())
		}
		if t.Precision == graph.F32 && onOneDNN {
			if hint := bf16Hint(t.Batch); hint != "" {
				fmt.Fprintln(log, hint)
			}
		}
	}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		o.Progress = stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := experiment.Run(ctx, o); err != nil {
		fmt.Fprintf(stderr, "train: %s\n", message(err))
		var ie *experiment.InterruptedError
		if errors.As(err, &ie) {
			// The resumed run needs the same data, or its position in the
			// epoch would not fit, and keeps the precision it was given.
			resume := []string{"-resume", ie.Checkpoint, "-epochs", strconv.Itoa(o.Epochs), "-out", o.Out}
			fs.Visit(func(f *flag.Flag) {
				if f.Name == "data" || f.Name == "train-limit" || f.Name == "test-limit" || f.Name == "precision" || f.Name == "backend" {
					resume = append(resume, "-"+f.Name, f.Value.String())
				}
			})
			for i, a := range resume {
				resume[i] = shellQuote(a)
			}
			fmt.Fprintf(stderr, "resume with: go run ./cmd/train %s\n", strings.Join(resume, " "))
			return 130
		}
		return failStatus(err)
	}
	return 0
}

// chooseBackend reads the backend (-backend when given, else
// $CENTERLOSS_BLAS) and the oneDNN library ($CENTERLOSS_ONEDNN) into o and
// checks that they and the precision can run here; else it says why and what to install, and
// returns status 2. A backend asked for never falls back to another.
func chooseBackend(o *experiment.Options, flagValue string, given bool, stderr io.Writer) int {
	b, src, err := install.Backend(flagValue, given, os.Getenv(install.BLASVar))
	if err != nil {
		fmt.Fprintf(stderr, "train: %v\n", err)
		return 2
	}
	o.Backend, o.OneDNN = b, os.Getenv(install.OneDNNVar)
	if o.OneDNN != "" {
		src += fmt.Sprintf(" with %s=%s", install.OneDNNVar, o.OneDNN)
	}
	cfg := graph.DefaultConfig()
	cfg.Precision, cfg.OneDNN = o.Precision, o.OneDNN
	if err := cfg.Available(); err != nil {
		// Never fall back to float32 silently.
		fmt.Fprintf(stderr, "train: -precision %s: %v\n%s\n", o.Precision, err, installAdvice())
		return 2
	}
	cfg.Backend = b
	if err := cfg.Available(); err != nil {
		fmt.Fprintf(stderr, "train: %s: %v\n%s\n", src, err, installAdvice())
		return 2
	}
	return 0
}

// installAdvice says what to install for the fast path on this system.
func installAdvice() string {
	osRelease, _ := os.ReadFile("/etc/os-release") // absent on macOS and others: Advice needs none there
	return install.Advice(string(osRelease), runtime.GOOS, runtime.GOARCH)
}

// bf16Hint times a training pass at the given batch size in float32 and in
// bfloat16 where the CPU has bfloat16 units (the fastest of two passes
// each, about a second in all), and when bfloat16 is measurably faster (by
// a fifth, beyond the noise of a shared machine) returns a line that says
// so and names the flag; else "".
func bf16Hint(batch int) string {
	if graph.BF16.Available() != nil {
		return ""
	}
	cfg := graph.DefaultConfig()
	cfg.Batch = batch
	f32, err1 := graph.TimePass(cfg, 2)
	cfg.Precision = graph.BF16
	bf16, err2 := graph.TimePass(cfg, 2)
	if err1 != nil || err2 != nil || bf16 > f32*4/5 {
		return ""
	}
	return fmt.Sprintf("bfloat16: a pass takes %d ms on this CPU in bfloat16 against %d ms in float32; -precision bf16 trains in it (float32 stays the default)",
		bf16.Milliseconds(), f32.Milliseconds())
}

// flagOf names the flag that sets each field of experiment.Options that is
// not a hyperparameter (train.Params name those).
var flagOf = map[string]string{
	"Epochs": "-epochs", "TrainLimit": "-train-limit", "TestLimit": "-test-limit", "Out": "-out", "DataDir": "-data",
}

// message renders err for the command line, speaking of flags where the
// library speaks of options.
func message(err error) string {
	msg := err.Error()
	var ue *experiment.UsageError
	if errors.As(err, &ue) {
		f, ok := flagOf[ue.Option]
		if p, isHyper := train.ParamOf(ue.Option); isHyper {
			f, ok = "-"+p.Name, true
		}
		if ok {
			flagged := *ue
			flagged.Option = f
			msg = strings.Replace(msg, ue.Error(), flagged.Error(), 1)
		}
	}
	var de *train.DivergedError
	if errors.As(err, &de) {
		msg = strings.Replace(msg, de.Error(), de.Suggesting("a smaller -lr or -lambda"), 1)
	}
	var re *experiment.RunExistsError
	if errors.As(err, &re) {
		msg += "; replace it with -overwrite"
		if re.Checkpoint != "" {
			msg += fmt.Sprintf(", or continue it with -resume %s -out %s -epochs N", shellQuote(re.Checkpoint), shellQuote(re.Dir))
		}
		msg += ", or choose another -out"
	}
	var da *mnist.DataError
	if errors.As(err, &da) {
		msg += " (pass -data DIR with the folder holding the IDX files)"
	}
	return msg
}

// failStatus is the exit status of a failed run: 2 when an option does not
// fit the data, else 1.
func failStatus(err error) int {
	var ue *experiment.UsageError
	var re *experiment.RunExistsError
	if errors.As(err, &ue) || errors.As(err, &re) {
		return 2
	}
	return 1
}

// shellQuote quotes s for a POSIX shell when it holds anything but plain
// path characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=.,/:@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// hyperValue is a hyperparameter given on the command line in the text
// form of train.Param.
type hyperValue struct {
	p train.Param
	h *train.Hyper
}

func (v hyperValue) String() string {
	if v.h == nil {
		return "" // the zero value flag.PrintDefaults compares with
	}
	return v.p.Format(v.h)
}

func (v hyperValue) Set(s string) error { return v.p.Parse(v.h, s) }
