"""Benchmark: mlp_exp's training loop against the seed notebook's pipeline, the matmul floor, hand-written gradients.

    .venv/bin/python scripts/bench.py            # the full table (about 3 minutes on 2 cores)
    .venv/bin/python scripts/bench.py --quick    # a smoke run (about 30 s)

Per repeat it times one epoch of each pipeline in turn, (a), (b), (b'), (c), (d), so drift of the machine's
speed hits all five alike; the table shows medians over the repeats. Each pipeline keeps training its own model
across repeats, so after N repeats (a), (b), (b') and (d) have trained N epochs from the same initial weights,
and their test accuracies must agree: (a), (b) and (b') within seed noise, (a) and (d) up to float rounding.

(a) mlp_exp: `mlp_exp.train.train_epoch` + `predict` on the default config, data held as uint8 tensors.
(b) the seed notebook as its users run it: its own code for the model (parameters W1, b1, W2, b2, its relu
    `torch.max(X, zeros_like(X))`) and optimizer (torch.optim.SGD), fed by torchvision FashionMNIST + ToTensor +
    DataLoader (batch 256, shuffled, 4 workers, as d2l.load_data_fashion_mnist) and trained by d2l's
    train_epoch_ch3 / evaluate_accuracy, with d2l's accuracy and Accumulator; the notebook's sizes, scale and lr,
    which the default config keeps, and (a)'s initial weights. It runs in a process of its own, as the notebook's kernel is, and one with torch as it comes:
    without the settings mlp_exp gives its own processes (`tune_process` and mlp_exp/mkl_on_amd.py).
(b') (b)'s data pipeline and d2l loop feeding (a)'s model and optimizer, in a process with mlp_exp's settings:
    only the pipeline differs from (a).
(c) the floor: only the matrix multiplications an epoch needs (forward and backward of both layers for every
    training batch, forward for the test set), on the same shapes.
(d) (a) without autograd: the same batches, weights and shuffle, with the default model's gradients written out
    and each bias add and SGD update fused into its matrix product (torch.addmm): a lean hand-written eager loop,
    which trains the same weights as (a) up to float rounding. Not a way to train (one architecture, one
    optimizer); it shows how much of (a)'s time above the floor autograd and d2l's form of the ops take.
Then, from subprocesses: start-up (launch of `python -m mlp_exp` to its "Training ..." line, printed just
before the first step), and the wall time and peak RSS of whole default runs, with the pictures
(mlp_exp/visuals.py) and without them (`visuals.enabled=false`), alternating.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import multiprocessing
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from unittest import mock

import mlp_exp  # before torch, as in every mlp_exp run: mlp_exp/mkl_on_amd.py says why

# isort: split
import torch
from hydra import compose
from torch import nn
from tqdm import tqdm

from mlp_exp import config, data
from mlp_exp.config import Activation, OptimizerName, hidden_widths
from mlp_exp.model import cross_entropy, relu
from mlp_exp.process import tune_process
from mlp_exp.train import NUM_INPUTS, accuracy, as_float, batches, new_net, predict, train_epoch

REPO = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")
NOTEBOOK_BATCH_SIZE = 256
# The notebook's 4 DataLoader workers on fewer cores: torch warns so at each epoch's start, as it did in the
# notebook; (b) measures them as the notebook ran them, and the warning would bury the table.
warnings.filterwarnings("ignore", message="This DataLoader will create", category=UserWarning)
TARGETS = {"a/b": 15.0, "a/c": 1.5, "startup_s": 3.0, "run_s": 10.0, "rss_mb": 1000.0, "visuals_pct": 10.0}


def default_config():
    with config.composing():
        return compose(config_name="config", overrides=["device=cpu"])


class MlpExpPipeline:
    """(a): mlp_exp's own loop."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.train_set, self.test_set = data.load(cfg.dataset)
        self.test_X = as_float(self.test_set.images)  # as train() does, once
        self.net, self.optimizer = new_net(cfg, CPU)
        self.shuffle = torch.Generator().manual_seed(cfg.seed)

    def epoch(self) -> float:
        with tqdm(total=len(self.train_set), disable=True) as progress:
            train_epoch(
                self.net, cross_entropy, self.optimizer, self.train_set, self.cfg.batch_size, self.shuffle, progress
            )
        return accuracy(predict(self.net, self.test_X), self.test_set.labels)


