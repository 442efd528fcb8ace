// Package verify measures deep features without the classifier that was
// trained on them: the accuracy of the nearest class center, and
// verification in the style of the paper's LFW test — pairs of images of
// one class and of two classes, told apart by the cosine (or the Euclidean
// distance) of their features, with a threshold chosen by 10-fold cross
// validation, and the ROC AUC.
package verify

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/floats"
)

// Pair is two images of a data set, by index, and whether they show the
// same digit.
type Pair struct {
	A, B int
	Same bool
}

// Pairs draws same pairs of the same digit and diff pairs of two
// different digits from labels, from seed alone, as the paper's LFW protocol
// draws pairs of faces. The pairs are distinct and never pair an image with
// itself, and come in random order.
func Pairs(labels []int, same, diff int, seed uint64) ([]Pair, error) {
	byClass := map[int][]int{}
	for i, l := range labels {
		byClass[l] = append(byClass[l], i)
	}
	var classes, multi []int
	for c, idx := range byClass {
		classes = append(classes, c)
		if len(idx) > 1 {
			multi = append(multi, c)
		}
	}
	sort.Ints(classes)
	sort.Ints(multi)
	if same > 0 && len(multi) == 0 {
		return nil, errors.New("verification pairs: no digit has two images")
	}
	if diff > 0 && len(classes) < 2 {
		return nil, errors.New("verification pairs: fewer than two digits")
	}
	// Cap the request by how many distinct pairs exist, so that the draw ends.
	n := float64(len(labels))
	if float64(same+diff) > n*(n-1)/4 {
		return nil, fmt.Errorf("verification pairs: %d pairs asked of only %d images", same+diff, len(labels))
	}
	rng := rand.New(rand.NewPCG(seed, 0x9a125))
	seen := map[[2]int]bool{}
	pairs := make([]Pair, 0, same+diff)
	add := func(a, b int, s bool) bool {
		if a > b {
			a, b = b, a
		}
		if a == b || seen[[2]int{a, b}] {
			return false
		}
		seen[[2]int{a, b}] = true
		pairs = append(pairs, Pair{a, b, s})
		return true
	}
	for tries := 0; len(pairs) < same; tries++ {
		if tries > 100*same {
			return nil, fmt.Errorf("verification pairs: could not draw %d distinct same-digit pairs", same)
		}
		idx := byClass[multi[rng.IntN(len(multi))]]
		add(idx[rng.IntN(len(idx))], idx[rng.IntN(len(idx))], true)
	}
	for tries := 0; len(pairs) < same+diff; tries++ {
		if tries > 100*diff {
			return nil, fmt.Errorf("verification pairs: could not draw %d distinct different-digit pairs", diff)
		}
		ca, cb := classes[rng.IntN(len(classes))], classes[rng.IntN(len(classes))]
		if ca == cb {
			continue
		}
		ia, ib := byClass[ca], byClass[cb]
		add(ia[rng.IntN(len(ia))], ib[rng.IntN(len(ib))], false)
	}
	// Mixed, so that contiguous folds hold both kinds.
	rng.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	return pairs, nil
}

// CosineScores returns the cosine similarity of the features (n×dim) of
// each pair; a zero feature scores 0.
func CosineScores(features []float64, dim int, pairs []Pair) []float64 {
	scores := make([]float64, len(pairs))
	for i, p := range pairs {
		a, b := features[p.A*dim:(p.A+1)*dim], features[p.B*dim:(p.B+1)*dim]
		var ab, aa, bb float64
		for j := range a {
			ab += a[j] * b[j]
			aa += a[j] * a[j]
			bb += b[j] * b[j]
		}
		if aa > 0 && bb > 0 {
			scores[i] = ab / math.Sqrt(aa*bb)
		}
	}
	return scores
}

// DistanceScores returns minus the Euclidean distance between the features
// (n×dim) of each pair, so that, as with CosineScores, a higher score means
// more alike. Unlike the cosine it sees the feature's length: it is the
// distance center loss shrinks within a class.
func DistanceScores(features []float64, dim int, pairs []Pair) []float64 {
	scores := make([]float64, len(pairs))
	for i, p := range pairs {
		scores[i] = -floats.Distance(features[p.A*dim:(p.A+1)*dim], features[p.B*dim:(p.B+1)*dim], 2)
	}
	return scores
}

