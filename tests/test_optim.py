"""The hand-written optimizers follow torch.optim's update rules step for step."""

import pytest
import torch
from conftest import compose_cfg, options

from mlp_exp.config import OptimizerName
from mlp_exp.optim import OPTIMIZERS, describe, make_optimizer

CASES = [
    ("optimizer=sgd", lambda p: torch.optim.SGD(p, lr=0.1)),
    ("optimizer=sgd optimizer.weight_decay=0.01", lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.01)),
    ("optimizer=momentum", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    (
        "optimizer=momentum optimizer.weight_decay=0.01",
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
    ),
    ("optimizer=adam", lambda p: torch.optim.Adam(p, lr=0.1)),
    ("optimizer=adam optimizer.weight_decay=0.01", lambda p: torch.optim.Adam(p, lr=0.1, weight_decay=0.01)),
    ("optimizer=adamw", lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.01)),
]


def test_every_optimizer_is_written_out_and_checked_against_torch_optim():
    assert set(OPTIMIZERS) == set(OptimizerName)
    assert {overrides.split()[0] for overrides, _ in CASES} == {
        f"optimizer={option}" for option in options("optimizer")
    }


def params_and_grads(seed):
    torch.manual_seed(seed)
    shapes = [(6, 4), (4,), (4, 3), (3,)]
    params = [torch.nn.Parameter(torch.randn(s)) for s in shapes]
    grads = [[torch.randn(s) for s in shapes] for _ in range(5)]
    return params, grads


@pytest.mark.parametrize("overrides, reference", CASES, ids=[c[0] for c in CASES])
def test_matches_torch_optim_over_several_steps(overrides, reference):
    cfg = compose_cfg("lr=0.1", *overrides.split())
    ours, grads = params_and_grads(0)
    theirs, _ = params_and_grads(0)
    mine, torch_optimizer = make_optimizer(cfg.optimizer, cfg.lr, ours), reference(theirs)
    for step_grads in grads:
        for optimizer, params in ((mine, ours), (torch_optimizer, theirs)):
            optimizer.zero_grad()
            for p, g in zip(params, step_grads, strict=True):
                p.grad = g.clone()
            optimizer.step()
    for p, q in zip(ours, theirs, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_state_round_trips_so_a_restored_optimizer_continues_identically():
    cfg = compose_cfg("optimizer=adam", "lr=0.01")
    params, grads = params_and_grads(1)
    optimizer = make_optimizer(cfg.optimizer, cfg.lr, params)
    for p, g in zip(params, grads[0], strict=True):
        p.grad = g
    optimizer.step()
    saved = optimizer.state_dict()
    copy = [torch.nn.Parameter(p.detach().clone()) for p in params]
    restored = make_optimizer(cfg.optimizer, cfg.lr, copy)
    restored.load_state_dict(saved)
    for opt, ps in ((optimizer, params), (restored, copy)):
        for p, g in zip(ps, grads[1], strict=True):
            p.grad = g.clone()
        opt.step()
    for p, q in zip(params, copy, strict=True):
        assert torch.equal(p, q)


def test_the_run_names_its_optimizer_with_the_settings_that_change_the_rule():
    names = [describe(compose_cfg(f"optimizer={name}").optimizer) for name in ("sgd", "momentum", "adam", "adamw")]
    assert names == ["sgd", "sgd with momentum 0.9", "adam", "adamw with weight decay 0.01"]
