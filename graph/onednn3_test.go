//go:build linux && amd64

package graph_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestOneDNN3 runs the equivalence tests (oneDNN against the im2col
// kernels and gorgonia's stock ops, float32 and bfloat16) and the
// no-reference-kernel test again on a oneDNN 3.x library:
// $ONEDNN3_LIBRARY (a path, e.g. of a library built from source), else
// libdnnl.so.3 where the dynamic loader finds it. It skips where neither
// loads.
func TestOneDNN3(t *testing.T) {
	if os.Getenv("CENTERLOSS_ONEDNN") != "" {
		t.Skip("already running on a chosen library")
	}
	lib := os.Getenv("ONEDNN3_LIBRARY")
	if lib == "" {
		lib = "libdnnl.so.3"
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^(TestNoReferenceKernels|TestOneDNNMatchesIm2col|TestBF16MatchesF32|TestFastMatchesStock|TestPlanChoices)$", "-test.v")
	cmd.Env = append(os.Environ(), "CENTERLOSS_ONEDNN="+lib)
	out, err := cmd.CombinedOutput()
	s := string(out)
	if strings.Contains(s, "not available:") {
		t.Skipf("no oneDNN 3.x here: %s", strings.TrimSpace(strings.SplitN(s, "\n", 2)[0]))
	}
	if err != nil || strings.Contains(s, "--- FAIL") {
		t.Fatalf("%v\n%s", err, s)
	}
	for _, want := range []string{"oneDNN 3.", "--- PASS: TestNoReferenceKernels", "--- PASS: TestOneDNNMatchesIm2col", "primitives in float32"} {
		if !strings.Contains(s, want) {
			t.Fatalf("the run on %s lacks %q:\n%s", lib, want, s)
		}
	}
	t.Logf("on %s:\n%s", lib, s)
}
