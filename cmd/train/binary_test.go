package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/centerloss-go/centerloss/train"
)

// buildTrain builds the command into a temporary folder and returns the
// binary.
func buildTrain(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the binary with")
	}
	bin := filepath.Join(t.TempDir(), "train")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// syncBuffer is a bytes.Buffer that a running process may write while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runBinary runs bin with args and returns its exit status and output.
func runBinary(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode(), stdout.String(), stderr.String()
	default:
		t.Fatalf("%v: %v\n%s", args, err, stderr.String())
		return -1, "", ""
	}
}

// TestBinaryBadInput runs the real binary on bad input of every kind and
// checks its exit status, that the message names what is wrong and that no
// panic or stack trace reaches the user.
func TestBinaryBadInput(t *testing.T) {
	bin := buildTrain(t)
	data := copyData(t)
	editIDX("t10k-labels-idx1-ubyte.gz", func(b []byte) []byte {
		b[8+3] = 200
		return b
	})(t, data)
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := badCheckpoints(t)
	ckpt := func(name string) string {
		for _, c := range bad {
			if c.name == name {
				return c.path
			}
		}
		t.Fatalf("no bad checkpoint %q", name)
		return ""
	}
	out := func() string { return filepath.Join(t.TempDir(), "out") }
	cases := []struct {
		args []string
		code int
		want []string
	}{
		{append([]string{"-data", data}, shortArgs(out())...), 1, []string{"t10k-labels-idx1-ubyte.gz", "label 200", "above 9"}},
		{append([]string{"-data", filepath.Join(data, "none")}, shortArgs(out())...), 1, []string{"none", "does not exist", "pass -data DIR"}},
		{[]string{"-eval", ckpt("truncated in the data"), "-test-limit", "100", "-out", out()}, 1, []string{ckpt("truncated in the data"), "truncated"}},
		{[]string{"-eval", ckpt("corrupt header"), "-test-limit", "100", "-out", out()}, 1, []string{ckpt("corrupt header"), "not a safetensors"}},
		{[]string{"-resume", ckpt("other architecture"), "-epochs", "1", "-train-limit", "128", "-test-limit", "100", "-out", out()}, 1, []string{ckpt("other architecture"), "fc1.weight"}},
		{[]string{"-eval", ckpt("foreign safetensors"), "-out", out()}, 1, []string{ckpt("foreign safetensors"), "not a safetensors checkpoint"}},
		{shortArgs(filepath.Join(file, "sub")), 1, []string{file, "output folder"}},
		{[]string{"-train-limit", "70000", "-out", out()}, 2, []string{"-train-limit", "70000"}},
		{[]string{"-batch", "0", "-out", out()}, 2, []string{"-batch"}},
		{[]string{"-lr", "-1", "-out", out()}, 2, []string{"-lr"}},
		{[]string{"-alpha", "1.5", "-out", out()}, 2, []string{"-alpha"}},
		{[]string{"-lambda", "-1", "-out", out()}, 2, []string{"-lambda"}},
		{[]string{"-dim", "0", "-out", out()}, 2, []string{"-dim"}},
		{[]string{"-epochs", "0", "-out", out()}, 2, []string{"-epochs"}},
		{[]string{"-no-such-flag", "-out", out()}, 2, []string{"no-such-flag"}},
		{append(shortArgs(out()), "-lr", "1e6"), 1, []string{"diverged", "epoch 1, step"}},
	}
	for _, c := range cases {
		code, stdout, stderr := runBinary(t, bin, c.args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d; stderr:\n%s", c.args, code, c.code, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: message %q should contain %q", c.args, stderr, w)
			}
		}
		noPanic(t, stderr)
		noPanic(t, stdout)
	}
}

// waitFor polls cond every interval until it holds or the process is gone
// or timeout passes, and reports whether it held.
func waitFor(done <-chan struct{}, timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		select {
		case <-done:
			return cond()
		case <-time.After(interval):
		}
	}
	return false
}

// loadCheckpoint loads path and returns its epoch and step.
func loadCheckpoint(t *testing.T, path string) (epoch, step int) {
	t.Helper()
	tr, err := train.LoadCheckpoint(path)
	if err != nil {
		t.Fatalf("checkpoint does not load: %v", err)
	}
	defer tr.Close()
	return tr.Epoch, tr.Step
}
