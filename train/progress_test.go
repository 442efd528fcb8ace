package train

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProgress: lines every `every` steps and at an epoch's last one, with
// means over the epoch so far, started afresh with each epoch.
func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	p := Progress(&buf, 4, 2)
	for s := 1; s <= 3; s++ {
		p(1, s, 3, StepResult{Loss: float64(s), Correct: s})
	}
	p(2, 1, 3, StepResult{Loss: 7, Correct: 4})
	p(2, 2, 3, StepResult{Loss: 9, Correct: 0})
	p(0, 2, 2, StepResult{Loss: 5, Correct: 1}) // a caller that knows no epoch
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	want := []string{
		"epoch 1  step 2/3  loss 1.5000  train acc 0.3750",
		"epoch 1  step 3/3  loss 2.0000  train acc 0.5000",
		"epoch 2  step 2/3  loss 8.0000  train acc 0.5000",
		"  step 2/2  loss 5.0000  train acc 0.2500",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		rest, ok := strings.CutPrefix(lines[i], w+"  ")
		speed, left, _ := strings.Cut(rest, " img/s")
		if _, err := strconv.ParseFloat(speed, 64); !ok || err != nil {
			t.Errorf("line %d is %q, want %q and the speed", i+1, lines[i], w)
			continue
		}
		// Only a step before the epoch's last says how long the rest takes.
		last := strings.Contains(w, "step 3/3") || strings.Contains(w, "step 2/2")
		if d, found := strings.CutSuffix(strings.TrimPrefix(left, "  "), " left"); last != (left == "") || (!last && (!found || !validDuration(d))) {
			t.Errorf("line %d ends with %q after the speed", i+1, left)
		}
	}
}

func validDuration(s string) bool {
	d, err := time.ParseDuration(s)
	return err == nil && d >= 0
}
