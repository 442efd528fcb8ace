// Package centerloss implements the center loss of Wen, Zhang, Li and Qiao,
// "A Discriminative Feature Learning Approach for Deep Face Recognition"
// (ECCV 2016), as a gorgonia operation.
//
// Softmax cross-entropy alone makes deep features separable but not
// discriminative: each class spreads out along a long streak. Center loss
// keeps one center c_j per class and pulls every feature x_i towards the
// center of its class y_i, so that each class forms a compact cluster.
//
// The centers are not parameters of the graph. They live in a [Centers]
// value, outside any graph; [Loss] reads their current values every time the
// graph runs, and [Centers.Update] moves them with the paper's alpha rule
// after each solver step. No gradient flows into the centers.
//
// # Normalisation
//
// For a mini-batch of N features, [Loss] computes the mean form
//
//	L_C = 1/(2N) Σ_i ||x_i - c_{y_i}||²
//	∂L_C/∂x_i = (x_i - c_{y_i}) / N
//
// which is what the authors' Caffe implementation (caffe-face) computes. The
// paper's Eq. 2 writes the sum form, L_C = 1/2 Σ_i ||x_i - c_{y_i}||², which is
// N times the value above, and Eq. 3 its gradient x_i - c_{y_i}. The mean form
// keeps the effect of a given lambda independent of the batch size; to match
// the sum form, multiply lambda by N.
//
// The weight lambda of the joint loss (the paper's Eq. 5) is applied by the
// caller, and does not affect the center update:
//
//	cost = L_S + lambda * L_C
//
// # Center update
//
// [Centers.Update] implements the paper's Eq. 4. For every class j present in
// the batch, with n_j samples,
//
//	Δc_j = Σ_{i: y_i=j} (c_j - x_i) / (1 + n_j)
//	c_j  ← c_j - alpha·Δc_j
//
// and classes absent from the batch do not move. Call it once per training
// step, after the solver step, with the features and labels of the batch.
//
// A TapeMachine may reuse the memory of an intermediate node for later
// instructions of the same run, so by the time RunAll returns the value of
// the features node can hold something else. Creating the machine with the
// options gorgonia.TraceExec() and gorgonia.WithWatchlist(features) makes it
// keep a copy of the features in the node; see the package example.
//
// [Centers.Stats] measures, without a graph, how compact the classes are
// (mean distance of a feature to its center) and how far apart the centers
// are (smallest distance between two centers).
//
// # Machines
//
// The operation built by [Loss] supports symbolic differentiation
// (gorgonia.Grad, then a TapeMachine) and automatic differentiation (a
// LispMachine). It works in float32 and float64; features and centers must
// share the dtype, and labels are a vector of tensor.Int.
package centerloss
