"""The training loop: d2l's `train_ch3`, with the data held in memory as tensors.

Each split is one uint8 tensor; a batch is a shuffled index into it, converted to float in [0, 1] on the fly
(what ToTensor does per image, done per batch). No DataLoader, no workers, no per-image Python.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from tqdm import tqdm

from mlp_exp import MKL_LIBRARY_LOADED, checkpoint, data, interrupt, mkl_on_amd
from mlp_exp.advice import (
    Hints,
    say_before_training,
    say_goes_on_otherwise,
    say_too_many_threads,
    what_to_lower,
)
from mlp_exp.config import ConfigError, Device, check, flat_hparams, hidden_widths
from mlp_exp.cores import waited_s
from mlp_exp.exits import EXIT_DIVERGED, EXIT_USER_ERROR, OneLineError, exit_code_for
from mlp_exp.files import WRITE_ERRNOS, resume_command
from mlp_exp.lock import only_process_in
from mlp_exp.model import MLP, cross_entropy
from mlp_exp.optim import Optimizer, describe, make_optimizer
from mlp_exp.records import CHECKPOINT_FILE, Status, a_sweeps_job, metric_text, read_metrics, record_failure
from mlp_exp.run_dirs import refuse_used_run_dir
from mlp_exp.tracking import Tracker
from mlp_exp.visuals import Visuals

log = logging.getLogger(__name__)

NUM_INPUTS = 28 * 28
# Test examples per forward pass: large enough for efficient matmuls, small enough to bound the activations held at
# once (2 MB at 256 hidden units), however wide the net or large the test set.
EVAL_CHUNK = 2048


class Diverged(OneLineError, RuntimeError):
    """The training loss became NaN or infinite."""

    exit_code = EXIT_DIVERGED


def pick_device(device: Device, fix: str = "use device=cpu or device=auto") -> torch.device:
    if device is Device.cuda and not torch.cuda.is_available():
        raise ConfigError(f"device=cuda is not allowed: no CUDA GPU is visible here; {fix}")
    if device is Device.auto:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device.value)


def as_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 784) -> float32 in [0, 1], as torchvision's ToTensor scales."""
    return images.div(255)  # true division makes float32 in one pass; to() then div_() takes two


