//go:build linux && amd64

package graph_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/centerloss-go/centerloss/graph"
	"github.com/centerloss-go/centerloss/internal/onednn"
)

// TestNoReferenceKernels builds the oneDNN trunk in both precisions for the
// batch sizes the trainer uses (64 to train, 100 to evaluate) and the
// smallest, and fails on any primitive or reorder that runs oneDNN's
// reference loop, tens of times slower than its generated kernels. On
// AVX2 and later the float32 plan must exist; on older CPUs (oneDNN 2.6
// has no generated first convolution for SSE4.1) the network must say that
// it runs the im2col kernels instead.
func TestNoReferenceKernels(t *testing.T) {
	isa, err := graph.OneDNNISA()
	if err != nil {
		t.Skipf("oneDNN is not used here: %v", err)
	}
	for _, bf16 := range []bool{false, true} {
		precision := graph.F32
		if bf16 {
			precision = graph.BF16
			if err := precision.Available(); err != nil {
				t.Logf("no bfloat16 here: %v", err)
				continue
			}
		}
		for _, batch := range []int{2, 64, 100} {
			impls, describe, err := graph.TrunkPrimitives(batch, bf16)
			if err != nil {
				if !strings.Contains(err.Error(), "no candidate with a generated kernel") {
					t.Fatalf("%s, batch %d: %v", precision, batch, err)
				}
				if isa != "sse41" && isa != "avx" {
					t.Fatalf("%s, batch %d, %s: no plan without reference loops: %v", precision, batch, isa, err)
				}
				if !bf16 {
					cfg := graph.DefaultConfig()
					cfg.Batch = batch
					net, err := graph.New(G.NewGraph(), cfg)
					if err != nil {
						t.Fatal(err)
					}
					if !strings.HasPrefix(net.Kernels(), "im2col") || !strings.Contains(net.Kernels(), "reference loop") {
						t.Errorf("%s: the network should say it runs the im2col kernels and why, not %q", isa, net.Kernels())
					}
				}
				continue
			}
			if len(impls) < 6*3-1+6*2+3*2 {
				t.Fatalf("%s, batch %d: only %d primitives: %v", precision, batch, len(impls), impls)
			}
			for what, impl := range impls {
				if impl == "" || strings.HasPrefix(impl, "ref") {
					t.Errorf("%s, batch %d: %s runs %q", precision, batch, what, impl)
				}
			}
			if batch == 64 {
				t.Logf("%s", describe)
			}
		}
	}
}

// TestNoReferenceKernelsOnOtherCPUs runs TestNoReferenceKernels and
// TestOneDNNMatchesIm2col again with oneDNN held to each older instruction
// set this CPU includes (DNNL_MAX_CPU_ISA), so that a machine of one kind
// checks the plans, and their numbers, that CPUs of the older kinds get.
func TestNoReferenceKernelsOnOtherCPUs(t *testing.T) {
	if os.Getenv("DNNL_MAX_CPU_ISA") != "" {
		t.Skip("already held to an instruction set")
	}
	if _, err := graph.OneDNNISA(); err != nil {
		t.Skipf("oneDNN is not used here: %v", err)
	}
	for _, isa := range []string{"SSE41", "AVX2", "AVX512_CORE", "AVX512_CORE_BF16"} {
		t.Run(isa, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run", "^(TestNoReferenceKernels|TestOneDNNMatchesIm2col)$", "-test.v")
			cmd.Env = append(os.Environ(), "DNNL_MAX_CPU_ISA="+isa)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(string(out), "--- PASS: TestNoReferenceKernels") || strings.Contains(string(out), "--- FAIL") {
				t.Fatalf("the test did not pass:\n%s", out)
			}
		})
	}
}

// steered runs one pass of LeNet++ with the plans steered by reject and
// act, and checks that its description names each of notes.
func steered(t *testing.T, precision graph.Precision, reject func(string) bool, act onednn.Tag, notes ...string) *stepResult {
	t.Helper()
	defer graph.SteerPlans(reject, act)()
	cfg := graph.DefaultConfig()
	cfg.Precision = precision
	images, labels := mnistBatch(t, cfg.Batch)
	r := step(t, cfg, images, labels)
	if r == nil {
		t.Fatal("no network on oneDNN's primitives")
	}
	t.Logf("%s", r.net.Kernels())
	for _, n := range notes {
		if !strings.Contains(r.net.Kernels(), n) {
			t.Errorf("the description does not say %q: %s", n, r.net.Kernels())
		}
	}
	return r
}