def d2l_accuracy(y_hat, y):
    """d2l.accuracy, as d2l writes it: the number of correct predictions."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


class D2lAccumulator:
    """d2l.Accumulator: sums over n variables."""

    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def __getitem__(self, idx):
        return self.data[idx]


def check_default_model(cfg, pipeline: str) -> None:
    """(b) and (d) write out the default model's code: one relu hidden layer, plain SGD."""
    sgd = cfg.optimizer
    plain_sgd = sgd.name is OptimizerName.sgd and not (sgd.momentum or sgd.weight_decay)
    if len(hidden_widths(cfg.hiddens)) != 1 or cfg.activation is not Activation.relu or not plain_sgd:
        raise ValueError(f"{pipeline} writes out the default model: one relu hidden layer, plain SGD")


def notebook_model(cfg):
    """The seed notebook's model and optimizer cells, drawn after the seed (a) draws from: (a)'s initial weights."""
    check_default_model(cfg, "(b)")
    num_inputs, num_outputs, num_hiddens, scale, lr = 784, 10, 256, 0.01, 0.1  # the notebook's numbers
    defaults = (hidden_widths(cfg.hiddens), cfg.init_scale, cfg.lr, cfg.batch_size, len(cfg.dataset.classes))
    if defaults != ([num_hiddens], scale, lr, NOTEBOOK_BATCH_SIZE, num_outputs):
        raise ValueError("(b) is the notebook's model: the default config must keep its sizes, scale, lr and batch")
    torch.manual_seed(cfg.seed)
    W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens, requires_grad=True) * scale)
    b1 = nn.Parameter(torch.zeros(num_hiddens, requires_grad=True))
    W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs, requires_grad=True) * scale)
    b2 = nn.Parameter(torch.zeros(num_outputs, requires_grad=True))

    def relu(X):
        a = torch.zeros_like(X)
        return torch.max(X, a)

    def net(X):
        X = X.reshape(-1, num_inputs)
        H = relu(X @ W1 + b1)
        return H @ W2 + b2

    return net, torch.optim.SGD([W1, b1, W2, b2], lr=lr)


class SeedNotebookPipeline:
    """(b), or with `with_mlp_exp` (b'): the notebook's d2l pipeline, d2l's code reproduced here (the d2l package
    is not installed).

    d2l.train_ch3 also draws an Animator plot after each epoch; that is left out, as it is not the pipeline.
    """

    def __init__(self, cfg, with_mlp_exp: bool):
        import torchvision
        from torchvision import transforms

        data.find_raw_files(cfg.dataset)  # where torchvision looks: mlp_exp's cache alone may be left
        root = str(data.data_root(cfg.dataset))
        # d2l.load_data_fashion_mnist(batch_size): ToTensor in a Compose, 4 workers (d2l.get_dataloader_workers()).
        trans = transforms.Compose([transforms.ToTensor()])
        train = torchvision.datasets.FashionMNIST(root, train=True, transform=trans, download=False)
        test = torchvision.datasets.FashionMNIST(root, train=False, transform=trans, download=False)
        self.train_iter = torch.utils.data.DataLoader(train, NOTEBOOK_BATCH_SIZE, shuffle=True, num_workers=4)
        self.test_iter = torch.utils.data.DataLoader(test, NOTEBOOK_BATCH_SIZE, shuffle=False, num_workers=4)
        self.net, self.updater = new_net(cfg, CPU) if with_mlp_exp else notebook_model(cfg)
        self.loss = nn.CrossEntropyLoss(reduction="none")

    def epoch(self) -> float:
        # d2l.train_epoch_ch3, on the branch an optimizer object takes (torch.optim's, or mlp_exp's: the same rule)
        if isinstance(self.net, nn.Module):
            self.net.train()
        metric = D2lAccumulator(3)  # loss sum, correct, examples
        for X, y in self.train_iter:
            y_hat = self.net(X)
            l = self.loss(y_hat, y)
            self.updater.zero_grad()
            l.mean().backward()
            self.updater.step()
            metric.add(l.sum().item(), d2l_accuracy(y_hat, y), y.numel())  # d2l: float(l.sum()), which warns
        # d2l.evaluate_accuracy
        if isinstance(self.net, nn.Module):
            self.net.eval()
        metric = D2lAccumulator(2)  # correct, examples
        with torch.no_grad():
            for X, y in self.test_iter:
                metric.add(d2l_accuracy(self.net(X), y), y.numel())
        return metric[0] / metric[1]


