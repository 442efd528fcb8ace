package notebooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/centerloss-go/centerloss/notebooks/internal/nbrun"
	"github.com/centerloss-go/centerloss/notebooks/lab"
)

// kernelName is the kernelspec the notebooks ask for, which
// install-kernel.sh installs.
const kernelName = "gophernotes"

// fullEnv, set to 1, makes TestKernel run the notebooks at their default
// size with the checkpoints of `go run ./cmd/train`, as a reader would.
const fullEnv = "CENTERLOSS_NOTEBOOK_FULL"

// TestKernel runs every notebook in a real gophernotes kernel, through
// jupyter nbconvert, and fails on any cell that ends in an error, naming the
// notebook and the cell. By default it runs them at the quick size with a
// freshly written checkpoint; with CENTERLOSS_NOTEBOOK_FULL=1, at their
// default size. It skips when Jupyter or the kernel is not installed.
func TestKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Jupyter kernels")
	}
	if _, err := exec.LookPath("jupyter"); err != nil {
		t.Skip("no jupyter on PATH; notebooks/README.md says how to install it")
	}
	if err := exec.Command("jupyter", "nbconvert", "--version").Run(); err != nil {
		t.Skip("no jupyter nbconvert (apt-get install jupyter-nbconvert python3-nbclient)")
	}
	if !hasKernel(t) {
		t.Skip("no gophernotes kernel; install it with notebooks/install-kernel.sh")
	}

	full := os.Getenv(fullEnv) == "1"
	env := os.Environ()
	perNotebook := 10 * time.Minute // the first import builds the plugin for lab
	if full {
		perNotebook = 30 * time.Minute
		for _, v := range []string{lab.QuickEnv, lab.TrainEnv, lab.TestEnv, lab.EpochsEnv} {
			env = append(env, v+"=") // a reader's defaults, whatever this shell sets
		}
	} else {
		dir := t.TempDir()
		ckpt, softmax := filepath.Join(dir, "center.safetensors"), filepath.Join(dir, "softmax.safetensors")
		writeCheckpoint(t, ckpt, 0.1)
		writeCheckpoint(t, softmax, 0)
		env = append(env, lab.QuickEnv+"=1", lab.CheckpointEnv+"="+ckpt, lab.SoftmaxCheckpointEnv+"="+softmax)
	}
	out := t.TempDir()
	for _, name := range notebooks {
		t.Run(strings.TrimSuffix(name, ".ipynb"), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), perNotebook)
			defer cancel()
			start := time.Now()
			cmd := exec.CommandContext(ctx, "jupyter", "nbconvert", "--to", "notebook", "--execute",
				"--allow-errors", "--ExecutePreprocessor.kernel_name="+kernelName,
				fmt.Sprintf("--ExecutePreprocessor.timeout=%d", int(perNotebook.Seconds())),
				"--output-dir", out, name)
			cmd.Env = env
			log, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("jupyter nbconvert %s: %v\n%s", name, err, log)
			}
			t.Logf("%s ran in the kernel in %.0fs", name, time.Since(start).Seconds())
			ran, err := nbrun.Load(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			pictures := 0
			for _, c := range ran.Cells {
				var shown []string
				for _, o := range c.Outputs {
					switch {
					case o.Type == "error":
						t.Errorf("%s#%d: %s: %s", name, c.Number, o.Name, o.Value)
						shown = append(shown, "error "+o.Value)
					case o.Type == "stream":
						shown = append(shown, fmt.Sprintf("%.120q", o.Text))
						if w := gomacroWarning(o); w != "" {
							t.Errorf("%s#%d shows a warning of the interpreter: %s", name, c.Number, w)
						}
					default:
						shown = append(shown, fmt.Sprintf("%.120q", o.DataText("text/plain")))
					}
					if _, ok := o.Data["image/png"]; ok {
						pictures++
						if text := o.DataText("text/plain"); o.DataText("image/png") == "" || !strings.HasPrefix(text, "PNG ") {
							t.Errorf("%s#%d shows a picture with text form %q; want PNG WxH", name, c.Number, text)
						}
					}
				}
				if testing.Verbose() && c.Type == "code" {
					t.Logf("%s#%d: %s", name, c.Number, strings.Join(shown, "; "))
				}
			}
			if pictures < kernelPictures[name] {
				t.Errorf("%s showed %d pictures; want at least %d", name, pictures, kernelPictures[name])
			}
		})
	}
}

// gomacroWarning returns the first line of a stream output that is a
// warning of gomacro (the interpreter inside gophernotes), or "". It prints
// them as Go comments, "// warning: ...", straight to the kernel's standard
// output, which a notebook shows as the output of the running cell.
func gomacroWarning(o nbrun.Output) string {
	for _, line := range strings.Split(string(o.Text), "\n") {
		if strings.HasPrefix(line, "// warning: ") {
			return line
		}
	}
	return ""
}

// kernelPictures is how many pictures each notebook shows at least.
var kernelPictures = map[string]int{
	"01-the-op.ipynb":                 2,
	"02-training.ipynb":               2,
	"03-softmax-vs-center-loss.ipynb": 1,
}

// hasKernel reports whether Jupyter knows the kernelspec kernelName.
func hasKernel(t *testing.T) bool {
	t.Helper()
	b, err := exec.Command("jupyter", "kernelspec", "list", "--json").Output()
	if err != nil {
		t.Fatalf("jupyter kernelspec list: %v", err)
	}
	var specs struct {
		Kernelspecs map[string]json.RawMessage `json:"kernelspecs"`
	}
	if err := json.Unmarshal(b, &specs); err != nil {
		t.Fatalf("jupyter kernelspec list --json: %v", err)
	}
	_, ok := specs.Kernelspecs[kernelName]
	return ok
}
