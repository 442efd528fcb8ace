package verify

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestAUCByHand: same pairs score 0.9 and 0.7, different ones 0.8 and 0.1.
// Of the four (same, different) combinations, 0.9>0.8, 0.9>0.1 and 0.7>0.1
// are ordered right and 0.7<0.8 is not: AUC = 3/4. A tie counts 1/2.
func TestAUCByHand(t *testing.T) {
	for _, c := range []struct {
		scores []float64
		same   []bool
		want   float64
	}{
		{[]float64{0.9, 0.8, 0.7, 0.1}, []bool{true, false, true, false}, 0.75},
		{[]float64{1, 2}, []bool{true, false}, 0},
		{[]float64{2, 1}, []bool{true, false}, 1},
		{[]float64{1, 1}, []bool{true, false}, 0.5},
	} {
		got, err := auc(c.scores, c.same)
		if err != nil || math.Abs(got-c.want) > 1e-12 {
			t.Errorf("auc(%v, %v) = %v, %v; want %v", c.scores, c.same, got, err, c.want)
		}
	}
	if _, err := auc([]float64{1, 2}, []bool{true, true}); err == nil {
		t.Error("auc with no different pairs: no error")
	}
}

// TestBestThresholdByHand: scores 0.1 (diff), 0.4 (same), 0.5 (diff),
// 0.8 (same), 0.9 (same). Thresholds: below all -> 3/5 right; between 0.1
// and 0.4 -> 4/5; between 0.4 and 0.5 -> 3/5; between 0.5 and 0.8 -> 4/5
// (first best kept). The best is 0.25, the midpoint of 0.1 and 0.4.
func TestBestThresholdByHand(t *testing.T) {
	got := bestThreshold([]float64{0.8, 0.1, 0.5, 0.9, 0.4}, []bool{true, false, false, true, true})
	if math.Abs(got-0.25) > 1e-12 {
		t.Errorf("best threshold %v, want 0.25", got)
	}
}

// TestVerifySeparable: perfectly separated scores give accuracy 1 and AUC 1
// in every fold; flipping one label in a fold of 2 costs 1/2 there.
func TestVerifySeparable(t *testing.T) {
	scores := []float64{0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.95, 0.05}
	same := []bool{true, false, true, false, true, false, true, false}
	v, err := Verify(scores, same, 4)
	if err != nil {
		t.Fatal(err)
	}
	if v.Accuracy != 1 || v.AUC != 1 || v.AccuracyStd != 0 {
		t.Errorf("separable: %+v, want accuracy 1, AUC 1, std 0", v)
	}
	if _, err := Verify(scores, same[:3], 4); err == nil {
		t.Error("mismatched lengths: no error")
	}
	if _, err := Verify(scores, same, 1); err == nil {
		t.Error("one fold: no error")
	}
}

func TestVerificationPairs(t *testing.T) {
	labels := []int{0, 0, 0, 1, 1, 2, 2, 2, 3}
	pairs, err := Pairs(labels, 5, 7, 42)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Pairs(labels, 5, 7, 42)
	seen := map[[2]int]bool{}
	nSame := 0
	for i, p := range pairs {
		if p != again[i] {
			t.Fatal("same seed gave other pairs")
		}
		if p.A == p.B || seen[[2]int{p.A, p.B}] {
			t.Errorf("pair %v repeats or pairs an image with itself", p)
		}
		seen[[2]int{p.A, p.B}] = true
		if p.Same != (labels[p.A] == labels[p.B]) {
			t.Errorf("pair %v: Same=%v but labels %d and %d", p, p.Same, labels[p.A], labels[p.B])
		}
		if p.Same {
			nSame++
		}
	}
	if len(pairs) != 12 || nSame != 5 {
		t.Errorf("%d pairs, %d same; want 12 and 5", len(pairs), nSame)
	}
	if _, err := Pairs([]int{0, 1}, 1, 0, 1); err == nil {
		t.Error("no digit with two images: no error")
	}
}

