// Package lab is everything the notebooks of this repository use, behind one
// import.
//
// The notebooks run in gophernotes, a Jupyter kernel built on the gomacro
// interpreter. gomacro compiles every third-party package a cell imports into
// a Go plugin; several such imports in one notebook are fragile (two plugins
// that share a dependency at different versions do not load together, and two
// packages imported in one cell that export interfaces of the same name do
// not build). The notebooks therefore import this package only, plus the
// standard library, and lab re-exports what they need from gorgonia, tensor
// and the packages centerloss, graph and train of this module, together with
// a few helpers written for the notebooks:
//
//   - gorgonia and tensor: aliases of the types (Node, ExprGraph, Dense, ...)
//     and thin wrappers of the functions a small graph needs (NewGraph,
//     NewMatrix, Mul, Grad, NewTapeMachine, ...);
//   - center loss: NewCenters, CenterLoss, CenterValues;
//   - toy data: Blobs, a few Gaussian clusters in the plane, and MiniBatch;
//   - checks: FiniteDiff, MaxAbsDiff, RelErr;
//   - training: LoadMNIST, DefaultHyper, NewTrainer, Progress, Train,
//     CheckpointPath, LoadCheckpoint;
//   - pictures, which a cell shows when it ends with one: ScatterPlot,
//     TrajectoryPlot, FeaturePlot, GridPlot, each a Picture;
//   - Table, a small Markdown table formatter;
//   - RunSize, the size of the notebook runs, set by environment variables
//     (CENTERLOSS_NOTEBOOK_QUICK=1 shrinks them to a smoke test).
//
// The exported API has no generic functions and no channels: the interpreter
// calls compiled code through reflection, which handles neither generic
// functions nor some of the newer language features. Functions that can fail
// return an error; Check turns one into a panic, which is the convenient form
// in a notebook cell.
package lab
