"""mlp_exp: d2l's multilayer perceptron from scratch as a configurable, sweepable, comparable experiment."""
