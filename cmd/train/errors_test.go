package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"github.com/centerloss-go/centerloss/checkpoint"
	"github.com/centerloss-go/centerloss/experiment"
	"github.com/centerloss-go/centerloss/graph"
	"github.com/centerloss-go/centerloss/mnist"
	"github.com/centerloss-go/centerloss/train"
)

// mnistFiles are the four files of the MNIST folder.
var mnistFiles = []string{
	"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
	"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
}

// copyData copies the MNIST files shipped with GoMNIST into a new folder.
func copyData(t *testing.T) string {
	t.Helper()
	src, err := mnist.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range mnistFiles {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func gunzipFile(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipFile(t *testing.T, path string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// editIDX rewrites the gzipped IDX file name in dir through edit.
func editIDX(name string, edit func([]byte) []byte) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		path := filepath.Join(dir, name)
		gzipFile(t, path, edit(gunzipFile(t, path)))
	}
}

// noPanic fails if a command's error output holds a Go panic or stack trace.
func noPanic(t *testing.T, stderr string) {
	t.Helper()
	for _, s := range []string{"panic", "goroutine ", "runtime error", ".go:"} {
		if strings.Contains(stderr, s) {
			t.Errorf("error output holds %q:\n%s", s, stderr)
		}
	}
}

// runCmd runs the command in-process and returns its status and output.
func runCmd(args ...string) (int, string, string) {
	var out, errw bytes.Buffer
	code := run(args, &out, &errw)
	return code, out.String(), errw.String()
}

// shortArgs are the flags of a small, fast training run.
func shortArgs(out string) []string {
	return []string{"-epochs", "1", "-batch", "32", "-train-limit", "128", "-test-limit", "100", "-out", out}
}

// badDataCases corrupt one file of a copied MNIST folder; each error must
// name the file (or folder) and the problem.
var badDataCases = []struct {
	name    string
	corrupt func(t *testing.T, dir string) string // returns the -data folder
	want    []string
}{
	{"missing folder", func(t *testing.T, dir string) string {
		return filepath.Join(dir, "no-such-folder")
	}, []string{"no-such-folder", "does not exist"}},
	{"data is a file", func(t *testing.T, dir string) string {
		return filepath.Join(dir, "t10k-labels-idx1-ubyte.gz")
	}, []string{"t10k-labels-idx1-ubyte.gz", "not a folder"}},
	{"missing file", func(t *testing.T, dir string) string {
		if err := os.Remove(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz")); err != nil {
			t.Fatal(err)
		}
		return dir
	}, []string{"t10k-labels-idx1-ubyte", "missing"}},
	{"truncated gzip", func(t *testing.T, dir string) string {
		path := filepath.Join(dir, "t10k-images-idx3-ubyte.gz")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b[:len(b)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}, []string{"t10k-images-idx3-ubyte.gz", "truncated"}},
	{"empty file", func(t *testing.T, dir string) string {
		if err := os.WriteFile(filepath.Join(dir, "train-labels-idx1-ubyte.gz"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}, []string{"train-labels-idx1-ubyte.gz", "empty"}},
	{"not gzip", func(t *testing.T, dir string) string {
		if err := os.WriteFile(filepath.Join(dir, "train-images-idx3-ubyte.gz"), []byte("these are not the images you are looking for\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}, []string{"train-images-idx3-ubyte.gz", "not gzip"}},
	{"truncated IDX", func(t *testing.T, dir string) string {
		editIDX("t10k-labels-idx1-ubyte.gz", func(b []byte) []byte { return b[:1000] })(t, dir)
		return dir
	}, []string{"t10k-labels-idx1-ubyte.gz", "truncated"}},
	{"wrong magic", func(t *testing.T, dir string) string {
		editIDX("train-labels-idx1-ubyte.gz", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b, 0x00000803)
			return b
		})(t, dir)
		return dir
	}, []string{"train-labels-idx1-ubyte.gz", "magic"}},
	{"wrong dimensions", func(t *testing.T, dir string) string {
		editIDX("t10k-images-idx3-ubyte.gz", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[8:], 32)
			return b
		})(t, dir)
		return dir
	}, []string{"t10k-images-idx3-ubyte.gz", "dimensions", "32x28"}},
	{"count mismatch", func(t *testing.T, dir string) string {
		editIDX("t10k-labels-idx1-ubyte.gz", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[4:], 9999)
			return b[:len(b)-1]
		})(t, dir)
		return dir
	}, []string{"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "mismatch", "10000 images", "9999 labels"}},
	{"label above 9", func(t *testing.T, dir string) string {
		editIDX("t10k-labels-idx1-ubyte.gz", func(b []byte) []byte {
			b[8+57] = 10
			return b
		})(t, dir)
		return dir
	}, []string{"t10k-labels-idx1-ubyte.gz", "label 10", "index 57", "above 9"}},
}

// TestBadDataFails: every kind of bad MNIST folder or file stops the
// command with status 1 and a message naming the file and the problem,
// before any training.
func TestBadDataFails(t *testing.T) {
	for _, c := range badDataCases {
		t.Run(c.name, func(t *testing.T) {
			data := c.corrupt(t, copyData(t))
			code, stdout, stderr := runCmd(append([]string{"-data", data}, shortArgs(filepath.Join(t.TempDir(), "out"))...)...)
			if code != 1 {
				t.Errorf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("error %q should contain %q", stderr, w)
				}
			}
			noPanic(t, stderr)
			if strings.Contains(stdout, "epoch 1/") {
				t.Errorf("training ran: %s", stdout)
			}
		})
	}
}

// TestBadDataFailsEval: -eval reads the test set and reports its problems
// the same way.
func TestBadDataFailsEval(t *testing.T) {
	ckpt := goodCheckpoint(t, 2)
	for _, c := range badDataCases {
		if !strings.Contains(strings.Join(c.want, " "), "t10k") {
			continue // -eval reads only the test set
		}
		t.Run(c.name, func(t *testing.T) {
			data := c.corrupt(t, copyData(t))
			code, _, stderr := runCmd("-eval", ckpt, "-data", data, "-test-limit", "100", "-out", t.TempDir())
			if code != 1 {
				t.Errorf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("error %q should contain %q", stderr, w)
				}
			}
			noPanic(t, stderr)
		})
	}
}

// TestBadFlagsNameTheFlag: every out-of-range option is a usage error (status
// 2) naming its flag, found before anything is created.
func TestBadFlagsNameTheFlag(t *testing.T) {
	for _, args := range [][]string{
		{"-batch", "0"}, {"-batch", "-3"}, {"-batch", "1"},
		{"-lr", "0"}, {"-lr", "-1"}, {"-lr", "NaN"}, {"-lr", "Inf"},
		{"-alpha", "-0.1"}, {"-alpha", "1.5"}, {"-alpha", "NaN"},
		{"-lambda", "-1"}, {"-lambda", "NaN"}, {"-lambda", "Inf"},
		{"-dim", "0"}, {"-dim", "-2"},
		{"-epochs", "0"}, {"-epochs", "-1"},
		{"-momentum", "1"}, {"-lr-gamma", "0"}, {"-weight-decay", "-1"}, {"-lr-steps", "0"},
		{"-train-limit", "-1"}, {"-test-limit", "-1"},
		{"-batch", "x"}, {"-lr", "fast"}, {"-precision", "f16"}, {"-precision", "BF16"}, {"-precision", ""},
	} {
		out := filepath.Join(t.TempDir(), "out")
		start := time.Now()
		code, _, stderr := runCmd(append(args, "-out", out)...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if !strings.Contains(stderr, args[0]) {
			t.Errorf("%v: message %q should name %s", args, stderr, args[0])
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: the output folder was created", args)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%v: took %v to fail", args, d)
		}
	}
}

// TestBF16WithoutHardwareFails: where bfloat16 cannot run, -precision bf16
// stops at once with status 2 and says what is missing, instead of
// training in float32.
func TestBF16WithoutHardwareFails(t *testing.T) {
	missing := graph.BF16.Available()
	if missing == nil {
		t.Skip("this machine runs bf16; the refusal is tested where it cannot")
	}
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCmd("-precision", "bf16", "-epochs", "1", "-train-limit", "640", "-out", out)
	if code != 2 || !strings.Contains(stderr, "-precision bf16: "+missing.Error()) || stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2 and the reason %q", code, stdout, stderr, missing)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("the output folder was created")
	}
}

// TestLimitsOutsideTheData: a limit larger than the data set is a usage
// error naming the flag, for training and for -eval.
func TestLimitsOutsideTheData(t *testing.T) {
	ckpt := goodCheckpoint(t, 2)
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"-train-limit", "70000", "-test-limit", "100"}, "-train-limit"},
		{[]string{"-train-limit", "60001", "-test-limit", "100"}, "-train-limit"},
		{[]string{"-train-limit", "128", "-test-limit", "20000"}, "-test-limit"},
		{[]string{"-eval", ckpt, "-test-limit", "10001"}, "-test-limit"},
		{[]string{"-resume", ckpt, "-train-limit", "128", "-test-limit", "20000"}, "-test-limit"},
	} {
		code, stdout, stderr := runCmd(append(c.args, "-out", filepath.Join(t.TempDir(), "out"))...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2; stderr %s", c.args, code, stderr)
		}
		if !strings.HasPrefix(stderr, "train: "+c.flag+": ") || !strings.Contains(stderr, "more than") {
			t.Errorf("%v: message %q should start by naming %s", c.args, stderr, c.flag)
		}
		noPanic(t, stderr)
		if strings.Contains(stdout, "training LeNet++") || strings.Contains(stdout, "test acc") {
			t.Errorf("%v: work started: %s", c.args, stdout)
		}
	}
}

