package lab_test

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/centerloss-go/centerloss/notebooks/lab"
)

func TestBlobs(t *testing.T) {
	b := lab.Blobs(4, 50, 0.5, 7)
	if b.N != 200 || b.K != 4 || len(b.Points) != 400 || len(b.Labels) != 200 || len(b.Means) != 8 {
		t.Fatalf("sizes: N %d K %d points %d labels %d means %d", b.N, b.K, len(b.Points), len(b.Labels), len(b.Means))
	}
	count := make([]int, b.K)
	for _, l := range b.Labels {
		count[l]++
	}
	for j, c := range count {
		if c != 50 {
			t.Errorf("class %d has %d points, want 50", j, c)
		}
		if r := math.Hypot(b.Means[2*j], b.Means[2*j+1]); math.Abs(r-3) > 1e-12 {
			t.Errorf("mean %d at radius %v, want 3", j, r)
		}
	}
	// The sample means are within a few standard errors of the true means.
	got := lab.ClassMeans(b.Points, b.Labels, b.K, 2)
	if d := lab.MaxAbsDiff(got, b.Means); d > 4*0.5/math.Sqrt(50) {
		t.Errorf("sample means %v are %v from the true means %v", got, d, b.Means)
	}
	again := lab.Blobs(4, 50, 0.5, 7)
	if lab.MaxAbsDiff(again.Points, b.Points) != 0 {
		t.Error("the same seed gave other points")
	}
	if other := lab.Blobs(4, 50, 0.5, 8); lab.MaxAbsDiff(other.Points, b.Points) == 0 {
		t.Error("another seed gave the same points")
	}
	mustPanic(t, "Blobs(0, ...)", func() { lab.Blobs(0, 1, 1, 1) })
}

func TestMiniBatch(t *testing.T) {
	b := lab.Blobs(2, 3, 0.1, 1)  // 6 points
	pts, lbl := b.MiniBatch(4, 1) // points 4, 5, 0, 1
	for i, p := range []int{4, 5, 0, 1} {
		if lbl[i] != b.Labels[p] || pts[2*i] != b.Points[2*p] || pts[2*i+1] != b.Points[2*p+1] {
			t.Errorf("item %d of batch 1 is not point %d", i, p)
		}
	}
	pts[0] = 1e9
	if b.Points[8] == 1e9 {
		t.Error("MiniBatch shares memory with the set")
	}
	mustPanic(t, "MiniBatch larger than the set", func() { b.MiniBatch(7, 0) })
}

func TestClassMeans(t *testing.T) {
	got := lab.ClassMeans([]float64{1, 2, 3, 4, 10, 20}, []int{0, 0, 2}, 3, 2)
	want := []float64{2, 3, 0, 0, 10, 20}
	if lab.MaxAbsDiff(got, want) != 0 {
		t.Errorf("ClassMeans = %v, want %v", got, want)
	}
}

func TestFiniteDiff(t *testing.T) {
	x := []float64{1, -2, 0.5}
	f := func() float64 { return x[0]*x[0] + 3*x[1] + x[0]*x[2] }
	g := lab.FiniteDiff(f, x, 1e-5)
	want := []float64{2*1 + 0.5, 3, 1}
	if d := lab.MaxAbsDiff(g, want); d > 1e-8 {
		t.Errorf("FiniteDiff = %v, want %v", g, want)
	}
	if x[0] != 1 || x[1] != -2 || x[2] != 0.5 {
		t.Errorf("x not restored: %v", x)
	}
	mustPanic(t, "eps 0", func() { lab.FiniteDiff(f, x, 0) })
}

func TestDistances(t *testing.T) {
	if d := lab.MaxAbsDiff([]float64{1, 2}, []float64{1.5, 0}); d != 2 {
		t.Errorf("MaxAbsDiff = %v, want 2", d)
	}
	if e := lab.RelErr([]float64{3, 4}, []float64{3, 4}); e != 0 {
		t.Errorf("RelErr of equal vectors = %v", e)
	}
	if e := lab.RelErr([]float64{3, 4}, []float64{0, 0}); math.Abs(e-1) > 1e-15 {
		t.Errorf("RelErr against zero = %v, want 1", e)
	}
	if e := lab.RelErr([]float64{0}, []float64{0}); e != 0 {
		t.Errorf("RelErr of zeros = %v", e)
	}
	mustPanic(t, "lengths differ", func() { lab.RelErr([]float64{1}, nil) })
}