// Result is how well a similarity score tells same pairs from
// different ones.
type Result struct {
	Accuracy    float64 `json:"accuracy"`     // mean over folds, threshold chosen on the other folds
	AccuracyStd float64 `json:"accuracy_std"` // standard deviation over folds
	AUC         float64 `json:"auc"`          // area under the ROC curve
}

// Verify measures scores against the truth same as the LFW protocol does:
// the pairs are split into folds contiguous groups (Pairs
// shuffles its pairs, so each fold holds both kinds); for each
// fold the threshold that classifies the other folds best (score >= t means
// same) is applied to it. AUC is the probability that a random same pair
// scores above a random different pair, ties counting one half.
func Verify(scores []float64, same []bool, folds int) (Result, error) {
	var v Result
	if len(scores) != len(same) {
		return v, fmt.Errorf("verify: %d scores for %d pairs", len(scores), len(same))
	}
	if folds < 2 || folds > len(scores) {
		return v, fmt.Errorf("verify: %d folds for %d pairs", folds, len(scores))
	}
	var err error
	if v.AUC, err = auc(scores, same); err != nil {
		return v, err
	}
	accs := make([]float64, folds)
	for f := range accs {
		lo, hi := f*len(scores)/folds, (f+1)*len(scores)/folds
		var ts []float64
		var tsame []bool
		ts = append(append(ts, scores[:lo]...), scores[hi:]...)
		tsame = append(append(tsame, same[:lo]...), same[hi:]...)
		t := bestThreshold(ts, tsame)
		correct := 0
		for i := lo; i < hi; i++ {
			if (scores[i] >= t) == same[i] {
				correct++
			}
		}
		accs[f] = float64(correct) / float64(hi-lo)
	}
	for _, a := range accs {
		v.Accuracy += a / float64(folds)
	}
	for _, a := range accs {
		v.AccuracyStd += (a - v.Accuracy) * (a - v.Accuracy) / float64(folds)
	}
	v.AccuracyStd = math.Sqrt(v.AccuracyStd)
	return v, nil
}

// How Score verifies: at most MaxPairs pairs of each kind, drawn with Seed,
// and a threshold chosen by Folds-fold cross validation.
const (
	MaxPairs = 6000
	Seed     = 1
	Folds    = 10
)

// Scores is how well a data set's features serve without the softmax
// layer: classified by the nearest class center, and used to tell
// pairs of images of one digit from pairs of two digits, as the paper
// verifies faces on LFW.
type Scores struct {
	// NearestCenterAcc classifies each image by its nearest center.
	NearestCenterAcc float64 `json:"nearest_center_acc"`
	// Pairs is the number of same-digit pairs, and of different-digit
	// pairs, verified.
	Pairs int `json:"verification_pairs"`
	// Verification scores the pairs by the cosine of their features, as
	// the paper does on LFW.
	Verification Result `json:"verification"`
	// VerificationEuclidean scores the same pairs by the Euclidean
	// distance of their features instead.
	VerificationEuclidean Result `json:"verification_euclidean"`
	// CorrectPairs counts the pairs whose two images the softmax
	// classifier gets right, and VerificationCorrect scores only those by
	// cosine: what the features get wrong besides the classifier's own
	// mistakes. It is nil when those pairs are fewer than the folds or
	// lack one kind.
	CorrectPairs        int     `json:"verification_correct_pairs"`
	VerificationCorrect *Result `json:"verification_correct,omitempty"`
}