// TestUnwritableOutFailsAtOnce: an output folder that cannot be created
// (a path through a regular file) fails before the data is read or a step
// is taken, for training, resuming and evaluation.
func TestUnwritableOutFailsAtOnce(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	ckpt := goodCheckpoint(t, 2)
	for _, out := range []string{file, filepath.Join(file, "sub"), filepath.Join(file, "sub", "deeper")} {
		for _, mode := range [][]string{
			shortArgs(out)[:8],
			{"-resume", ckpt, "-epochs", "1", "-train-limit", "128", "-test-limit", "100"},
			{"-eval", ckpt, "-test-limit", "100"},
		} {
			start := time.Now()
			code, stdout, stderr := runCmd(append(mode, "-out", out)...)
			d := time.Since(start)
			if code != 1 {
				t.Errorf("-out %s %v: exit %d, want 1", out, mode[:2], code)
			}
			if !strings.Contains(stderr, out) && !strings.Contains(stderr, file) {
				t.Errorf("-out %s: message %q should name the folder", out, stderr)
			}
			noPanic(t, stderr)
			if stdout != "" {
				t.Errorf("-out %s %v: work started: %q", out, mode[:2], stdout)
			}
			if d > 2*time.Second {
				t.Errorf("-out %s %v: took %v to fail", out, mode[:2], d)
			}
		}
	}
}

