"""The optimizers, written out as d2l writes `sgd` from scratch, with torch.optim's exact update rules.

Why not torch.optim: constructing any torch.optim optimizer imports torch._dynamo, which costs 1.2 s, about
40% of a run's start-up on a 2-core machine. These rules are short; tests check each against torch.optim.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from mlp_exp.config import OptimizerConfig, OptimizerName


class Optimizer:
    """Holds the parameters and per-parameter state tensors; subclasses write `update`."""

    def __init__(self, params: list[nn.Parameter], lr: float, weight_decay: float) -> None:
        self.params = list(params)
        self.lr = lr
        self.weight_decay = weight_decay
        self.steps = 0
        self.state: dict[str, list[torch.Tensor]] = {}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        for i, p in enumerate(self.params):
            self.update(i, p, p.grad)

    def update(self, i: int, p: torch.Tensor, g: torch.Tensor) -> None:
        raise NotImplementedError

    def slot(self, name: str, i: int) -> torch.Tensor:
        """State tensor `name` of parameter i (a momentum or moment estimate), zeros at first."""
        slots = self.state.setdefault(name, [torch.zeros_like(p) for p in self.params])
        return slots[i]

    def state_dict(self) -> dict[str, Any]:
        """Plain data and tensors only, so checkpoints load with torch.load(weights_only=True)."""
        return {"steps": self.steps, "state": {name: list(slots) for name, slots in self.state.items()}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Raises ValueError for state that does not fit the parameters, before changing anything."""
        state = {name: [t.clone() for t in slots] for name, slots in state_dict["state"].items()}
        for name, slots in state.items():
            shapes, wanted = [tuple(t.shape) for t in slots], [tuple(p.shape) for p in self.params]
            if shapes != wanted:
                raise ValueError(f"optimizer state {name!r} has shapes {shapes}, the parameters {wanted}")
        self.steps = state_dict["steps"]
        self.state = state


class SGD(Optimizer):
    """p -= lr * v, with g' = g + weight_decay * p and v = momentum * v + g' (v = g' without momentum)."""

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay)
        self.momentum = momentum

    def update(self, i, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            v = self.slot("momentum", i)
            # torch.optim.SGD starts the buffer at the first gradient: 0 * momentum + g is the same.
            g = v.mul_(self.momentum).add_(g)
        p.add_(g, alpha=-self.lr)


class Adam(Optimizer):
    """Adam (Kingma & Ba), betas (0.9, 0.999), eps 1e-8; AdamW decays the weights directly instead of via g."""

    beta1, beta2, eps = 0.9, 0.999, 1e-8

    def __init__(self, params, lr: float, weight_decay: float = 0.0, decoupled: bool = False) -> None:
        super().__init__(params, lr, weight_decay)
        self.decoupled = decoupled

    def update(self, i, p, g):
        if self.weight_decay and self.decoupled:
            p.mul_(1 - self.lr * self.weight_decay)
        elif self.weight_decay:
            g = g + self.weight_decay * p
        m, v = self.slot("m", i), self.slot("v", i)
        m.lerp_(g, 1 - self.beta1)  # m = beta1 * m + (1 - beta1) * g
        v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)  # v = beta2 * v + (1 - beta2) * g^2
        m_correction = 1 - self.beta1**self.steps
        v_correction = 1 - self.beta2**self.steps
        # p -= lr * m_hat / (sqrt(v_hat) + eps), with the bias corrections m_hat = m / m_correction, ...
        denominator = (v.sqrt() / math.sqrt(v_correction)).add_(self.eps)
        p.addcdiv_(m, denominator, value=-self.lr / m_correction)


# Each optimizer of conf/optimizer/, by its name (a test checks that every OptimizerName has one).
OPTIMIZERS: dict[OptimizerName, Callable[[OptimizerConfig, float, list[nn.Parameter]], Optimizer]] = {
    OptimizerName.sgd: lambda cfg, lr, params: SGD(params, lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay),
    OptimizerName.adam: lambda cfg, lr, params: Adam(params, lr, weight_decay=cfg.weight_decay),
    OptimizerName.adamw: lambda cfg, lr, params: Adam(params, lr, weight_decay=cfg.weight_decay, decoupled=True),
}
# Those whose steps are about lr per weight, whatever the gradient's size: they want a far smaller lr than SGD.
ADAPTIVE = {OptimizerName.adam, OptimizerName.adamw}


def make_optimizer(cfg: OptimizerConfig, lr: float, params: list[nn.Parameter]) -> Optimizer:
    """The optimizer `cfg` names, stepping by the run's top-level `lr`."""
    return OPTIMIZERS[cfg.name](cfg, lr, params)


def describe(cfg: OptimizerConfig) -> str:
    """`sgd`, `sgd with momentum 0.9`, `adamw with weight decay 0.01`"""
    extras = [
        f"{name} {value:g}" for name, value in (("momentum", cfg.momentum), ("weight decay", cfg.weight_decay)) if value
    ]
    return cfg.name.name + (" with " + " and ".join(extras) if extras else "")
