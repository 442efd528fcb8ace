package notebooks_test

import (
	"context"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/centerloss-go/centerloss/notebooks/internal/nbrun"
	"github.com/centerloss-go/centerloss/notebooks/lab"
	"github.com/centerloss-go/centerloss/train"
	"gorgonia.org/tensor"
)

// notebooks are the notebooks of this folder, in reading order.
var notebooks = []string{
	"01-the-op.ipynb",
	"02-training.ipynb",
	"03-softmax-vs-center-loss.ipynb",
}

// moduleDir is the root of the module, the parent of this folder.
func moduleDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestNotebookFiles checks that every notebook of the folder is listed and
// is an nbformat 4 notebook for the gophernotes kernel that imports this
// repository through lab only.
func TestNotebookFiles(t *testing.T) {
	found, err := filepath.Glob("*.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(found, " ") != strings.Join(notebooks, " ") {
		t.Errorf("notebooks in the folder: %v; the tests run %v", found, notebooks)
	}
	for _, name := range notebooks {
		nb, err := nbrun.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		m := nb.Metadata
		if nb.NBFormat != 4 || m.Kernelspec.Name != "gophernotes" || m.Kernelspec.Language != "go" || m.LanguageInfo.Name != "go" {
			t.Errorf("%s: nbformat %d, kernelspec %q (%q), language %q; want 4, gophernotes (go), go",
				name, nb.NBFormat, m.Kernelspec.Name, m.Kernelspec.Language, m.LanguageInfo.Name)
		}
		code := 0
		for _, c := range nb.Cells {
			if c.Type != "code" {
				continue
			}
			code++
			for _, o := range c.Outputs {
				if w := gomacroWarning(o); w != "" {
					t.Errorf("%s#%d is saved with a warning of the interpreter in its output: %s", name, c.Number, w)
				}
			}
			if strings.Contains(string(c.Source), "github.com/centerloss-go/centerloss") {
				t.Errorf("%s#%d names the module by its path; notebooks import \"./lab\"", name, c.Number)
			}
			f, err := parser.ParseFile(token.NewFileSet(), "", "package p\n"+string(c.Source), parser.ImportsOnly)
			if err != nil {
				t.Errorf("%s#%d: %v", name, c.Number, err)
				continue
			}
			for _, im := range f.Imports {
				path, _ := strconv.Unquote(im.Path.Value)
				first, _, _ := strings.Cut(path, "/")
				if path != "./lab" && strings.Contains(first, ".") {
					t.Errorf("%s#%d imports %s; notebooks import only \"./lab\" and the standard library", name, c.Number, path)
				}
			}
		}
		if code == 0 {
			t.Errorf("%s has no code cells", name)
		}
	}
}

// TestNotebooksRun runs every notebook, top to bottom, as gophernotes would,
// with the quick run size. The training notebook is given a checkpoint, so
// that its cells that load one run too.
func TestNotebooksRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the notebooks")
	}
	mod := moduleDir(t)
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "checkpoint.safetensors")
	writeCheckpoint(t, ckpt, 0.1)
	// No softmax checkpoint: the comparison notebook trains both networks
	// here (TestKernel runs it on checkpoints).
	env := []string{lab.QuickEnv + "=1", lab.CheckpointEnv + "=" + ckpt,
		lab.SoftmaxCheckpointEnv + "=" + filepath.Join(dir, "none.safetensors")}
	for _, name := range notebooks {
		t.Run(strings.TrimSuffix(name, ".ipynb"), func(t *testing.T) {
			nb, err := nbrun.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			start := time.Now()
			out, err := nbrun.Run(ctx, nb, nbrun.Options{ModuleDir: mod, Env: env})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s ran in %.1fs", name, time.Since(start).Seconds())
			if testing.Verbose() {
				t.Logf("output:\n%s", out)
			}
			for _, want := range expectedOutput[name] {
				if !strings.Contains(string(out), want) {
					t.Errorf("%s: output lacks %q", name, want)
				}
			}
		})
	}
}

// expectedOutput are pieces of each notebook's output that show its cells
// did what they say.
var expectedOutput = map[string][]string{
	"01-the-op.ipynb": {
		"[image/png] 640x640 image",  // the blobs
		"[image/png] 1280x640 image", // the two trajectories side by side
		"| parameter | backprop",
	},
	"02-training.ipynb": {
		"epoch 1/1",
		"[image/png] 800x800 image",
		"test accuracy",
	},
	"03-softmax-vs-center-loss.ipynb": {
		"λ = 0\nepoch 1/1",
		"λ = 0.1\nepoch 1/1",
		"[image/png] 1600x800 image",
		`text "PNG 1600x800"`, // the text form of the picture
		"| λ ",
	},
}

// writeCheckpoint saves an untrained LeNet++ with center-loss weight lambda
// for the notebooks to load.
func writeCheckpoint(t *testing.T, path string, lambda float64) {
	t.Helper()
	h := train.DefaultHyper()
	h.Lambda = lambda
	tr, err := train.NewTrainer(h, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := train.SaveCheckpoint(path, tr); err != nil {
		t.Fatal(err)
	}
}

// TestTypoFails checks that the runner catches a typo in a real notebook:
// one misspelt name in one cell makes the notebook fail, with an error that
// names the cell.
func TestTypoFails(t *testing.T) {
	nb, err := nbrun.Load("01-the-op.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	cell := -1
	for i, c := range nb.Cells {
		if c.Type == "code" && strings.Contains(string(c.Source), "lab.CenterLoss(") {
			cell = i
			break
		}
	}
	if cell < 0 {
		t.Fatal("no cell calls lab.CenterLoss")
	}
	nb.Cells[cell].Source = nbrun.Text(strings.Replace(string(nb.Cells[cell].Source), "lab.CenterLoss(", "lab.CenterLos(", 1))
	_, err = nbrun.Check(context.Background(), nb, nbrun.Options{ModuleDir: moduleDir(t)})
	if err == nil {
		t.Fatal("a notebook with a typo passed")
	}
	where := "01-the-op.ipynb#" + strconv.Itoa(nb.Cells[cell].Number) + ":"
	if !strings.Contains(err.Error(), where) || !strings.Contains(err.Error(), "CenterLos") {
		t.Errorf("error %q does not name %s and the misspelt name", err, where)
	}
}

// TestGomacroWarning checks that the warnings gomacro printed into the
// first cell of every notebook, before the kernel was patched, are found,
// and that ordinary output is not taken for one.
func TestGomacroWarning(t *testing.T) {
	nb, err := nbrun.Parse([]byte(`{"nbformat":4,"cells":[{"cell_type":"code","source":"import \"./lab\"","outputs":[
		{"output_type":"stream","name":"stdout","text":["240 points in 4 classes\n"]},
		{"output_type":"stream","name":"stdout","text":["// warning: skipping import of func iter.Pull[V any](seq iter.Seq[V]) (next func() (V, bool), stop func()):\timporting generic functions or types is not supported yet\n",
			"// warning: skipping import of func iter.Pull2[K, V any](seq iter.Seq2[K, V]) (next func() (K, V, bool), stop func()):\timporting generic functions or types is not supported yet\n"]}]}]}`),
		"w.ipynb", ".")
	if err != nil {
		t.Fatal(err)
	}
	out := nb.Cells[0].Outputs
	if w := gomacroWarning(out[0]); w != "" {
		t.Errorf("ordinary output taken for a warning: %q", w)
	}
	if w := gomacroWarning(out[1]); !strings.HasPrefix(w, "// warning: skipping import of func iter.Pull[V any]") {
		t.Errorf("warning not found: %q", w)
	}
}