// goodCheckpoint saves an untrained trainer with feature dimension dim,
// batch 32, and returns the file.
func goodCheckpoint(t *testing.T, dim int) string {
	t.Helper()
	h := train.DefaultHyper()
	h.Batch, h.Dim = 32, dim
	tr, err := train.NewTrainer(h, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	path := filepath.Join(t.TempDir(), "good.safetensors")
	if err := train.SaveCheckpoint(path, tr); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeCheckpoint writes c to a new file and returns its path.
func writeCheckpoint(t *testing.T, c *checkpoint.Checkpoint) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// badCheckpoints returns damaged or foreign checkpoint files, with what the
// error must say about each.
func badCheckpoints(t *testing.T) []struct {
	name, path string
	want       *regexp.Regexp
} {
	good := goodCheckpoint(t, 2)
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	headerLen := int(binary.LittleEndian.Uint64(raw))
	file := func(name string, b []byte) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	read := func() *checkpoint.Checkpoint {
		c, err := checkpoint.ReadFile(good)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Another architecture: the tensors of a D=3 network under the metadata
	// of a D=2 one.
	d3, err := checkpoint.ReadFile(goodCheckpoint(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	other := read()
	for _, name := range []string{"fc1.weight", "fc1.bias", "prelu_fc1.weight", "fc2.weight"} {
		if x, ok := d3.Tensors[name]; ok {
			other.Tensors[name], other.Tensors["momentum."+name] = x, d3.Tensors["momentum."+name]
		}
	}
	extra := read()
	extra.Tensors["conv4_1.weight"] = &checkpoint.Tensor{Shape: []int{2}, Data: []float32{1, 2}}
	extra.Tensors["momentum.conv4_1.weight"] = &checkpoint.Tensor{Shape: []int{2}, Data: []float32{0, 0}}
	missing := read()
	delete(missing.Tensors, "conv2_1.weight")
	delete(missing.Tensors, "momentum.conv2_1.weight")
	newer := read()
	newer.Version = checkpoint.Version + 1
	corrupt := bytes.Clone(raw)
	copy(corrupt[8+headerLen/2:], "\x00garbage\xff{]")
	// A safetensors file written by another program.
	foreign := []byte(`{"__metadata__":{"format":"pt"},"weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`)
	foreign = append(binary.LittleEndian.AppendUint64(nil, uint64(len(foreign))), append(foreign, 0, 0, 128, 63)...)
	data, err := mnist.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	return []struct {
		name, path string
		want       *regexp.Regexp
	}{
		{"missing", filepath.Join(t.TempDir(), "none.safetensors"), regexp.MustCompile(`no such file`)},
		{"folder", t.TempDir(), regexp.MustCompile(`folder`)},
		{"empty", file("empty.safetensors", nil), regexp.MustCompile(`truncated`)},
		{"truncated in the header", file("head.safetensors", raw[:8+headerLen/2]), regexp.MustCompile(`truncated`)},
		{"truncated in the data", file("half.safetensors", raw[:len(raw)/2]), regexp.MustCompile(`truncated|ends`)},
		{"one byte short", file("short.safetensors", raw[:len(raw)-1]), regexp.MustCompile(`truncated|ends`)},
		{"trailing bytes", file("long.safetensors", append(bytes.Clone(raw), 0)), regexp.MustCompile(`unexpected bytes`)},
		{"corrupt header", file("corrupt.safetensors", corrupt), regexp.MustCompile(`not a safetensors|JSON`)},
		{"text", file("notes.txt", []byte("epoch 3, acc 0.98\n")), regexp.MustCompile(`not a safetensors|truncated`)},
		{"gzip file", filepath.Join(data, "t10k-labels-idx1-ubyte.gz"), regexp.MustCompile(`not a safetensors`)},
		{"foreign safetensors", file("foreign.safetensors", foreign), regexp.MustCompile(`not a safetensors checkpoint|centerloss-go`)},
		{"newer version", writeCheckpoint(t, newer), regexp.MustCompile(`newer`)},
		{"other architecture", writeCheckpoint(t, other), regexp.MustCompile(`fc1.weight has shape \(3, 1152\).*\(2, 1152\)|does not fit`)},
		{"extra tensor", writeCheckpoint(t, extra), regexp.MustCompile(`conv4_1.weight`)},
		{"missing tensor", writeCheckpoint(t, missing), regexp.MustCompile(`conv2_1.weight`)},
	}
}

// resumeCases are the bad checkpoints also given to -resume.
var resumeCases = map[string]bool{
	"missing": true, "truncated in the data": true, "corrupt header": true,
	"foreign safetensors": true, "other architecture": true,
}

// TestBadCheckpointFails: -eval and -resume of a damaged, foreign or
// mismatched checkpoint stop with status 1 and a message naming the file.
func TestBadCheckpointFails(t *testing.T) {
	for _, c := range badCheckpoints(t) {
		t.Run(c.name, func(t *testing.T) {
			for _, mode := range []string{"-eval", "-resume"} {
				// -resume reads the data first, then the checkpoint as -eval
				// does: a few cases are enough.
				if mode == "-resume" && (testing.Short() || !resumeCases[c.name]) {
					continue
				}
				args := []string{mode, c.path, "-test-limit", "100", "-out", filepath.Join(t.TempDir(), "out")}
				if mode == "-resume" {
					args = append(args, "-epochs", "1", "-train-limit", "128")
				}
				code, stdout, stderr := runCmd(args...)
				if code != 1 {
					t.Errorf("%s: exit %d, want 1; stderr %s", mode, code, stderr)
				}
				if !strings.Contains(stderr, c.path) {
					t.Errorf("%s: message %q should name %s", mode, stderr, c.path)
				}
				if !c.want.MatchString(stderr) {
					t.Errorf("%s: message %q should match %q", mode, stderr, c.want)
				}
				noPanic(t, stderr)
				if strings.Contains(stdout, "epoch 1/") || strings.Contains(stdout, "test acc") {
					t.Errorf("%s: work was done: %s", mode, stdout)
				}
			}
		})
	}
}

// TestResumeRejectsAnotherArchitecture: -dim (like every hyperparameter)
// cannot be changed on resume, and a checkpoint of another D evaluates as
// the network it holds.
func TestResumeRejectsAnotherArchitecture(t *testing.T) {
	ckpt := goodCheckpoint(t, 3)
	code, _, stderr := runCmd("-resume", ckpt, "-dim", "2", "-epochs", "1", "-out", t.TempDir())
	if code != 2 || !strings.Contains(stderr, "-dim") {
		t.Errorf("-resume with -dim: exit %d, %q; want 2 naming -dim", code, stderr)
	}
	code, _, stderr = runCmd("-eval", ckpt, "-dim", "2", "-out", t.TempDir())
	if code != 2 || !strings.Contains(stderr, "-dim") {
		t.Errorf("-eval with -dim: exit %d, %q; want 2 naming -dim", code, stderr)
	}
}

// TestDivergenceKeepsLastGoodCheckpoint: a run that diverges (a learning
// rate or a center-loss weight far too large) stops in its first epoch with
// an error naming the epoch, the step and what went bad, and leaves the
// checkpoint and metrics an earlier run wrote into the same folder as they
// were.
func TestDivergenceKeepsLastGoodCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	out := filepath.Join(t.TempDir(), "run")
	if code, _, stderr := runCmd(shortArgs(out)...); code != 0 {
		t.Fatalf("good run: exit %d: %s", code, stderr)
	}
	ckpt := filepath.Join(out, experiment.CheckpointFile)
	metrics := filepath.Join(out, experiment.MetricsFile)
	goodCkpt, err := os.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	goodMetrics, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	diverged := regexp.MustCompile(`training diverged at epoch 1, step \d+: ` +
		`(the (softmax |center )?loss is (NaN|[+-]Inf)|sgd: \S+: (gradient entry \d+ is|weight entry \d+ became) (NaN|[+-]Inf))`)
	// -overwrite replaces the good run only once an epoch of the new one
	// is complete.
	for _, bad := range [][]string{{"-lr", "1e6"}, {"-lambda", "1e6"}} {
		code, stdout, stderr := runCmd(append(shortArgs(out), append(bad, "-overwrite")...)...)
		if code == 0 {
			t.Fatalf("%v: exit 0", bad)
		}
		if !diverged.MatchString(stderr) {
			t.Errorf("%v: error %q should name the epoch, the step and the quantity", bad, stderr)
		}
		noPanic(t, stderr)
		if strings.Contains(stdout, "epoch 1/1") {
			t.Errorf("%v: the epoch completed: %s", bad, stdout)
		}
		if b, err := os.ReadFile(ckpt); err != nil || !bytes.Equal(b, goodCkpt) {
			t.Errorf("%v: checkpoint changed (err %v)", bad, err)
		}
		if b, err := os.ReadFile(metrics); err != nil || !bytes.Equal(b, goodMetrics) {
			t.Errorf("%v: metrics.csv changed (err %v)", bad, err)
		}
	}
	tr, err := train.LoadCheckpoint(ckpt)
	if err != nil {
		t.Fatalf("the last good checkpoint does not load: %v", err)
	}
	defer tr.Close()
	if tr.Epoch != 1 || tr.Step != 128/32 {
		t.Errorf("checkpoint at epoch %d step %d, want 1 and %d", tr.Epoch, tr.Step, 128/32)
	}
}

// TestSecondRunRefused: a run into a folder that holds another run stops
// with status 2, naming the folder and both ways out, and leaves that run
// as it was; -overwrite replaces the run's files (and only those), and
// -resume continues it.
func TestSecondRunRefused(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if code, _, stderr := runCmd(shortArgs(out)...); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	ckpt := filepath.Join(out, "checkpoint.safetensors")
	before, err := os.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := os.ReadFile(filepath.Join(out, "metrics.csv"))

	code, stdout, stderr := runCmd(shortArgs(out)...)
	if code != 2 || stdout != "" {
		t.Errorf("second run: exit %d, stdout %q; want 2 and nothing", code, stdout)
	}
	for _, w := range []string{out, "already holds a run", "-overwrite", "-resume " + ckpt} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q should contain %q", stderr, w)
		}
	}
	noPanic(t, stderr)
	after, _ := os.ReadFile(ckpt)
	metricsAfter, _ := os.ReadFile(filepath.Join(out, "metrics.csv"))
	if !bytes.Equal(before, after) || !bytes.Equal(metrics, metricsAfter) {
		t.Error("the refused run changed the first run's checkpoint or metrics")
	}

	// A plot of a longer earlier run goes with -overwrite; a file of the
	// user's stays.
	stalePlot := filepath.Join(out, "plots", "test_epoch_007.png")
	mine := filepath.Join(out, "notes.txt")
	for _, f := range []string{stalePlot, mine} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, stderr := runCmd(append(shortArgs(out), "-overwrite")...); code != 0 {
		t.Fatalf("-overwrite: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(stalePlot); !os.IsNotExist(err) {
		t.Errorf("-overwrite left the old run's %s (%v)", stalePlot, err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("-overwrite removed a file it did not write: %v", err)
	}
	if m, _ := os.ReadFile(filepath.Join(out, "metrics.csv")); bytes.Count(m, []byte("\n")) != 2 {
		t.Errorf("metrics.csv after -overwrite:\n%s\nwant a header and 1 epoch", m)
	}
	if code, _, stderr := runCmd("-resume", ckpt, "-epochs", "2", "-train-limit", "128", "-test-limit", "100", "-out", out); code != 0 {
		t.Fatalf("-resume: exit %d: %s", code, stderr)
	}
}

// TestFashionRun trains on Fashion-MNIST's files (here MNIST's, copied
// into a folder given with -data) and checks that the run, its checkpoint
// and -eval know the data set and its class names, and that -dataset is a
// checkpoint's to set on -resume.
func TestFashionRun(t *testing.T) {
	data := copyData(t)
	out := filepath.Join(t.TempDir(), "fashion")
	if code, _, stderr := runCmd(append(shortArgs(out), "-dataset", "fashion", "-data", data)...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s struct {
		Hyper   struct{ Dataset string } `json:"hyperparameters"`
		Classes []string                 `json:"classes"`
	}
	b, err := os.ReadFile(filepath.Join(out, experiment.SummaryFile))
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil || s.Hyper.Dataset != "fashion" || len(s.Classes) != 10 || s.Classes[0] != "T-shirt/top" || s.Classes[9] != "Ankle boot" {
		t.Errorf("summary.json: dataset %q, classes %q (%v)", s.Hyper.Dataset, s.Classes, err)
	}
	ckpt := filepath.Join(out, experiment.CheckpointFile)
	c, err := checkpoint.ReadFile(ckpt)
	if err != nil || c.Metadata["dataset"] != "fashion" {
		t.Fatalf("checkpoint: dataset %v (%v)", c, err)
	}
	if code, stdout, stderr := runCmd("-eval", ckpt, "-data", data, "-test-limit", "100", "-out", t.TempDir()); code != 0 || !strings.Contains(stdout, "test acc") {
		t.Errorf("-eval: exit %d: %s %s", code, stdout, stderr)
	}
	if code, _, stderr := runCmd("-resume", ckpt, "-epochs", "2", "-dataset", "mnist", "-data", data, "-out", out); code != 2 || !strings.Contains(stderr, "-dataset") {
		t.Errorf("-resume with -dataset: exit %d, stderr %q; want 2 naming -dataset", code, stderr)
	}
	if code, _, stderr := runCmd(append(shortArgs(t.TempDir()), "-dataset", "cifar")...); code != 2 || !strings.Contains(stderr, "-dataset") || !strings.Contains(stderr, "mnist or fashion") {
		t.Errorf("-dataset cifar: exit %d, stderr %q", code, stderr)
	}
}

// TestFashionDefaults: -dataset fashion takes Fashion-MNIST's schedule for
// the flags not given: its epochs and learning-rate steps in metrics.csv.
func TestFashionDefaults(t *testing.T) {
	h, epochs := experiment.Defaults(mnist.Fashion)
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"-dataset", "fashion", "-data", copyData(t), "-batch", "32", "-train-limit", "64", "-test-limit", "100", "-out", out}
	if code, _, stderr := runCmd(args...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, experiment.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(string(b)), "\n")[1:]
	if len(rows) != epochs {
		t.Fatalf("%d epochs, want Fashion-MNIST's %d", len(rows), epochs)
	}
	for i, r := range rows {
		lr := strings.Split(r, ",")[1]
		if want := fmt.Sprint(h.LRAt(i + 1)); lr != want {
			t.Errorf("epoch %d: lr %s, want %s", i+1, lr, want)
		}
	}
}