class InOwnProcess:
    """Runs (b) or (b') in a process of its own, one epoch per call of `epoch`.

    (b) forks its DataLoader's workers every epoch; in (a)'s process each fork would leave (a)'s memory
    copy-on-write, and (a) would pay thousands of page faults in its next epoch that no mlp_exp run pays.
    """

    def __init__(self, with_mlp_exp: bool) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child_end = context.Pipe()
        self.process = context.Process(target=serve_epochs, args=(child_end, with_mlp_exp))
        # The child imports this script, and so mlp_exp, again: for (b), with the MKL library turned off.
        with mock.patch.dict(os.environ, {} if with_mlp_exp else {mlp_exp.mkl_on_amd.OFF_SWITCH: "0"}):
            self.process.start()
        child_end.close()  # so that a child that dies ends recv() with EOFError instead of a wait
        self.settings = self.connection.recv()  # sent once the pipeline is built: no timing includes its set-up

    def epoch(self) -> float:
        self.connection.send("epoch")
        return self.connection.recv()

    def close(self) -> None:
        self.connection.close()  # the child's recv() then raises EOFError, and it returns
        self.process.join()


def serve_epochs(connection, with_mlp_exp: bool) -> None:
    """InOwnProcess's child: builds the pipeline on the default config, then runs an epoch per request."""
    # A spawned child inherits "spawn" as its start method; a notebook's kernel has the platform's default (fork
    # on Linux), with which DataLoader workers start without importing torch again.
    multiprocessing.set_start_method(multiprocessing.get_all_start_methods()[0], force=True)
    # A terminal's Ctrl-C reaches this process too: the parent alone says it, and closing its end ends this one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if with_mlp_exp:
        tune_process()
    pipeline = SeedNotebookPipeline(default_config(), with_mlp_exp)
    connection.send(mlp_exp_settings())
    with contextlib.suppress(EOFError, BrokenPipeError):  # the parent closed its end, or ended
        while connection.recv() == "epoch":
            connection.send(pipeline.epoch())


def mlp_exp_settings() -> str:
    """Which of the settings mlp_exp gives its processes this one has."""
    settings = {"MKL library": mlp_exp.MKL_LIBRARY_LOADED, "tune_process": gc.get_freeze_count() > 0}
    return " and ".join(name for name, on in settings.items() if on) or "none"


class MatmulFloor:
    """(c): the epoch's matrix multiplications alone, on the weights of the model (a) trains, in their layouts."""

    def __init__(self, cfg, n_train: int, n_test: int):
        classes = len(cfg.dataset.classes)
        self.batches = [min(cfg.batch_size, n_train - start) for start in range(0, n_train, cfg.batch_size)]
        net, _ = new_net(cfg, CPU)
        self.W1, self.W2 = net.W1.detach(), net.W2.detach()  # W2 column-major, as mlp_exp.model explains
        self.X = torch.rand(cfg.batch_size, NUM_INPUTS)
        self.dO = torch.rand(cfg.batch_size, classes)
        self.X_test = torch.rand(n_test, NUM_INPUTS)

    def epoch(self) -> float:
        for b in self.batches:
            X, dO = self.X[:b], self.dO[:b]
            H = X @ self.W1  # (b, hidden)
            H @ self.W2  # (b, classes)
            dO.T @ H  # dW2.T: autograd computes a column-major W2's gradient in that layout, as its transpose
            dH = dO @ self.W2.T  # (b, hidden)
            X.T @ dH  # dW1
        self.X_test @ self.W1 @ self.W2
        return float("nan")


