package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/centerloss-go/centerloss/experiment"
	"github.com/centerloss-go/centerloss/mnist"
	"github.com/centerloss-go/centerloss/train"
)

// TestPlanHasNoDuplicates counts the runs of each study: on MNIST 10
// lambda runs, 3 more alphas and 6 more D runs; on Fashion-MNIST 8 lambda
// runs and 6 more D runs.
func TestPlanHasNoDuplicates(t *testing.T) {
	for dataset, want := range map[string]int{mnist.Digits: 19, mnist.Fashion: 14} {
		seen := map[string]bool{}
		for _, r := range plan(dataset) {
			if seen[r.name()] {
				t.Errorf("%s: %s planned twice", dataset, r.name())
			}
			seen[r.name()] = true
		}
		if len(seen) != want {
			t.Errorf("%s: %d runs planned, want %d", dataset, len(seen), want)
		}
	}
}

// TestReportAggregatesSeeds writes two summaries for lambda 0.1 and checks
// the mean ± spread in the table: test accuracies 0.98 and 0.99 give
// 0.9850 ± 0.0050.
func TestReportAggregatesSeeds(t *testing.T) {
	dir := t.TempDir()
	for i, acc := range []float64{0.98, 0.99} {
		s := experiment.Summary{Epochs: 1, Final: train.Metrics{TestAcc: acc, Intra: 1, Inter: 2}}
		d := filepath.Join(dir, run{"lambda", 0.1, 0.5, 2, uint64(i + 1)}.name())
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := experiment.WriteJSON(filepath.Join(d, experiment.SummaryFile), s); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := report(dir, mnist.Digits, &out); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| 0.1 | 2 | 0.9850 ± 0.0050 |") {
		t.Errorf("results.md lacks the aggregated lambda 0.1 row:\n%s", md)
	}
	if !strings.Contains(string(md), "| 0 | 0 | not run yet |") {
		t.Errorf("results.md should mark runs not done:\n%s", md)
	}
}

func TestBadOnly(t *testing.T) {
	var out, errw bytes.Buffer
	if code := mainErr([]string{"-only", "beta", "-out", t.TempDir()}, &out, &errw); code != 2 {
		t.Errorf("-only beta: exit %d, want 2", code)
	}
}

// TestReportFlagTrainsNothing checks that -report writes the report from
// the finished runs without starting any training.
func TestReportFlagTrainsNothing(t *testing.T) {
	dir := t.TempDir()
	s := experiment.Summary{Epochs: 1, Final: train.Metrics{TestAcc: 0.97, Intra: 1, Inter: 2}}
	d := filepath.Join(dir, run{"lambda", 0, 0.5, 2, 1}.name())
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := experiment.WriteJSON(filepath.Join(d, experiment.SummaryFile), s); err != nil {
		t.Fatal(err)
	}
	var out, errw bytes.Buffer
	if code := mainErr([]string{"-report", "-out", dir}, &out, &errw); code != 0 {
		t.Fatalf("-report: exit %d: %s", code, errw.String())
	}
	if strings.Contains(out.String(), "==") {
		t.Errorf("-report started a run:\n%s", out.String())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 { // the one run (without plots, so no figure) and results.md
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("-report left %v in the folder", names)
	}
	md, err := os.ReadFile(filepath.Join(dir, "results.md"))
	if err != nil || !strings.Contains(string(md), "| 0 | 1 | 0.9700 |") {
		t.Errorf("results.md lacks the finished run (%v):\n%s", err, md)
	}
}

func TestParseShard(t *testing.T) {
	for _, s := range []string{"1/1", "1/2", "2/2", "3/5"} {
		if _, _, err := parseShard(s); err != nil {
			t.Errorf("parseShard(%q): %v", s, err)
		}
	}
	if k, n, _ := parseShard("2/3"); k != 2 || n != 3 {
		t.Errorf("parseShard(2/3) = %d, %d", k, n)
	}
	for _, s := range []string{"", "0/2", "3/2", "1/0", "1", "1/2x", "a/b", "-1/2"} {
		if _, _, err := parseShard(s); err == nil {
			t.Errorf("parseShard(%q) accepted", s)
		}
	}
	var out, errw bytes.Buffer
	if code := mainErr([]string{"-shard", "3/2", "-out", t.TempDir()}, &out, &errw); code != 2 || !strings.Contains(errw.String(), "-shard") {
		t.Errorf("-shard 3/2: exit %d, %q", code, errw.String())
	}
}

// TestFashionReport: the Fashion-MNIST report has its own lambdas and no
// alpha table.
func TestFashionReport(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := report(dir, mnist.Fashion, &out); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(md), "Alpha") || strings.Contains(string(md), "| 0.001 |") || !strings.Contains(string(md), "| 0.01 | 0 | not run yet |") {
		t.Errorf("Fashion-MNIST's report:\n%s", md)
	}
}

func TestBadDataset(t *testing.T) {
	var out, errw bytes.Buffer
	if code := mainErr([]string{"-dataset", "cifar", "-out", t.TempDir()}, &out, &errw); code != 2 || !strings.Contains(errw.String(), "-dataset") {
		t.Errorf("-dataset cifar: exit %d, stderr %q; want 2 naming the flag", code, errw.String())
	}
}