func TestTable(t *testing.T) {
	got := lab.Table([]string{"λ", "accuracy"}, [][]string{{"0", "98.1%"}, {"0.1"}, {"a|b", "x"}})
	want := "" +
		"| λ    | accuracy |\n" +
		"| ---- | -------- |\n" +
		"| 0    | 98.1%    |\n" +
		"| 0.1  |          |\n" +
		"| a\\|b | x        |\n"
	if got != want {
		t.Errorf("Table:\n%s\nwant\n%s", got, want)
	}
	if lab.Table(nil, nil) != "" {
		t.Error("an empty table is not empty")
	}
}

func TestRunSize(t *testing.T) {
	for _, env := range []string{lab.QuickEnv, lab.TrainEnv, lab.TestEnv, lab.EpochsEnv} {
		t.Setenv(env, "")
	}
	s, err := lab.RunSize()
	if err != nil || s != lab.DefaultSize {
		t.Errorf("no variables: %+v, %v; want %+v", s, err, lab.DefaultSize)
	}
	t.Setenv(lab.QuickEnv, "1")
	if s, err = lab.RunSize(); err != nil || s != lab.QuickSize || !s.Quick {
		t.Errorf("quick: %+v, %v; want %+v", s, err, lab.QuickSize)
	}
	if !strings.Contains(s.String(), "quick") || !strings.Contains(s.String(), "256 training images") {
		t.Errorf("String() = %q", s)
	}
	t.Setenv(lab.TrainEnv, "640")
	t.Setenv(lab.EpochsEnv, "3")
	if s, err = lab.RunSize(); err != nil || s.TrainImages != 640 || s.Epochs != 3 || s.TestImages != lab.QuickSize.TestImages {
		t.Errorf("overrides: %+v, %v", s, err)
	}
	if got := s.LRSteps(); !slices.Equal(got, []int{3}) {
		t.Errorf("LRSteps of 3 epochs = %v, want [3]", got)
	}
	if got := lab.QuickSize.LRSteps(); got != nil {
		t.Errorf("LRSteps of 1 epoch = %v, want none", got)
	}
	for _, c := range []struct{ env, v string }{
		{lab.QuickEnv, "maybe"}, {lab.TrainEnv, "10"}, {lab.TestEnv, "x"}, {lab.EpochsEnv, "0"},
	} {
		env, v := c.env, c.v
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, v)
			if _, err := lab.RunSize(); err == nil || !strings.Contains(err.Error(), env) {
				t.Errorf("%s=%s: error %v does not name the variable", env, v, err)
			}
		})
	}
}

// TestCenterLossGraph builds the graph of the first notebook and checks
// value and gradients.
func TestCenterLossGraph(t *testing.T) {
	b := lab.Blobs(3, 5, 0.3, 2)
	g := lab.NewGraph()
	x := lab.NewMatrix(g, lab.Float64, lab.WithShape(b.N, 2), lab.WithValue(lab.Matrix(b.N, 2, b.Points)))
	w := lab.NewMatrix(g, lab.Float64, lab.WithShape(2, 2), lab.WithName("W"), lab.WithValue(lab.Matrix(2, 2, []float64{1, 0.5, -0.5, 1})))
	bias := lab.NewVector(g, lab.Float64, lab.WithShape(2), lab.WithName("b"), lab.WithValue(lab.Vector([]float64{0.1, -0.2})))
	y := lab.NewVector(g, lab.Int, lab.WithShape(b.N), lab.WithValue(lab.Labels(b.Labels)))
	features := lab.Must(lab.AddBias(lab.Must(lab.Mul(x, w)), bias))
	centers, err := lab.NewCenters(b.K, 2, lab.Float64)
	if err != nil {
		t.Fatal(err)
	}
	copy(lab.Backing(centers.Tensor()), []float64{1, 1, -1, 0, 0, -1})
	lc := lab.Must(lab.CenterLoss(features, y, centers))
	if _, err := lab.Grad(lc, w, bias); err != nil {
		t.Fatal(err)
	}
	vm := lab.NewTapeMachine(g, lab.BindDualValues(w, bias), lab.TraceExec(), lab.WithWatchlist(features, lc))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}

	f := lab.Floats(features.Value())
	c := lab.CenterValues(centers)
	var want float64
	gradF := make([]float64, len(f)) // ∂L_C/∂f_i = (f_i − c_{y_i})/N
	for i, l := range b.Labels {
		for d := 0; d < 2; d++ {
			diff := f[2*i+d] - c[2*l+d]
			want += diff * diff
			gradF[2*i+d] = diff / float64(b.N)
		}
	}
	want /= 2 * float64(b.N)
	if got := lab.Scalar(lc.Value()); math.Abs(got-want) > 1e-12 {
		t.Errorf("L_C = %v, want %v", got, want)
	}
	// ∂L_C/∂W = xᵀ·∂L_C/∂f and ∂L_C/∂b = Σ_i ∂L_C/∂f_i.
	wantW, wantB := make([]float64, 4), make([]float64, 2)
	for i := 0; i < b.N; i++ {
		for r := 0; r < 2; r++ {
			for col := 0; col < 2; col++ {
				wantW[2*r+col] += b.Points[2*i+r] * gradF[2*i+col]
			}
		}
		wantB[0] += gradF[2*i]
		wantB[1] += gradF[2*i+1]
	}
	if e := lab.RelErr(lab.GradOf(w), wantW); e > 1e-12 {
		t.Errorf("∂L_C/∂W = %v, want %v", lab.GradOf(w), wantW)
	}
	if e := lab.RelErr(lab.GradOf(bias), wantB); e > 1e-12 {
		t.Errorf("∂L_C/∂b = %v, want %v", lab.GradOf(bias), wantB)
	}

	probe := lab.NewTapeMachine(g, lab.TraceExec(), lab.WithWatchlist(lc))
	defer probe.Close()
	lossAt := func() float64 {
		probe.Reset()
		if err := probe.RunAll(); err != nil {
			t.Fatal(err)
		}
		return lab.Scalar(lc.Value())
	}
	if e := lab.RelErr(lab.FiniteDiff(lossAt, lab.Backing(w.Value()), 1e-6), wantW); e > 1e-7 {
		t.Errorf("finite differences on W are %v from backprop", e)
	}

	if err := lab.ZeroGrads(w, bias); err != nil {
		t.Fatal(err)
	}
	if lab.MaxAbsDiff(lab.GradOf(w), make([]float64, 4)) != 0 {
		t.Errorf("gradient after ZeroGrads: %v", lab.GradOf(w))
	}
}