// Score scores the deep features (n×dim) and predicted classes of a data
// set's n images, as train's Trainer.Evaluate gives them, against their
// labels and the class centers (k×dim). It draws min(6000, n(n-1)/40) pairs of each kind with a fixed
// seed, so every model is scored on the same pairs of a data set; a small
// set gets fewer, so that enough distinct ones exist.
func Score(features []float64, predicted, labels []int, centers []float64, dim int) (Scores, error) {
	var s Scores
	n := len(labels)
	if len(features) != n*dim || len(predicted) != n {
		return s, fmt.Errorf("verify: %d features of %d and %d predictions for %d labels", len(features), dim, len(predicted), n)
	}
	s.NearestCenterAcc = NearestCenterAccuracy(features, labels, centers, dim)
	s.Pairs = min(MaxPairs, n*(n-1)/40)
	pairs, err := Pairs(labels, s.Pairs, s.Pairs, Seed)
	if err != nil {
		return s, err
	}
	cosine := CosineScores(features, dim, pairs)
	same := make([]bool, len(pairs))
	var right []int // the pairs whose two images are classified right
	for i, p := range pairs {
		same[i] = p.Same
		if predicted[p.A] == labels[p.A] && predicted[p.B] == labels[p.B] {
			right = append(right, i)
		}
	}
	if s.Verification, err = Verify(cosine, same, Folds); err != nil {
		return s, err
	}
	if s.VerificationEuclidean, err = Verify(DistanceScores(features, dim, pairs), same, Folds); err != nil {
		return s, err
	}
	s.CorrectPairs = len(right)
	rs, rsame := make([]float64, len(right)), make([]bool, len(right))
	nSame := 0
	for j, i := range right {
		rs[j], rsame[j] = cosine[i], same[i]
		if same[i] {
			nSame++
		}
	}
	if len(right) >= Folds && nSame > 0 && nSame < len(right) {
		v, err := Verify(rs, rsame, Folds)
		if err != nil {
			return s, err
		}
		s.VerificationCorrect = &v
	}
	return s, nil
}

// String is the scores as the trainer's log prints them.
func (s Scores) String() string {
	out := fmt.Sprintf("nearest-center acc %.4f\nverification on %d+%d pairs: by cosine acc %.4f ± %.4f  AUC %.4f; by distance acc %.4f ± %.4f  AUC %.4f\n",
		s.NearestCenterAcc, s.Pairs, s.Pairs, s.Verification.Accuracy, s.Verification.AccuracyStd, s.Verification.AUC,
		s.VerificationEuclidean.Accuracy, s.VerificationEuclidean.AccuracyStd, s.VerificationEuclidean.AUC)
	if v := s.VerificationCorrect; v != nil {
		out += fmt.Sprintf("  of them the %d pairs whose two images are classified right: by cosine acc %.4f ± %.4f  AUC %.4f\n",
			s.CorrectPairs, v.Accuracy, v.AccuracyStd, v.AUC)
	}
	return out
}

// bestThreshold returns the threshold t maximising the accuracy of
// "score >= t means same": the midpoint between two neighbouring scores.
func bestThreshold(scores []float64, same []bool) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	// With t below every score all pairs are called same.
	correct := 0
	for _, s := range same {
		if s {
			correct++
		}
	}
	best, bestT := correct, math.Inf(-1)
	for k := 0; k < len(idx); {
		// Move every pair with this score to "different".
		j := k
		for j < len(idx) && scores[idx[j]] == scores[idx[k]] {
			if same[idx[j]] {
				correct--
			} else {
				correct++
			}
			j++
		}
		if correct > best {
			best = correct
			if j < len(idx) {
				bestT = (scores[idx[k]] + scores[idx[j]]) / 2
			} else {
				bestT = math.Inf(1)
			}
		}
		k = j
	}
	return bestT
}

// auc computes the area under the ROC curve from ranks (Mann-Whitney U).
func auc(scores []float64, same []bool) (float64, error) {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	var rankSum float64
	pos := 0
	for k := 0; k < len(idx); {
		j := k
		for j < len(idx) && scores[idx[j]] == scores[idx[k]] {
			j++
		}
		rank := float64(k+j+1) / 2 // mean of ranks k+1..j
		for _, i := range idx[k:j] {
			if same[i] {
				rankSum += rank
				pos++
			}
		}
		k = j
	}
	neg := len(scores) - pos
	if pos == 0 || neg == 0 {
		return 0, errors.New("verify: need both same and different pairs")
	}
	return (rankSum - float64(pos*(pos+1))/2) / float64(pos*neg), nil
}

// NearestCenterAccuracy classifies each feature (n×dim) by its nearest class
// center (k×dim) and returns the fraction that match labels.
func NearestCenterAccuracy(features []float64, labels []int, centers []float64, dim int) float64 {
	if len(labels) == 0 {
		return 0
	}
	k := len(centers) / dim
	correct := 0
	for i, l := range labels {
		x := features[i*dim : (i+1)*dim]
		best, arg := math.Inf(1), -1
		for c := 0; c < k; c++ {
			if d := floats.Distance(x, centers[c*dim:(c+1)*dim], 2); d < best {
				best, arg = d, c
			}
		}
		if arg == l {
			correct++
		}
	}
	return float64(correct) / float64(len(labels))
}
