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
// to it as [Hooks] (package experiment attaches those of the trainer
// command). [SaveCheckpoint] and [LoadCheckpoint] keep a trainer in a file
// of package checkpoint and resume it exactly, mid-epoch too. The loop
// reads its images through [Data], a small interface that *mnist.Dataset
// implements and any other labelled set of 28×28 images can. The package
// draws nothing and reads no data set of its own.
package train
