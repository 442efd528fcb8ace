// Package experiment is a training run as the trainer command makes it:
// [Run] loads MNIST or Fashion-MNIST, trains a [train.Trainer] with its
// loop, [train.Trainer.Fit], and attaches to it every output of a run:
// metrics.csv, the training curves, checkpoints, the feature plots of
// package plots and their animation, and at the end the exported features
// and summary.json, with the features scored by package verify.
// [Evaluate] scores and plots a checkpoint without training.
//
// The command-line trainer (cmd/train) and the results study (cmd/study)
// share it; programs that want the loop alone import package train, which
// draws nothing, and attach what they need: an [Output] is one epoch hook,
// and [Outputs] joins several.
package experiment