func TestValueHelpers(t *testing.T) {
	m := lab.Matrix(2, 1, []float64{1, 2})
	if got := lab.Floats(m); len(got) != 2 || got[1] != 2 {
		t.Errorf("Floats = %v", got)
	}
	lab.Backing(m)[0] = 5
	if m.Data().([]float64)[0] != 5 {
		t.Error("Backing is not live")
	}
	centers, err := lab.NewCenters(2, 1, lab.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if got := lab.CenterValues(centers); len(got) != 2 {
		t.Errorf("CenterValues = %v", got)
	}
	mustPanic(t, "Backing of float32", func() { lab.Backing(centers.Tensor()) })
	mustPanic(t, "Floats of ints", func() { lab.Floats(lab.Labels([]int{1})) })
	mustPanic(t, "Matrix of the wrong size", func() { lab.Matrix(2, 2, []float64{1}) })
	mustPanic(t, "Check of an error", func() { lab.Check(os.ErrNotExist) })
	lab.Check(nil)
}

func TestPlots(t *testing.T) {
	b := lab.Blobs(3, 20, 0.4, 3)
	scatter, err := lab.ScatterPlot(b.Points, b.Labels, b.Means, "blobs")
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, "ScatterPlot", scatter, 640, 640)
	path := [][]float64{make([]float64, 6), {1, 1, -1, 1, 0, -1}, b.Means}
	traj, err := lab.TrajectoryPlot(b.Points, b.Labels, path, b.Means, "trajectories")
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, "TrajectoryPlot", traj, 640, 640)
	grid, err := lab.GridPlot([]lab.Picture{scatter, traj, scatter}, 2)
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, "GridPlot", grid, 1280, 1280)

	for _, c := range []struct {
		name string
		f    func() (lab.Picture, error)
	}{
		{"odd coordinates", func() (lab.Picture, error) { return lab.ScatterPlot(b.Points[:3], b.Labels, nil, "") }},
		{"label 10", func() (lab.Picture, error) { return lab.ScatterPlot([]float64{0, 0}, []int{10}, nil, "") }},
		{"ragged path", func() (lab.Picture, error) {
			return lab.TrajectoryPlot(b.Points, b.Labels, [][]float64{{0, 0}, {0, 0, 1, 1}}, nil, "")
		}},
		{"odd means", func() (lab.Picture, error) { return lab.TrajectoryPlot(b.Points, b.Labels, nil, []float64{1}, "") }},
	} {
		if _, err := c.f(); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}

	features := []float64{0, 1, 1, 0, -1, -1}
	fp, err := lab.FeaturePlot(features, []int{0, 1, 2}, []float64{0, 0, 1, 1, -1, 0}, 2, "features")
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, "FeaturePlot", fp, 800, 800)
	if _, _, err := lab.PNGSize([]byte("GIF89a")); err == nil {
		t.Error("PNGSize accepted a GIF header")
	}

	// What a frontend without PNG support shows instead of the bytes.
	if got := fmt.Sprint(fp); got != "PNG 800x800" {
		t.Errorf("a FeaturePlot prints as %q, want \"PNG 800x800\"", got)
	}
	if got := fmt.Sprint(lab.Picture("GIF89a")); got != "6 bytes, not a PNG" {
		t.Errorf("a GIF header prints as %q", got)
	}
	if !bytes.Equal(fp.PNG(), fp) {
		t.Error("PNG does not return the picture's bytes")
	}
	shown := fp.SimpleRender()
	if b, _ := shown["image/png"].([]byte); !bytes.Equal(b, fp) || shown["text/plain"] != "PNG 800x800" || len(shown) != 2 {
		t.Errorf("SimpleRender gives %d entries, text %q", len(shown), shown["text/plain"])
	}
}

