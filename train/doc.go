// Package train trains LeNet++ on MNIST with softmax cross-entropy plus
// center loss.
//
// A training step computes
//
//	L = L_S + lambda·L_C
//
// with L_S the mean softmax cross-entropy and L_C the center loss of package
// centerloss, backpropagates through the graph of package graph, updates the
// weights with [SGD] and then moves the class centers by the alpha rule.
// Evaluation runs a second graph that shares the weights but has no gradient
// nodes, so it cannot disturb training.
//
// [Trainer.Fit] is the loop: epochs of steps over shuffled batches, each
// followed by an evaluation; it writes nothing, and a run's outputs attach
// to it as [Hooks]. [Run] is that loop with everything the trainer command
// writes attached: metrics.csv, the training curves, checkpoints (files of
// package checkpoint, which [LoadCheckpoint] resumes exactly, mid-epoch
// too), the feature plots of package plots and the final exports and
// summary, with the features scored by package verify. The loop reads its images through [Data], a
// small interface that *mnist.Dataset implements and any other labelled
// set of 28×28 images can.
package train