// TestScoresAndNearestCenter checks the cosine and distance scores and
// nearest-center accuracy against values worked out by hand.
func TestScoresAndNearestCenter(t *testing.T) {
	features := []float64{1, 0, 0, 2, 3, 3, 0, 0}
	s := CosineScores(features, 2, []Pair{{0, 1, false}, {0, 2, true}, {0, 3, false}})
	want := []float64{0, 1 / math.Sqrt(2), 0}
	for i := range want {
		if math.Abs(s[i]-want[i]) > 1e-12 {
			t.Errorf("cosine %d = %v, want %v", i, s[i], want[i])
		}
	}
	d := DistanceScores(features, 2, []Pair{{0, 1, false}, {0, 2, true}, {1, 3, false}, {2, 2, true}})
	// |(1,0)-(0,2)| = √5, |(1,0)-(3,3)| = √13, |(0,2)-(0,0)| = 2, and 0 to itself.
	for i, w := range []float64{-math.Sqrt(5), -math.Sqrt(13), -2, 0} {
		if math.Abs(d[i]-w) > 1e-12 {
			t.Errorf("distance score %d = %v, want %v", i, d[i], w)
		}
	}
	centers := []float64{1, 0, 0, 1} // class 0 at (1,0), class 1 at (0,1)
	// (1,0)->0 right, (0,2)->1 right, (3,3)->tie, first (0) wins: wrong for label 1, (0,0)->0.
	if got := NearestCenterAccuracy(features, []int{0, 1, 1, 0}, centers, 2); got != 0.75 {
		t.Errorf("nearest-center accuracy %v, want 0.75", got)
	}
}

// TestScoreCorrectPairs: 20 images, digits 0 and 1, ten each. Each
// digit's features lie on its own axis, so the cosine is 1 within a digit
// and 0 across, except for image 0: a 0 drawn on the 1 axis and classified
// as a 1. Every pair it is in is scored the wrong way round; without those
// pairs the cosine separates perfectly.
func TestScoreCorrectPairs(t *testing.T) {
	const n = 20
	labels := make([]int, n)
	features, predicted := make([]float64, 2*n), make([]int, n)
	for i := range labels {
		labels[i] = i % 2
		predicted[i] = labels[i]
		features[2*i+labels[i]] = 1 + float64(i)/10
	}
	features[0], features[1], predicted[0] = 0, 1, 1
	centers := []float64{1, 0, 0, 1}

	s, err := Score(features, predicted, labels, centers, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := 20 * 19 / 40; s.Pairs != want {
		t.Fatalf("%d pairs of each kind, want %d", s.Pairs, want)
	}
	pairs, err := Pairs(labels, s.Pairs, s.Pairs, Seed)
	if err != nil {
		t.Fatal(err)
	}
	withImage0 := 0
	for _, p := range pairs {
		if p.A == 0 || p.B == 0 {
			withImage0++
		}
	}
	if withImage0 == 0 {
		t.Fatal("no pair holds image 0; the case tests nothing")
	}
	if s.NearestCenterAcc != 0.95 {
		t.Errorf("nearest-center accuracy %v, want 19/20", s.NearestCenterAcc)
	}
	if s.Verification.AUC >= 1 {
		t.Errorf("all pairs, cosine: AUC %v, want below 1 (image 0's pairs are scored backwards)", s.Verification.AUC)
	}
	if s.CorrectPairs != len(pairs)-withImage0 {
		t.Errorf("%d pairs with both images classified right, want %d", s.CorrectPairs, len(pairs)-withImage0)
	}
	if v := s.VerificationCorrect; v == nil || math.Abs(v.Accuracy-1) > 1e-12 || v.AUC != 1 {
		t.Errorf("pairs classified right, cosine: %+v, want accuracy 1 and AUC 1", v)
	}
	if !strings.Contains(s.String(), fmt.Sprintf("the %d pairs whose two images are classified right", s.CorrectPairs)) {
		t.Errorf("log lines %q do not give the pairs classified right", s.String())
	}

	// A classifier that calls every image a 0 is right only on same pairs
	// of 0s: nothing to verify, and no error.
	for i := range predicted {
		predicted[i] = 0
	}
	s, err = Score(features, predicted, labels, centers, 2)
	if err != nil || s.VerificationCorrect != nil {
		t.Errorf("one kind of pair classified right: %+v, %v; want no verification and no error", s.VerificationCorrect, err)
	}
	if strings.Contains(s.String(), "classified right") {
		t.Errorf("log lines %q give a verification that was not measured", s.String())
	}
	if _, err := Score(features, predicted, labels[:19], centers, 2); err == nil {
		t.Error("19 labels for 20 features: no error")
	}
}