// all is a reject hook that turns down every candidate containing each of
// words.
func all(words ...string) func(string) bool {
	return func(what string) bool {
		for _, w := range words {
			if !strings.Contains(what, w) {
				return false
			}
		}
		return true
	}
}

// anyOf turns down what any of the hooks turns down.
func anyOf(hooks ...func(string) bool) func(string) bool {
	return func(what string) bool {
		for _, h := range hooks {
			if h(what) {
				return true
			}
		}
		return false
	}
}

// TestPlanChoices computes one pass with the trunk's other layouts and with
// the fallbacks a plan takes where oneDNN has only a reference loop (forced
// here by turning candidates down), and compares it with the plain float32
// pass on the same weights and images: the NHWC trunk that bfloat16 gets on
// AMX, the first convolution on NHWC images, and, inside a bfloat16 trunk,
// layers run in float32 and float32 weight gradients. (The zero-padded
// blocked source that AVX2 gets is checked by
// TestNoReferenceKernelsOnOtherCPUs.)
func TestPlanChoices(t *testing.T) {
	cfg := graph.DefaultConfig()
	images, labels := mnistBatch(t, cfg.Batch)
	want := step(t, cfg, images, labels)
	if want == nil {
		t.Skip("oneDNN's primitives are not available")
	}
	t.Run("f32 NHWC", func(t *testing.T) {
		compareSteps(t, steered(t, graph.F32, nil, onednn.ACDB, "; NHWC;"), want, 2e-4, 2e-4)
	})
	t.Run("f32 first source NHWC", func(t *testing.T) {
		got := steered(t, graph.F32, all("conv1_1", "source NCHW"), 0, "conv1_1 forward in float32 (source NHWC)", "conv1_1 backward weights in float32 (source NHWC, weight gradient float32)")
		compareSteps(t, got, want, 2e-4, 2e-4)
	})
	if err := graph.BF16.Available(); err != nil {
		t.Skipf("no bfloat16 here: %v", err)
	}
	// The tolerances of TestBF16MatchesF32.
	t.Run("bf16 NHWC", func(t *testing.T) {
		compareSteps(t, steered(t, graph.BF16, nil, onednn.ACDB, "; NHWC;"), want, 0.04, 0.12)
	})
	t.Run("bf16 with float32 layers", func(t *testing.T) {
		reject := anyOf(all("conv2_1", "in bfloat16"), all("prelu1_2", "in bfloat16"), all("pool2", "in bfloat16"),
			all("conv3_2 backward weights", "weight gradient bfloat16"))
		got := steered(t, graph.BF16, reject, 0, "conv2_1 forward in float32", "conv2_1 backward data in float32",
			"conv2_1 backward weights in float32", "prelu1_2 in float32", "pool2 in float32",
			"conv3_2 backward weights in bfloat16 (weight gradient float32)")
		compareSteps(t, got, want, 0.04, 0.12)
	})
}

// BenchmarkPassChoices times a pass with each choice a plan could make
// otherwise: the trunk in NHWC (bfloat16's layout on AMX) or in the layout
// oneDNN's convolution picks here, and in bfloat16 the weight gradients in
// bfloat16 (the plan's choice) or in float32.
func BenchmarkPassChoices(b *testing.B) {
	for _, k := range []struct {
		name      string
		precision graph.Precision
		act       onednn.Tag
		reject    func(string) bool
	}{
		{"f32", graph.F32, 0, nil},
		{"f32-NHWC", graph.F32, onednn.ACDB, nil},
		{"bf16", graph.BF16, 0, nil},
		{"bf16-NHWC", graph.BF16, onednn.ACDB, nil},
		{"bf16-f32-weight-gradients", graph.BF16, 0, all("weight gradient bfloat16")},
		{"bf16-NHWC-f32-weight-gradients", graph.BF16, onednn.ACDB, all("weight gradient bfloat16")},
	} {
		b.Run(k.name, func(b *testing.B) {
			defer graph.SteerPlans(k.reject, k.act)()
			cfg := graph.DefaultConfig()
			cfg.Precision = k.precision
			benchPass(b, cfg)
		})
	}
}