func checkPNG(t *testing.T, what string, b []byte, w, h int) {
	t.Helper()
	gw, gh, err := lab.PNGSize(b)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if gw != w || gh != h {
		t.Errorf("%s is %dx%d, want %dx%d", what, gw, gh, w, h)
	}
}

func TestRepoRootAndCheckpointPath(t *testing.T) {
	root, err := lab.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	want, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if root != want {
		t.Errorf("RepoRoot = %s, want %s", root, want)
	}
	for _, c := range []struct {
		env, name, run string
		path           func() string
	}{
		{lab.CheckpointEnv, "CheckpointPath", "default", lab.CheckpointPath},
		{lab.SoftmaxCheckpointEnv, "SoftmaxCheckpointPath", "softmax", lab.SoftmaxCheckpointPath},
	} {
		t.Setenv(c.env, "")
		if got := c.path(); got != filepath.Join(root, "runs", c.run, "checkpoint.safetensors") {
			t.Errorf("%s = %s", c.name, got)
		}
		t.Setenv(c.env, "/some/where.safetensors")
		if got := c.path(); got != "/some/where.safetensors" {
			t.Errorf("%s with %s set = %s", c.name, c.env, got)
		}
	}

	t.Chdir(t.TempDir())
	if _, err := lab.RepoRoot(); err == nil {
		t.Error("RepoRoot found a checkout outside the repository")
	}
	t.Setenv(lab.CheckpointEnv, "")
	if got := lab.CheckpointPath(); got != filepath.FromSlash(lab.DefaultCheckpoint) {
		t.Errorf("CheckpointPath outside a checkout = %s", got)
	}
}

func TestFileExists(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if !lab.FileExists(f) || lab.FileExists(dir) || lab.FileExists(filepath.Join(dir, "none")) {
		t.Error("FileExists is wrong about a file, a folder or a missing path")
	}
}

func TestProgressAndEpochLine(t *testing.T) {
	var buf bytes.Buffer
	p := lab.Progress(&buf, 4, 2)
	for s := 1; s <= 5; s++ {
		p(s, 5, lab.StepResult{Loss: 1, Correct: 2})
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "step 2/5") || !strings.Contains(lines[2], "step 5/5  loss 1.0000  train acc 0.5000") {
		t.Errorf("progress:\n%s", buf.String())
	}
	line := lab.EpochLine(1, 2, lab.EpochResult{Loss: 1.5, Softmax: 1, Center: 5, Acc: 0.5}, lab.EvalResult{Acc: 0.75, Intra: 0.5, Inter: 2}, 3)
	want := "epoch 1/2  loss 1.5000 (softmax 1.0000, center 5.0000)  train acc 0.5000  test acc 0.7500  intra 0.500  inter 2.000  3s"
	if line != want {
		t.Errorf("EpochLine = %q, want %q", line, want)
	}
}

// TestTrain trains LeNet++ for one tiny epoch through the helpers the
// notebooks use.
func TestTrain(t *testing.T) {
	if testing.Short() {
		t.Skip("trains LeNet++")
	}
	trainSet, err := lab.LoadMNIST("train", 16)
	if err != nil {
		t.Fatal(err)
	}
	testSet, err := lab.LoadMNIST("test", 10)
	if err != nil {
		t.Fatal(err)
	}
	h := lab.DefaultHyper()
	h.Batch = 8
	tr, err := lab.NewTrainer(h)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var log bytes.Buffer
	ev, err := lab.Train(tr, trainSet, testSet, 1, &log)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Features) != 2*testSet.N || !strings.HasPrefix(log.String(), "epoch 1/1  loss ") || tr.Epoch != 1 {
		t.Errorf("after one epoch: %d feature values, epoch %d, log %q", len(ev.Features), tr.Epoch, log.String())
	}
	if _, err := lab.Train(tr, trainSet, testSet, 0, nil); err == nil {
		t.Error("training for 0 epochs did not fail")
	}
	if lab.BLAS() == "" {
		t.Error("BLAS() is empty")
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}
