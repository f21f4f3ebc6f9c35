"""d2l's multilayer perceptron from scratch: explicit weight tensors and activations written from their formulas."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch
from torch import nn

from mlp_exp.config import Activation


def relu(X: torch.Tensor) -> torch.Tensor:
    """max(x, 0): x where x > 0, else 0.

    Written with threshold, whose derivative autograd computes in one fused op; clamp(X, min=0) computes the same
    values, but its derivative builds a boolean mask and selects with it, ~5% of a default epoch on CPU.
    """
    return torch.threshold(X, 0, 0)


def sigmoid(X: torch.Tensor) -> torch.Tensor:
    """1 / (1 + exp(-x))"""
    # Below -80 the true value is < 2e-35; the clamp keeps exp(-x) finite so its gradient is not inf * 0 = nan.
    return 1 / (1 + torch.exp(-torch.clamp(X, min=-80)))


def tanh(X: torch.Tensor) -> torch.Tensor:
    """(1 - exp(-2x)) / (1 + exp(-2x)), computed as 2 * sigmoid(2x) - 1, which is the same and cannot overflow."""
    return 2 * sigmoid(2 * X) - 1


def gelu(X: torch.Tensor) -> torch.Tensor:
    """x * Phi(x), Phi the standard normal CDF."""
    return 0.5 * X * (1 + torch.erf(X / math.sqrt(2)))


def leaky_relu(X: torch.Tensor) -> torch.Tensor:
    """max(x, 0.01 x)"""
    return torch.maximum(X, 0.01 * X)


def cross_entropy(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The mean over the batch of -log softmax(y_hat)[y], nn.CrossEntropyLoss's value: y_hat (B, classes) logits,
    y (B,) class indices.

    The log-softmax runs down the columns of y_hat's transpose: torch's CPU kernel along rows as short as ten
    classes takes ~10x as long as along columns (20 us against 2 us, and its gradient likewise, for a batch of
    256), ~4% of a default epoch (scripts/bench.py). The same values up to float rounding.
    """
    log_probs = torch.log_softmax(y_hat.T.contiguous(), dim=0).T  # (B, classes), a column-major view
    return nn.functional.nll_loss(log_probs, y)


ACTIVATIONS: dict[Activation, Callable[[torch.Tensor], torch.Tensor]] = {
    Activation.relu: relu,
    Activation.sigmoid: sigmoid,
    Activation.tanh: tanh,
    Activation.gelu: gelu,
    Activation.leaky_relu: leaky_relu,
}


class MLP(nn.Module):
    """num_inputs -> hiddens[0] -> ... -> hiddens[-1] -> num_outputs, parameters W1, b1, W2, b2, ...

    Each layer computes H @ W + b with W of shape (fan_in, fan_out): rows are examples, as in d2l.

    The output layer's W is stored column-major (the memory of its transpose), and autograd then computes its
    gradient in that layout too: for its few columns (one per class) MKL computes that gradient 2-3x faster that
    way, and H @ W as fast (AVX-512 kernels) or 2x faster (AVX2 kernels). ~2-5% of a default CPU epoch
    (scripts/bench.py); the values are the same up to float rounding.
    """

    def __init__(
        self,
        num_inputs: int,
        hiddens: list[int],
        num_outputs: int,
        activation: Activation,
        init_scale: float,
    ) -> None:
        super().__init__()
        self.num_inputs = num_inputs
        self.activation = ACTIVATIONS[activation]
        self.widths = [num_inputs, *hiddens, num_outputs]
        self.num_layers = len(self.widths) - 1
        for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(self.widths), start=1):
            W = torch.randn(fan_in, fan_out) * init_scale
            if layer == self.num_layers:
                W = W.T.contiguous().T
            self.register_parameter(f"W{layer}", nn.Parameter(W))
            self.register_parameter(f"b{layer}", nn.Parameter(torch.zeros(fan_out)))

    def layer(self, layer: int) -> tuple[nn.Parameter, nn.Parameter]:
        return getattr(self, f"W{layer}"), getattr(self, f"b{layer}")

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        H = X.reshape(-1, self.num_inputs)  # (batch, 784)
        for layer in range(1, self.num_layers):
            W, b = self.layer(layer)
            H = self.activation(H @ W + b)  # (batch, hiddens[layer - 1])
        W, b = self.layer(self.num_layers)
        return H @ W + b  # (batch, num_outputs): logits; the loss applies softmax
