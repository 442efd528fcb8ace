// Package train trains LeNet++ on MNIST with softmax cross-entropy plus
// center loss: it loads the data, runs the training loop (forward, backward,
// SGD step, center update), evaluates after every epoch and writes what a run
// produces.
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
package train