class HandWrittenGradients:
    """(d): (a)'s epoch with the default model's gradients written out: what is left without autograd."""

    def __init__(self, a: MlpExpPipeline):
        cfg = a.cfg
        check_default_model(cfg, "(d)")
        self.cfg, self.train_set, self.test_set, self.test_X = cfg, a.train_set, a.test_set, a.test_X
        self.net, _ = new_net(cfg, CPU)  # (a)'s initial weights, in (a)'s layouts
        self.shuffle = torch.Generator().manual_seed(cfg.seed)

    @torch.no_grad()
    def epoch(self) -> float:
        W1, b1, W2, b2 = self.net.W1, self.net.b1, self.net.W2, self.net.b2
        lr = self.cfg.lr
        for X, y in batches(self.train_set, self.cfg.batch_size, self.shuffle):  # (B, 784), (B,)
            Z = torch.addmm(b1, X, W1)  # (B, hidden)
            H = relu(Z)  # (B, hidden)
            # The mean cross-entropy's gradient by the logits: (softmax - one-hot) / B, (B, classes); the softmax
            # down the columns of the transpose, as mlp_exp.model.cross_entropy explains
            dO = torch.softmax(torch.addmm(b2, H, W2).T.contiguous(), dim=0).T
            dO[torch.arange(len(y)), y] -= 1
            dO /= len(y)
            # relu's: dH where Z > 0, else 0 (threshold's backward, the op autograd runs for it), (B, hidden)
            dZ = torch.ops.aten.threshold_backward(dO @ W2.T, Z, 0)
            W2.addmm_(H.T, dO, alpha=-lr)  # after dZ, which needs the W2 of this step
            b2.sub_(dO.sum(dim=0), alpha=lr)
            W1.addmm_(X.T, dZ, alpha=-lr)
            b1.sub_(dZ.sum(dim=0), alpha=lr)
        return accuracy(predict(self.net, self.test_X), self.test_set.labels)


