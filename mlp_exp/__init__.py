"""mlp_exp: d2l's multilayer perceptron from scratch as a configurable, sweepable, comparable experiment."""

from mlp_exp import mkl_on_amd

# Here, before any of mlp_exp's modules imports torch.
MKL_LIBRARY_LOADED = mkl_on_amd.load()
