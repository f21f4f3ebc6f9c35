"""What a run's dir and a sweep's dir hold, read and written without torch: the config Hydra saved with a run
(.hydra/), the sweep's (multirun.yaml), metrics.json with the run's status and history, its checkpoint's name, and the
tags and end status its TensorBoard event file has.
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from hydra.core.utils import setup_globals
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from tensorboard.plugins.hparams import api_pb2

from mlp_exp import config_errors
from mlp_exp.config import Config, ConfigError, first_line
from mlp_exp.files import atomic_write

# Hydra's record of a run: the config it composed (which resume trains again and compare reads), its own, and the
# overrides the run was given (written with the config before the run's first line: a job that failed before
# training has them alone).
RUN_CONFIG = Path(".hydra", "config.yaml")
HYDRA_RECORD = Path(".hydra", "hydra.yaml")
RUN_OVERRIDES = Path(".hydra", "overrides.yaml")
# The sweep's config, in its sweep dir, which `python -m mlp_exp.resume` runs again. Hydra's basic sweeper saves it
# there, the Optuna sweeper does not: sweep.SweepCallback saves it for every sweep.
SWEEP_FILE = "multirun.yaml"
METRICS_FILE = "metrics.json"
CHECKPOINT_FILE = "checkpoint.pt"
# The files of a run's pictures (visuals.py), written over any of the same name in its dir.
PICTURE_FILES = (
    "predictions.png",
    "confusion_matrix.png",
    "confusion_matrix.csv",
    "first_layer_weights.png",
    "learning_curves.png",
)


class Status(StrEnum):
    """metrics.json's `status`: how the run stands."""

    running = "running"  # training, or cut short with no word (a lost machine): a resume goes on from its checkpoint
    completed = "completed"
    diverged = "diverged"
    interrupted = "interrupted"  # by Ctrl-C or SIGTERM: a resume goes on from its checkpoint
    # A resume that ended on an error a user can fix (metrics.json's `error`: a damaged checkpoint, data gone): once
    # fixed, the next resume goes on from the checkpoint. compare also lists a sweep's job that failed before its
    # first epoch (no metrics.json, its error in its log) as failed.
    failed = "failed"


# The ends a resume leaves as they are; from any other status (or none, a run cut short before its first epoch's
# records), a resume goes on.
ENDED = (Status.completed, Status.diverged)

# metrics.json's `host`: where a `running` run trains, the only machine its process can be looked for on.
HOST = socket.gethostname()
# The TensorBoard tags of an epoch record's scalars (metrics.json's history), grouped as TensorBoard shows them; a
# scalar not named here goes to TensorBoard under its own key.
TAGS = {
    "train_loss": "train/loss",
    "train_acc": "train/acc",
    "val_acc": "val/acc",
    "test_acc": "test/acc",
    "epoch_s": "time/epoch_s",
    "examples_per_s": "time/examples_per_s",
}


# How a run that ended for good shows in the HParams tab. An interrupted or cut-short run gets no end record:
# TensorBoard keeps the first one it reads, so one here would hide the "completed" of a later resume.
SESSION_STATUS = {
    Status.completed: api_pb2.STATUS_SUCCESS,
    Status.diverged: api_pb2.STATUS_FAILURE,
}


def metric_text(value: float) -> str:
    """A metric as logs and tables show it: four decimals, unless a run on its way to diverge made it too big for
    them to be read (1e+30, not a 35-digit number)."""
    return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.4g}"


def run_overrides(run_dir: Path) -> list[str]:
    """The overrides the run in `run_dir` was given, as typed; none where their record is gone or damaged."""
    try:
        overrides = yaml.safe_load((run_dir / RUN_OVERRIDES).read_text())
    except (OSError, yaml.YAMLError):
        return []
    return [override for override in overrides if isinstance(override, str)] if isinstance(overrides, list) else []