def time_epochs(pipelines: dict, repeats: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    seconds = {name: [] for name in pipelines}
    accuracy = {}
    for _ in range(repeats):
        for name, pipeline in pipelines.items():
            started = time.perf_counter()
            accuracy[name] = pipeline.epoch()
            seconds[name].append(time.perf_counter() - started)
    return seconds, accuracy


def launch(*overrides: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mlp_exp", "device=cpu", *overrides],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def startup_seconds(run_dir: Path) -> float:
    """Launch to the line mlp_exp prints right before its first training step."""
    started = time.perf_counter()
    process = launch("epochs=1", f"hydra.run.dir={run_dir}")
    for line in process.stdout:
        if line.startswith("Training "):
            elapsed = time.perf_counter() - started
            break
    else:
        raise RuntimeError("mlp_exp never printed its 'Training ...' line")
    process.stdout.read()
    process.wait()
    return elapsed


def whole_run(run_dir: Path, epochs: int, *overrides: str) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MB, final test accuracy) of one `python -m mlp_exp` run."""
    # A small parent reports its child's peak RSS: a child forked from this big process would count the
    # pages it shares with it until its exec.
    measure = (
        "import resource, subprocess, sys, time; started = time.perf_counter(); "
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
        "print(code, time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    command = [
        sys.executable,
        "-m",
        "mlp_exp",
        "device=cpu",
        f"epochs={epochs}",
        f"hydra.run.dir={run_dir}",
        *overrides,
    ]
    output = subprocess.run(
        [sys.executable, "-c", measure, *command], cwd=REPO, capture_output=True, text=True, check=True
    )
    code, wall, rss_kb = output.stdout.split()
    if code != "0":
        raise RuntimeError(f"mlp_exp exited with {code}")
    test_acc = json.loads((run_dir / "metrics.json").read_text())["test_acc"]
    return float(wall), int(rss_kb) / 1024, test_acc


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    how_long = parser.add_mutually_exclusive_group()
    how_long.add_argument("--repeats", type=_positive_int, default=10, help="epochs timed per pipeline (default 10)")
    how_long.add_argument("--quick", action="store_true", help="2 repeats, 1 start-up probe, 2-epoch whole runs")
    args = parser.parse_args()
    # Whole runs vary by ~0.5 s with the host's load: five pairs keep the pictures' share (a ~0.4 s difference)
    # from swinging by more than a few percent.
    repeats, probes, run_pairs, run_epochs = (2, 1, 1, 2) if args.quick else (args.repeats, 3, 5, None)

    tune_process()  # as in every run's process: (a), (c) and (d) get it here, (b') in serve_epochs
    cfg = default_config()
    run_epochs = run_epochs or cfg.epochs
    a = MlpExpPipeline(cfg)
    # closing: a child left waiting for its next request would keep this process from exiting.
    with (
        contextlib.closing(InOwnProcess(with_mlp_exp=False)) as b,
        contextlib.closing(InOwnProcess(with_mlp_exp=True)) as b_prime,
    ):
        pipelines = {
            "a": a,
            "b": b,
            "b'": b_prime,
            "c": MatmulFloor(cfg, len(a.train_set), len(a.test_set)),
            "d": HandWrittenGradients(a),
        }
        seconds, accuracy = time_epochs(pipelines, repeats)
    median = {name: statistics.median(values) for name, values in seconds.items()}
    b_prime_s = median["b'"]

    with tempfile.TemporaryDirectory() as tmp:
        startup = statistics.median(startup_seconds(Path(tmp) / f"probe{i}") for i in range(probes))
        # Whole runs with and without the pictures (visuals), alternating; the medians give the pictures' share.
        with_visuals, without_visuals = [], []
        for i in range(run_pairs):
            with_visuals.append(whole_run(Path(tmp) / f"run{i}", run_epochs))
            without_visuals.append(whole_run(Path(tmp) / f"plain{i}", run_epochs, "visuals.enabled=false"))
        run_s = statistics.median(wall for wall, _, _ in with_visuals)
        visuals_pct = 100 * (run_s / statistics.median(wall for wall, _, _ in without_visuals) - 1)
        rss_mb = max(rss for _, rss, _ in with_visuals)
        run_acc = with_visuals[0][2]

    rows = [
        ("(a) mlp_exp epoch: train + test eval", f"{median['a']:.3f} s", ""),
        ("(b) seed notebook epoch, as it runs", f"{median['b']:.3f} s", ""),
        ("(b') its pipeline feeding (a)'s model", f"{b_prime_s:.3f} s", ""),
        ("(c) matmul floor per epoch", f"{median['c']:.3f} s", ""),
        ("speed-up b/a", f"{median['b'] / median['a']:.1f}x", f">= {TARGETS['a/b']:.0f}x"),
        ("speed-up b'/a (the pipeline alone)", f"{b_prime_s / median['a']:.1f}x", ""),
        ("(d) (a) without autograd, fused", f"{median['d']:.3f} s", ""),
        ("a/c (1.0 = at the floor)", f"{median['a'] / median['c']:.2f}", f"<= {TARGETS['a/c']}"),
        ("d/c (hand-written gradients)", f"{median['d'] / median['c']:.2f}", ""),
        ("start-up to first training step", f"{startup:.2f} s", f"<= {TARGETS['startup_s']:.0f} s"),
        (f"whole default run ({run_epochs} epochs), wall", f"{run_s:.2f} s", f"<= {TARGETS['run_s']:.0f} s"),
        ("whole default run, peak RSS", f"{rss_mb:.0f} MB", f"<= {TARGETS['rss_mb']:.0f} MB"),
        ("pictures' share of the whole run", f"{visuals_pct:+.1f}%", f"<= {TARGETS['visuals_pct']:.0f}%"),
        (
            f"test acc after {repeats} epochs: (a) / (b) / (b') / (d)",
            " / ".join(f"{accuracy[name]:.4f}" for name in ("a", "b", "b'", "d")),
            "agree",
        ),
        (f"test acc of the whole run ({run_epochs} epochs)", f"{run_acc:.4f}", ""),
    ]
    print(
        f"mlp_exp benchmark: {cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}"
    )
    print(
        "mlp_exp's process settings (the MKL library of mlp_exp/mkl_on_amd.py, tune_process of mlp_exp/process.py): "
        f"(a), (c), (d): {mlp_exp_settings()}; (b'): {b_prime.settings}; (b): {b.settings}"
    )
    print(f"default config, {repeats} repeats (medians); epoch times per repeat:")
    for name in pipelines:
        print(f"  {name}: " + " ".join(f"{s:.3f}" for s in seconds[name]))
    width, value_width = (max(len(row[column]) for row in rows) for column in (0, 1))
    print(f"\n| {'measure':<{width}} | {'value':>{value_width}} | {'target':>8} |")
    print(f"| {'-' * width} | {'-' * value_width}: | {'-' * 8} |")
    for label, value, target in rows:
        print(f"| {label:<{width}} | {value:>{value_width}} | {target:>8} |")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("Interrupted; no figures", file=sys.stderr)
        sys.exit(130)
