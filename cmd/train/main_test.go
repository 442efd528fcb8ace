package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/centerloss-go/centerloss/graph"
)

func TestBadFlagsAreUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		name string
	}{
		{[]string{"-batch", "0"}, "batch"},
		{[]string{"-lr", "-1"}, "learning rate"},
		{[]string{"-alpha", "2"}, "alpha"},
		{[]string{"-lambda", "-0.1"}, "lambda"},
		{[]string{"-dim", "0"}, "dimension"},
		{[]string{"-epochs", "0"}, "-epochs"},
		{[]string{"-train-limit", "-5"}, "-train-limit"},
		{[]string{"-lr-steps", "x"}, "-lr-steps"},
		{[]string{"-nosuchflag"}, "nosuchflag"},
		{[]string{"extra"}, "extra"},
	} {
		var out, errw bytes.Buffer
		code := run(append(c.args, "-out", t.TempDir()), &out, &errw)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", c.args, code)
		}
		if !strings.Contains(errw.String(), c.name) {
			t.Errorf("%v: message %q should name %q", c.args, errw.String(), c.name)
		}
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	var out, errw bytes.Buffer
	if code := run([]string{"-help"}, &out, &errw); code != 0 {
		t.Fatalf("-help: exit %d", code)
	}
	for _, f := range []string{"-epochs", "-batch", "-lr", "-momentum", "-weight-decay", "-lambda", "-alpha",
		"-dim", "-seed", "-data", "-out", "-train-limit", "-test-limit"} {
		if !strings.Contains(errw.String(), f+" ") {
			t.Errorf("-help does not show %s", f)
		}
	}
}

// TestShortRun trains one epoch on a small subset and checks metrics.csv.
func TestShortRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	var out, errw bytes.Buffer
	code := run([]string{"-epochs", "1", "-train-limit", "640", "-test-limit", "200", "-out", dir}, &out, &errw)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errw.String())
	}
	f, err := os.Open(filepath.Join(dir, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("metrics.csv has %d rows, want a header and 1 epoch", len(rows))
	}
	header := strings.Join(rows[0], ",")
	for _, col := range []string{"epoch", "train_loss", "softmax_loss", "center_loss", "train_acc", "test_acc", "intra", "inter", "seconds"} {
		if !strings.Contains(","+header+",", ","+col+",") {
			t.Errorf("metrics.csv header %q lacks %s", header, col)
		}
	}
	if !strings.Contains(out.String(), "epoch 1/1") {
		t.Errorf("no epoch summary in output %q", out.String())
	}
	checkBF16Hint(t, out.String())

	// -eval of the final checkpoint scores the same features the same way.
	_, scores, ok := strings.Cut(out.String(), "nearest-center acc")
	if !ok {
		t.Fatalf("no feature scores in output %q", out.String())
	}
	var evalOut bytes.Buffer
	errw.Reset()
	code = run([]string{"-eval", filepath.Join(dir, "checkpoint.safetensors"), "-test-limit", "200", "-out", t.TempDir()}, &evalOut, &errw)
	if code != 0 {
		t.Fatalf("-eval: exit %d: %s", code, errw.String())
	}
	if _, evalScores, _ := strings.Cut(evalOut.String(), "nearest-center acc"); evalScores != scores {
		t.Errorf("-eval scores the features\n%s\nthe run scored them\n%s", evalScores, scores)
	}
}

// checkBF16Hint checks the line that suggests bfloat16: only where the CPU
// runs it, after the Layers line, with bfloat16 at least a fifth faster
// than float32 in the times it quotes.
func checkBF16Hint(t *testing.T, out string) {
	t.Helper()
	i := strings.Index(out, "bfloat16: a pass takes")
	if i < 0 {
		t.Logf("no bfloat16 hint (bf16 here: %v)", graph.BF16.Available())
		return
	}
	if err := graph.BF16.Available(); err != nil {
		t.Errorf("bfloat16 suggested where it cannot run (%v): %q", err, out)
	}
	var bf16, f32 int
	if _, err := fmt.Sscanf(out[i:], "bfloat16: a pass takes %d ms on this CPU in bfloat16 against %d ms in float32", &bf16, &f32); err != nil {
		t.Fatalf("the hint does not read as expected: %v: %q", err, out[i:])
	}
	line, _, _ := strings.Cut(out[i:], "\n")
	t.Log(line)
	if 5*bf16 > 4*f32 || !strings.Contains(line, "-precision bf16") || i < strings.Index(out, "Layers:") {
		t.Errorf("hint %q: want bfloat16 at least a fifth faster, the flag, and the line after Layers", line)
	}
}
