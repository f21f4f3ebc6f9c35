"""What a run tells its user beyond its progress: the hints and warnings that name a cause and the knob to change
(a net that learns nothing, a step likely too big, threads that wait for cores), and the advice a diverged run ends
with."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import torch
from omegaconf import DictConfig

from mlp_exp.config import as_typed
from mlp_exp.cores import available
from mlp_exp.files import resume_command
from mlp_exp.model import ACTIVATIONS
from mlp_exp.optim import ADAPTIVE
from mlp_exp.records import a_sweeps_job, metric_text

log = logging.getLogger(__name__)

# From this many epochs on, a train loss above this fraction of guessing's (and an accuracy nearer guessing's than
# perfect) means the net learned little or nothing.
NOT_LEARNING_EPOCHS, NOT_LEARNING_FRACTION = 2, 0.95
# Above this lr, Adam's steps (about lr per weight, whatever the gradient) are likely too big for this net.
ADAM_LR_LIMIT = 0.01
# Above this share of an epoch's wall time spent waiting for a core by each of the run's threads (on average), and
# this many seconds by all of them, other processes are slowing the run down (`threads_stalled`); alone on its cores a
# run's threads wait ~1% of an epoch.
WAITED_SHARE, WAITED_S = 0.25, 0.5


def guessing(labels: torch.Tensor) -> tuple[float, float]:
    """The mean cross-entropy and the accuracy of a net that learned only each class's share of `labels`: their
    entropy (ln 10 for ten classes of one size), and the largest share (always guessing that class). A net that
    stays there learned nothing from the images."""
    shares = torch.bincount(labels).double() / len(labels)
    shares = shares[shares > 0]
    return -(shares * shares.log()).sum().item(), shares.max().item()


def what_to_lower(cfg: DictConfig) -> str:
    return f"lower {the_knobs_that_decide(cfg, 'the')}"


def the_knobs_that_decide(cfg: DictConfig, article: str) -> str:
    """The knobs that decide whether SGD learns, creeps or diverges, each with its value: `the learning rate (now
    lr=0.1), the initial weights' scale (now init_scale=0.01)`, and the weight decay where there is some."""
    knobs = [
        f"learning rate (now lr={as_typed(cfg.lr)})",
        f"initial weights' scale (now init_scale={as_typed(cfg.init_scale)})",
    ]
    if cfg.optimizer.weight_decay:
        knobs.append(f"weight decay (now optimizer.weight_decay={as_typed(cfg.optimizer.weight_decay)})")
    knobs = [f"{article} {knob}" for knob in knobs]
    return f"{', '.join(knobs[:-1])} or {knobs[-1]}"


def not_learning(record: dict[str, Any], guessed: tuple[float, float], epochs: int) -> bool:
    """Whether an epoch's record says the net learned little or nothing: from epoch NOT_LEARNING_EPOCHS on (in a
    shorter run, at its end), a train loss and accuracy still about those of `guessed` (`guessing`'s)."""
    guessing_loss, guessing_acc = guessed
    # The loss alone stays high in a net that learned but is overconfident (init_scale=1): the accuracy must also
    # be nearer guessing's than perfect.
    return (
        record["epoch"] >= min(NOT_LEARNING_EPOCHS, epochs)
        and record["train_loss"] > NOT_LEARNING_FRACTION * guessing_loss
        and record["train_acc"] < (guessing_acc + 1) / 2
    )


def say_not_learning(record: dict[str, Any], guessed: tuple[float, float], cfg: DictConfig) -> None:
    """The not-learning hint, with the usual causes named."""
    log.warning(
        # Not "little better than guessing": the loss may be far above guessing's (lr=1000), the accuracy above it.
        "After %d epoch%s the train loss %s and accuracy %.4f say the net has learned little or nothing (guessing "
        "from the classes' shares gives %.4f and %.4f); try %s",
        record["epoch"],
        "s" if record["epoch"] > 1 else "",
        metric_text(record["train_loss"]),
        record["train_acc"],
        *guessed,
        the_knobs_that_decide(cfg, "another"),
    )


def say_too_many_threads(threads: int, how: Literal["given", "resumed", "default", "restored"]) -> None:
    """A warning where `threads` are more than this process's cores: `given` (threads=), `resumed` with (its
    threads=, or resume --threads), torch's `default` (one per core it sees, where a CPU quota allows fewer), or
    `restored` from a resumed run's checkpoint."""
    cores = available()
    if threads <= cores:
        return
    said, fix = {
        "given": (f"threads={threads} is", f"threads={cores} fits them"),
        "resumed": (f"threads={threads} is", f"resume --threads {cores} fits them"),
        "default": (f"torch's default of {threads} threads (one per core it sees) is", f"threads={cores} fits them"),
        "restored": (
            f"The {threads} threads the run trained on are",
            (
                f"it goes on with them, as its numbers depend on them (resume --threads {cores} fits them, with "
                "slightly other numbers)"
            ),
        ),
    }[how]
    log.warning(
        "%s more than the %d core%s this process may use: the threads take turns on them, which makes each step "
        "slower; %s",
        said,
        cores,
        "s" if cores > 1 else "",
        fix,
    )


def say_threads_beside_jobs(threads: int, share: int) -> None:
    """A warning, as a parallel sweep starts, where its threads= is more than the share of the cores each of its jobs
    gets otherwise (sweep.threads_per_job): the jobs side by side would stall each other's threads."""
    if threads <= share:
        return
    log.warning(
        "threads=%d is more than each of the jobs that run side by side gets of the %d core%s this process may use "
        "(%d): their threads take turns on the cores, which makes each step slower; leave threads out, and each job "
        "takes its share",
        threads,
        cores := available(),
        "s" if cores > 1 else "",
        share,
    )


def threads_stalled(epoch_s: float, waited: float) -> bool:
    """Whether the run's threads spent on average more than WAITED_SHARE of an epoch waiting for a core (and WAITED_S
    between them), other processes being busy on them: torch runs each op on all its threads, and the op ends with
    its slowest thread, so a thread that waits stalls the step. Measured at 2 threads on 2 cores beside one to three
    busy processes: epochs 4-100x as long as alone, and 1.5-8x at 1 thread."""
    threads = torch.get_num_threads()
    if threads == 1 or waited / threads < WAITED_SHARE * epoch_s or waited < WAITED_S:  # one thread stalls no other
        return False
    return threads <= available()  # more threads than cores: warned about already


def say_waited(epoch: int, epoch_s: float, waited: float, go_on: str | None) -> None:
    """The warning where `threads_stalled`; `go_on`: the command that goes on with one thread after a Ctrl-C, where
    there is one."""
    log.warning(
        "Epoch %d took %.2f s, and this run's %d threads waited %.2f s between them for a core: other processes are "
        "busy on the %d cores, and each step waits for its slowest thread; threads=1 waits less%s",
        epoch,
        epoch_s,
        torch.get_num_threads(),
        waited,
        available(),
        f" (to go on with 1 thread, press Ctrl-C, then: {go_on})" if go_on else "",
    )


def say_goes_on_otherwise(trained: str, goes_on: str) -> None:
    """A resumed run that goes on on another device, or another number of threads, than it trained on."""
    log.warning(
        # Float sums in another order differ in their last digits, which each step then carries on: after a few
        # epochs the accuracies may differ in their third decimal.
        "The run trained %s and goes on %s: its numbers will differ slightly from those of a run that was never "
        "interrupted",
        trained,
        goes_on,
    )


def say_before_training(cfg: DictConfig, n_train: int) -> None:
    """The warnings a new run's config calls for before its first step (a resumed run had them at its start)."""
    say_big_adam_step(cfg)
    say_weights_start_alike(cfg)
    say_one_step_an_epoch(cfg.batch_size, n_train)


def say_big_adam_step(cfg: DictConfig) -> None:
    """Adam and AdamW with SGD's lr (`optimizer=adam` leaves lr at 0.1): a warning before the first step."""
    if cfg.optimizer.name in ADAPTIVE and cfg.lr > ADAM_LR_LIMIT:
        log.warning(
            "optimizer=%s with lr=%s: an adaptive optimizer (Adam's kind) moves each weight by about lr every step, "
            "whatever its gradient, so this step is likely too big; try lr=0.001",
            cfg.optimizer.name.name,
            as_typed(cfg.lr),
        )


def say_weights_start_alike(cfg: DictConfig) -> None:
    """init_scale=0, d2l's lesson on symmetry (section 5.4): a warning before the first step of what it will do."""
    if cfg.init_scale != 0:
        return
    if ACTIVATIONS[cfg.activation](torch.zeros(1)).item() == 0:  # every hidden output 0: no weight gets a gradient
        happens = f"with {cfg.activation.name}(0) = 0 no weight gets a gradient, and only the output bias learns"
    else:
        happens = "every hidden unit computes the same and gets the same update, so each layer stays one unit"
    log.warning("init_scale=0 starts every weight at zero: %s; init_scale=0.01 draws them at random", happens)


def say_one_step_an_epoch(batch_size: int, n_train: int) -> None:
    """A batch_size beyond the training set: each epoch takes one step, on the whole set, which a user who meant a
    large batch may not expect (10 epochs are then 10 steps)."""
    if batch_size > n_train:
        log.warning(
            "batch_size=%d is more than the %d training images: each epoch takes one step, on all of them (full-batch "
            "gradient descent, as batch_size=%d does); a smaller one takes more steps an epoch",
            batch_size,
            n_train,
            n_train,
        )


class Hints:
    """The hints an epoch's record can call for, each given once a run: that the net learns nothing (a resumed run's
    earlier epochs counting), that its threads wait for cores other processes keep busy (said again after a resume:
    the cores may be busy or free by then)."""

    def __init__(self, cfg: DictConfig, train_labels: torch.Tensor, done: list[dict[str, Any]], out_dir: Path) -> None:
        self.cfg, self.out_dir = cfg, out_dir
        self.guessed = guessing(train_labels)  # the train loss and accuracy of a net that learned nothing
        self.told_not_learning = any(not_learning(record, self.guessed, cfg.epochs) for record in done)
        self.told_waited = False

    def after_epoch(self, record: dict[str, Any], waited: float | None) -> None:
        """`waited`: the seconds the run's CPU threads spent waiting for a core in the epoch; None where unknown."""
        # From the first epoch that says so: a net can also fall back to guessing later (lr=1).
        if not self.told_not_learning and not_learning(record, self.guessed, self.cfg.epochs):
            say_not_learning(record, self.guessed, self.cfg)
            self.told_not_learning = True
        if not self.told_waited and waited is not None and threads_stalled(record["epoch_s"], waited):
            # A run's own resume can go on with 1 thread; a sweep's job (which its sweep resumes) or a last epoch cannot.
            last = record["epoch"] == self.cfg.epochs
            go_on = None if last or a_sweeps_job(self.out_dir) else resume_command("--threads", "1", self.out_dir)
            say_waited(record["epoch"], record["epoch_s"], waited, go_on)
            self.told_waited = True