def read_metrics(run_dir: Path) -> dict[str, Any] | None:
    """metrics.json of the run in `run_dir` (written when its training starts); None if it has none, or an
    unreadable one."""
    try:
        metrics = json.loads((run_dir / METRICS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return metrics if isinstance(metrics, dict) else None


def record_failure(run_dir: Path, error: str) -> None:
    """Mark the unfinished run in `run_dir` failed for `error`, which a resume of it ended on: its records would
    otherwise still say `interrupted`, and a sweep's table list it so. The next resume that trains clears it."""
    metrics = read_metrics(run_dir)
    if metrics and metrics.get("status") not in ENDED:
        rest = {key: value for key, value in metrics.items() if key not in ("status", "error")}
        write_json_atomic(run_dir / METRICS_FILE, {"status": Status.failed, "error": error, **rest})


def run_status(run_dir: Path) -> str | None:
    """metrics.json's status of the run in `run_dir`; None without a readable one."""
    return (read_metrics(run_dir) or {}).get("status")


def write_json_atomic(path: Path, data: Any) -> None:
    """Readers (a watching script, a sweep's compare) never see a half-written file."""
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(_finite_or_null(data), indent=2, allow_nan=False) + "\n")


def _finite_or_null(data: Any) -> Any:
    """A diverged run's NaN or infinite loss as null: json.dumps would write NaN, which is not JSON (jq rejects it)."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {key: _finite_or_null(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_finite_or_null(value) for value in data]
    return data


def a_sweeps_job(run_dir: Path) -> bool:
    """Whether `run_dir` is a job's dir of a sweep: its sweep dir, right above it, holds the sweep's record."""
    return (run_dir.parent / SWEEP_FILE).is_file()


def holds_a_run(directory: Path) -> bool:
    """Whether `directory` holds a run's records: its metrics.json (written as its training starts) or its
    checkpoint (after each epoch), either of which may have been deleted since."""
    return any((directory / name).exists() for name in (METRICS_FILE, CHECKPOINT_FILE))


def score(metrics: dict[str, Any]) -> float:
    """What a search maximises of a run's metrics.json: its final validation accuracy where it held out a validation
    set (dataset.val_fraction), else its final test accuracy."""
    return metrics["val_acc"] if "val_acc" in metrics else metrics["test_acc"]


def goes_on_with(run_dir: Path) -> Path:
    """The dir whose resume goes on with the run in `run_dir`: its sweep's, for a sweep's job."""
    return run_dir.parent if a_sweeps_job(run_dir) else run_dir


class NotARunDir(ConfigError):
    """A dir with no run of mlp_exp's in it (nor a sweep)."""


def load_run_config(run_dir: Path) -> DictConfig:
    """The config a run dir was made with, typed by the schema as Hydra typed it."""
    path = run_dir / RUN_CONFIG
    lost = [str(record) for record in (RUN_CONFIG, HYDRA_RECORD) if not (run_dir / record).is_file()]
    if lost and (run_dir / CHECKPOINT_FILE).is_file():  # a metrics.json alone may be a stray copy in a folder of runs
        raise ConfigError(
            f"{run_dir} holds a run without Hydra's record of it ({' and '.join(lost)}), which a resume goes on from; "
            "put it back from a copy of the run's dir, or start a new run"
        )
    if lost:
        raise NotARunDir(
            f"{run_dir} is not a run dir of mlp_exp (it has no .hydra/config.yaml and hydra.yaml), "
            f"nor a sweep dir (it has no {SWEEP_FILE})"
        )
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(Config), OmegaConf.load(path))
    except OmegaConfBaseException as e:
        raise ConfigError(f"{path}: {config_errors.one_line(e, [])}") from e
    except Exception as e:  # a file that is not YAML at all
        raise unreadable(path, e) from e
    if "${hydra:" in OmegaConf.to_yaml(cfg):  # `seed=${hydra:job.num}` in a sweep: resolved as the job resolved it
        # What else cannot be resolved, the run's own check names.
        with _hydra_resolver(run_dir), contextlib.suppress(OmegaConfBaseException):
            OmegaConf.resolve(cfg)
    return cfg


@contextlib.contextmanager
def _hydra_resolver(run_dir: Path) -> Iterator[None]:
    """Hydra's `${hydra:...}` resolver, reading the record Hydra saved with the run: Hydra's own reads state that
    exists only inside Hydra's job."""
    saved = hydra_record(run_dir)
    OmegaConf.register_new_resolver("hydra", lambda key: OmegaConf.select(saved, key), replace=True)
    try:
        yield
    finally:
        setup_globals()  # Hydra's own resolvers again, for a process that runs Hydra later (tests, a notebook)


def hydra_record(run_dir: Path) -> DictConfig:
    """The `hydra` node Hydra saved with the run (.hydra/hydra.yaml): its logging, the dir it started in, its job."""
    path = run_dir / HYDRA_RECORD
    try:
        hydra_cfg = OmegaConf.load(path).hydra
        if any(OmegaConf.select(hydra_cfg, key) is None for key in ("job_logging", "verbose", "runtime.cwd")):
            raise ValueError("not Hydra's record of a run")
    except Exception as e:  # not YAML, or not Hydra's record of a run
        raise unreadable(path, e) from e
    return hydra_cfg


def unreadable(path: Path, e: Exception) -> ConfigError:
    return ConfigError(f"cannot read {path} ({first_line(e)}); restore it from a copy")