def batches(
    train_set: data.Split, batch_size: int, shuffle: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The training set in a new order drawn from `shuffle`, as batches (X (B, 784) in [0, 1], y (B,))."""
    order = torch.randperm(len(train_set), generator=shuffle).to(train_set.labels.device)
    labels = train_set.labels[order]  # one gather per epoch, not one per batch
    for start in range(0, len(train_set), batch_size):
        rows = order[start : start + batch_size]
        yield as_float(train_set.images.index_select(0, rows)), labels[start : start + batch_size]


def diverged(epoch: int, train_loss: float, cfg: DictConfig) -> Diverged:
    return Diverged(f"training diverged at epoch {epoch} (train loss {train_loss}); {what_to_lower(cfg)}")


def train_epoch(
    net: MLP,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: Optimizer,
    train_set: data.Split,
    batch_size: int,
    shuffle: torch.Generator,
    progress: tqdm,
) -> tuple[float, float]:
    """One pass over the shuffled training set; returns (mean per-example loss, accuracy).

    `loss` must average over the examples (as `cross_entropy` and nn.CrossEntropyLoss do): the epoch's loss is
    that over all its outputs at once.
    """
    net.train()
    # Each batch's output and labels, for the epoch's loss and accuracy in a few ops at its end instead of ~6 per
    # batch; no sync per batch. n x num_classes floats: 2.4 MB for Fashion-MNIST.
    outputs, targets = [], []
    for X, y in batches(train_set, batch_size, shuffle):
        y_hat = net(X)  # (B, num_classes)
        l = loss(y_hat, y)  # mean over the batch
        optimizer.zero_grad()
        l.backward()
        optimizer.step()
        outputs.append(y_hat.detach())
        targets.append(y)
        progress.update(len(y))
    y_hat, y = torch.cat(outputs), torch.cat(targets)  # (n, num_classes), (n,)
    # The mean of the per-example losses each step saw, as train_ch3 reports.
    return loss(y_hat, y).item(), (y_hat.argmax(dim=1) == y).sum().item() / len(y)


def new_net(cfg: DictConfig, device: torch.device) -> tuple[MLP, Optimizer]:
    """The network `cfg` describes, its weights drawn from `cfg.seed`, and its optimizer."""
    torch.manual_seed(cfg.seed)
    widths = hidden_widths(cfg.hiddens)
    try:
        net = MLP(NUM_INPUTS, widths, len(cfg.dataset.classes), cfg.activation, cfg.init_scale)
        net.to(device)
    except (RuntimeError, MemoryError) as e:  # torch's allocators raise RuntimeError (CPU) or its OutOfMemoryError
        too_big = ("can't allocate memory", "Storage size calculation overflowed")  # the latter: above 2**63 bytes
        if not isinstance(e, (MemoryError, torch.OutOfMemoryError)) and not any(text in str(e) for text in too_big):
            raise
        raise ConfigError(
            f"hiddens={cfg.hiddens} is not allowed here: its weights do not fit in this machine's {device.type} "
            "memory; use smaller hidden widths"
        ) from e
    return net, make_optimizer(cfg.optimizer, cfg.lr, list(net.parameters()))


def accuracy(y_pred: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of predicted classes (N,) that are the labels (N,)."""
    return (y_pred == labels).sum().item() / len(labels)


@torch.inference_mode()
def predict(net: MLP, X: torch.Tensor) -> torch.Tensor:
    """float images (N, 784) -> the predicted class of each (N,)."""
    net.eval()
    return torch.cat([net(X[start : start + EVAL_CHUNK]).argmax(dim=1) for start in range(0, len(X), EVAL_CHUNK)])


def say_start(
    cfg: DictConfig,
    net: MLP,
    splits: tuple[data.Split, data.Split | None, data.Split],
    device: torch.device,
    done: list | None,
) -> None:
    """The line before the first step: what trains on what (`splits`: train, validation or None, test), and where;
    for a resumed run (`done`: the records of the epochs it has), from where."""
    doing = "Training"
    if done is not None and len(done) == cfg.epochs:  # stopped as its end was recorded, or its metrics.json lost
        doing = f"Resuming after epoch {len(done)}, its last, to finish the run's records:"
    elif done is not None:
        doing = f"Resuming after epoch {len(done)}:" if done else "Resuming from the start:"
    on = str(device)
    if device.type == "cpu":
        on = f"cpu (threads: {torch.get_num_threads()})"
        if MKL_LIBRARY_LOADED:
            on += f" with {mkl_on_amd.IN_USE}"
        elif hint := mkl_on_amd.not_built():
            on += f"; {hint}"
    log.info(
        "%s %s MLP (%s) on %s from %s: %s images, %s, lr %g, on %s",
        doing,
        "-".join(map(str, net.widths)),
        cfg.activation.name,
        cfg.dataset.name.name,
        data.cache_path(cfg.dataset).parent.absolute(),  # which copy: a dataset.root of one's own may hold others
        " / ".join(
            f"{len(split)} {name}" for name, split in zip(("train", "validation", "test"), splits) if split is not None
        ),
        describe(cfg.optimizer),
        cfg.lr,
        on,
    )


def say_interrupted(epochs_done: int, epochs: int, out_dir: Path) -> None:
    if epochs_done:
        log.warning(
            "Interrupted after %d of %d epochs; their records and checkpoint are in %s", epochs_done, epochs, out_dir
        )
    else:
        log.warning(
            "Interrupted in epoch 1 of %d, before any epoch was done, in %s; a resume starts it again", epochs, out_dir
        )


def _go_on_from(
    checkpoint_path: Path,
    cfg: DictConfig,
    hparams: dict[str, Any],
    device: torch.device,
    net: MLP,
    optimizer: Optimizer,
    shuffle: torch.Generator,
) -> list[dict[str, Any]]:
    """The net, optimizer and shuffle as the checkpoint left them, and on the CPU the threads the run trained with
    (unless threads= or resume --threads says otherwise); returns the records of the epochs done (none where no epoch
    was)."""
    if not checkpoint_path.exists():
        recorded = (read_metrics(checkpoint_path.parent) or {}).get("history")
        if isinstance(recorded, list) and recorded:  # the checkpoint was deleted, as a damaged one's error advises
            log.warning(
                "%s has no checkpoint to go on from: its %d recorded epoch%s trained again from epoch 1, in %s place",
                checkpoint_path.parent,
                len(recorded),
                "s are" if len(recorded) > 1 else " is",
                "their" if len(recorded) > 1 else "its",
            )
        return []
    done, trained_on, threads = checkpoint.restore(checkpoint_path, hparams, net, optimizer, shuffle)
    if trained_on not in (None, device.type):  # resume --device, or device=auto on another machine
        say_goes_on_otherwise(f"on {trained_on}", f"on {device.type}")
    elif threads and not cfg.threads and device.type == "cpu":  # e.g. a parallel sweep's job: its share of cores
        torch.set_num_threads(threads)  # the numbers of an uninterrupted run need the threads it trained on
        say_too_many_threads(threads, "restored")
    elif threads and device.type == "cpu" and cfg.threads != threads:  # resume --threads
        say_goes_on_otherwise(f"with {threads} thread{'s' * (threads > 1)}", f"with {cfg.threads}")
    return done


class RecordsNotWritten(OneLineError):
    """A run's records (metrics.json, its checkpoint, TensorBoard's events, pictures) could not be written: a full
    disk. The run is left resumable from its last whole epoch."""


def train(cfg: DictConfig, out_dir: Path, resume: bool = False) -> dict[str, Any]:
    """Train one run as `cfg` says, writing its records into `out_dir`; returns metrics.json's content.

    After each epoch the records and a checkpoint are written. With `resume`, the run in `out_dir` goes on
    from its checkpoint (from epoch 1 if it has none) to `cfg.epochs`, with the numbers an uninterrupted run gets;
    a run that completed is left as it is, and its metrics returned.

    Raises ConfigError, data.DataError or checkpoint.CheckpointError for a config, dataset or checkpoint that
    cannot be used (a resumed run's records then say it failed, and why), and lock.DirInUse for a run dir another
    process trains in (before any epoch runs); Diverged after recording the epoch whose loss was not finite, or at
    once for a resumed run that diverged; KeyboardInterrupt (Ctrl-C, or SIGTERM under interrupt.sigterm_raises)
    after recording `interrupted`.
    """
    check(cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    try:
        with only_process_in(out_dir):
            try:
                return _train(cfg, out_dir, resume)
            except Exception as e:
                if resume and exit_code_for(e) == EXIT_USER_ERROR:
                    with contextlib.suppress(OSError):  # a full disk: the error it failed on is what to say
                        record_failure(out_dir, str(e))
                raise
    finally:
        # A run's `threads` (or its checkpoint's) is its own: the next run in this process, a plain sweep's next
        # job, starts from the process's, as it would alone.
        torch.set_num_threads(threads)


def _completed_run(out_dir: Path, cfg: DictConfig) -> dict[str, Any] | None:
    """The records of the run in `out_dir` if it completed, which a resume leaves as they are (None if it did not);
    raises Diverged if it diverged, as it would again."""
    # Without metrics.json, or with an unreadable one, the checkpoint says where to go on.
    recorded = read_metrics(out_dir) or {}
    if recorded.get("status") == Status.diverged:
        raise Diverged(
            f"{out_dir} diverged and would diverge again if resumed; start a new run, and {what_to_lower(cfg)}"
        )
    if recorded.get("status") != Status.completed:
        return None
    log.info(
        "%s completed %s (test acc %.4f): nothing to resume; to train longer, start a new %s with more epochs",
        out_dir,
        "its 1 epoch" if recorded.get("epochs_done") == 1 else f"all its {recorded.get('epochs_done')} epochs",
        recorded.get("test_acc", math.nan),
        "sweep" if a_sweeps_job(out_dir) else "run",
    )
    return recorded


def _train(cfg: DictConfig, out_dir: Path, resume: bool) -> dict[str, Any]:
    """`train`'s work, in a run dir this process holds."""
    if resume and (completed := _completed_run(out_dir, cfg)):
        return completed
    device = pick_device(cfg.device)
    checkpoint_path = out_dir / CHECKPOINT_FILE
    if not resume:
        refuse_used_run_dir(out_dir)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
        say_too_many_threads(cfg.threads, "resumed" if resume else "given")
    elif device.type == "cpu" and not resume:  # a resumed run takes its checkpoint's (or says so)
        say_too_many_threads(torch.get_num_threads(), "default")
    train_set, test_set = data.load(cfg.dataset)
    train_set, val_set = data.hold_out(train_set, cfg.dataset.val_fraction)
    train_set, val_set, test_set = (
        None if split is None else split.to(device) for split in (train_set, val_set, test_set)
    )
    if not resume:
        say_before_training(cfg, len(train_set))

    # Evaluated every epoch, so scaled to float once (31 MB for Fashion-MNIST's 10000 images), not per epoch.
    test_X = as_float(test_set.images)  # (N_test, 784)
    val_X = None if val_set is None else as_float(val_set.images)  # (N_val, 784)
    net, optimizer = new_net(cfg, device)
    shuffle = torch.Generator().manual_seed(cfg.seed)
    hparams = flat_hparams(cfg)
    # The records of the epochs already trained, when resuming.
    done = _go_on_from(checkpoint_path, cfg, hparams, device, net, optimizer, shuffle) if resume else []

    tracker = Tracker(out_dir, hparams, resumed=done)
    # What the records keep if a bug or a full disk ends the run here: resumable, like a lost machine's run.
    status, disk_full = Status.running, False
    hints = Hints(cfg, train_set.labels, done, out_dir)
    try:  # from here on, metrics.json says `running`, and a Ctrl-C leaves a run that reads as interrupted
        visuals = Visuals(cfg.visuals, cfg.dataset.classes, tracker.writer, out_dir) if cfg.visuals.enabled else None
        say_start(cfg, net, (train_set, val_set, test_set), device, done if resume else None)
        for epoch in range(len(done) + 1, cfg.epochs + 1):
            started, waited_before = time.perf_counter(), waited_s() if device.type == "cpu" else None
            with tqdm(
                total=len(train_set), desc=f"epoch {epoch}/{cfg.epochs}", unit="ex", leave=False, disable=None
            ) as progress:
                train_loss, train_acc = train_epoch(
                    net, cross_entropy, optimizer, train_set, cfg.batch_size, shuffle, progress
                )
            val_acc = None if val_set is None else accuracy(predict(net, val_X), val_set.labels)
            y_pred = predict(net, test_X)  # (N_test,)
            test_acc = accuracy(y_pred, test_set.labels)
            epoch_s = time.perf_counter() - started
            waited = None if waited_before is None else waited_s() - waited_before
            record = {
                "epoch": epoch,
                "train_loss": train_loss,
                "train_acc": train_acc,
                **({} if val_acc is None else {"val_acc": val_acc}),
                "test_acc": test_acc,
                "epoch_s": epoch_s,
                "examples_per_s": len(train_set) / epoch_s,
            }
            if not math.isfinite(train_loss):
                status = Status.diverged  # before its records: a Ctrl-C while they are written must not hide it
            # The epoch's records, its checkpoint, its line in the log and its pictures: all of them or none (a
            # resume goes on after the epochs recorded, and the log then shows each epoch once). A signal inside
            # TensorBoard's writer could also leave its (non-reentrant) lock held, and closing the writer would then
            # wait for it forever. A signal that came meanwhile finds the last epoch's run completed.
            with interrupt.deferred():
                tracker.log_epoch(record)
                if status != Status.diverged:  # a NaN model is no place to resume from
                    checkpoint.save(checkpoint_path, hparams, net, optimizer, shuffle, tracker.history)
                log.info(
                    "epoch %2d/%d  train loss %s  train acc %.4f  %stest acc %.4f  (%.2f s)",
                    epoch,
                    cfg.epochs,
                    metric_text(train_loss),
                    train_acc,
                    "" if val_acc is None else f"val acc {val_acc:.4f}  ",
                    test_acc,
                    epoch_s,
                )
                if status != Status.diverged:
                    hints.after_epoch(record, waited)
                    if visuals:
                        visuals.log_epoch(epoch, net, test_set, y_pred, tracker.history, final=epoch == cfg.epochs)
                    if epoch == cfg.epochs:
                        status = Status.completed
            if status == Status.diverged:
                raise diverged(epoch, train_loss, cfg)
        if status != Status.completed and visuals:  # a resumed run whose last epoch was recorded, but not its pictures
            with interrupt.deferred():
                visuals.log_epoch(cfg.epochs, net, test_set, predict(net, test_X), tracker.history, final=True)
        status = Status.completed
    except OSError as e:
        if e.errno not in WRITE_ERRNOS:
            raise
        disk_full = True
        status = Status.interrupted  # a resume goes on from the last epoch whose records were all written
        raise RecordsNotWritten(
            f"cannot write the run's records in {out_dir} ({e.strerror}); free space there, then go on with: "
            f"{resume_command(out_dir)}"
        ) from e
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM under interrupt.sigterm_raises
        if status == Status.diverged:  # the Ctrl-C came while a diverged epoch's records were written
            raise diverged(epoch, train_loss, cfg) from None
        if status != Status.completed:  # a completed run's process is told so by train_reporting
            status = Status.interrupted
            say_interrupted(len(tracker.history), cfg.epochs, out_dir)
        raise
    finally:
        with interrupt.deferred():
            try:
                metrics = tracker.close(status)
            except OSError:
                if not disk_full:  # else the disk is full still, and the error above says so
                    raise
    return metrics
