"""`python -m mlp_exp.compare DIR`: the runs under DIR (one run, a sweep, or all of outputs/) side by side.

Reads each run's knobs, per-epoch metrics and how it ended from its metrics.json (the numbers its log printed), or
from its TensorBoard event file where that is missing. Prints the knobs all runs share (one run's: all of them),
then one row per run with the knobs that differ between runs, the final metrics and the status, completed runs
first and the best test accuracy first (validation accuracy, where every run held out a validation set), and where
runs differ in their seed, each setting's mean; and writes a PNG
with the final test accuracy against the swept knob next to each run's learning curves. A sweep job that failed
before training has no event file, only Hydra's record of it (.hydra/); it is listed as failed, with its error,
or as not started where its log names none. So is each job of a stopped sweep that never began (no dir at all),
as the sweep's multirun.yaml plans it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import re
import statistics
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml
from hydra import compose
from hydra._internal.config_loader_impl import get_overrides_dirname  # how Hydra names a job (hydra-core 1.3)
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from mlp_exp import interrupt
from mlp_exp.config import (
    RESTATING_HIDDENS,
    ConfigError,
    composing,
    flat_hparams,
    register,
    with_optimizer_rule,
)
from mlp_exp.exits import ends_as_told, fail
from mlp_exp.files import OneLineParser, atomic_write, command, not_a_directory, resume_command, say
from mlp_exp.lock import in_use
from mlp_exp.records import (
    HOST,
    HYDRA_RECORD,
    METRICS_FILE,
    RUN_OVERRIDES,
    SESSION_STATUS,
    SWEEP_FILE,
    TAGS,
    Status,
    a_sweeps_job,
    goes_on_with,
    load_run_config,
    metric_text,
    read_metrics,
    run_overrides,
)
from mlp_exp.run_dirs import job_dirname
from mlp_exp.sweep import OPTUNA_SWEEPER, planned_sweep

# TensorBoard's reader logs every event file it finishes reading, which would bury the table, and warns of the steps
# a resumed run's restart marker hides (as meant: a resume goes on from its checkpoint, or anew without one).
logging.getLogger("tensorboard").setLevel(logging.ERROR)
STATUS_OF_SESSION = {proto_status: status for status, proto_status in SESSION_STATUS.items()}
# A sweep job that never trained (no event file) and whose log names no error: its sweep was stopped before it
# began, or it crashed before its first line; a resume of the sweep runs it. One whose log names one `failed`.
NOT_STARTED = "not started"
# What find_runs finds a run by: either may have been deleted.
RUN_RECORDS = (METRICS_FILE, "events.out.tfevents.*")
# A run whose records say `running` but that no process trains: a resume goes on from its checkpoint.
CUT_SHORT = "cut short"
# A dir whose metrics.json is damaged (not JSON, not mlp_exp's) and that has no event file to say more.
UNREADABLE = "unreadable"
LINE_STYLES = ["-", "--", ":", "-."]
# The most entries of a legend of runs (beside the panels) and of the final accuracy's colours (below them): more
# would take the figure's space from the panels.
CURVES_LEGEND_MAX = SERIES_LEGEND_MAX = 12
LABEL_WIDTH = 32  # characters per line of a run's label in the legend beside the panels
# The scalars compare reads for each run: the table's final values and the plot's curves.
CURVES = ("val/acc", "test/acc", "train/acc", "train/loss")
# A run's validation accuracy, of a run that held out a validation set (dataset.val_fraction).
VAL_ACC = "val/acc"


@dataclass
class Run:
    name: str  # the run dir, relative to the compared dir (the one several compared dirs share)
    status: str  # a Status; CUT_SHORT, NOT_STARTED or UNREADABLE as above
    hparams: dict[str, Any]
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # tag -> [(epoch, value)]
    error: str | None = None  # why a failed run failed: from its metrics.json, or a job's log where it has none
    dir: Path | None = None  # where it is, or would be (a sweep's job that never began)

    def final(self, tag: str) -> float | None:
        return self.curves[tag][-1][1] if self.curves.get(tag) else None


def find_runs(directory: Path, root: Path | None = None) -> list[Run]:
    """Every run under `directory`, best first, named from `root` (default: `directory`): dirs with RUN_RECORDS,
    and sweep jobs that ended before writing them."""
    root = root or directory
    run_dirs = {path.parent for pattern in RUN_RECORDS for path in directory.rglob(pattern)}
    failed_dirs = {path.parent.parent for path in directory.rglob(str(RUN_OVERRIDES))} - run_dirs
    runs = [read_run(d, root) for d in run_dirs] + [read_failed_job(d, root) for d in failed_dirs]
    runs += [run for sweep_file in directory.rglob(SWEEP_FILE) for run in unstarted_jobs(sweep_file.parent, root)]
    return sorted(runs, key=_best_first)


def _best_first(run: Run, tag: str = "test/acc") -> tuple:
    """Completed runs first, then by their final `tag` (accuracy), best first (runs without one last), then job 2
    before job 10."""
    acc = run.final(tag)
    known = acc is not None and math.isfinite(acc)
    return run.status != Status.completed, -acc if known else math.inf, _natural_order(run.name)


def ranked_by(runs: list[Run]) -> str:
    """What runs are ranked by: their validation accuracy where each run with a score held out a validation set
    (the runs of a search, which selects on it), else their test accuracy."""
    scored = [run for run in runs if run.final("test/acc") is not None]
    return VAL_ACC if scored and all(run.final(VAL_ACC) is not None for run in scored) else "test/acc"


def unstarted_jobs(sweep_dir: Path, root: Path) -> list[Run]:
    """The jobs of the sweep in `sweep_dir` that have no dir (`_unstarted`), with the knobs each will record."""
    config, unstarted = _unstarted(sweep_dir)
    knobs = _PlannedKnobs(config) if unstarted else None
    return [Run(_name(job_dir, root), NOT_STARTED, knobs.of(job), dir=job_dir) for job_dir, job in unstarted]


def unstarted_job_dirs(sweep_dir: Path) -> list[Path]:
    """The dirs the jobs of the sweep in `sweep_dir` that have none would have (`_unstarted`); no config composed."""
    return [job_dir for job_dir, _ in _unstarted(sweep_dir)[1]]


def _unstarted(sweep_dir: Path) -> tuple[DictConfig | None, list[tuple[Path, list[Override]]]]:
    """The sweep's config, and the dir and overrides of each of its jobs that has no dir: those of a sweep stopped
    before they began (a resume of the sweep runs them), or of one still running, as its multirun.yaml plans them.
    None for an Optuna search, whose trials are drawn as it goes, or a sweep whose jobs keep no record in .hydra/
    (hydra.output_subdir, set before mlp_exp refused it)."""
    config, planned = planned_sweep(sweep_dir) or (None, None)
    if planned is None or config.hydra.get("output_subdir") != ".hydra":  # Optuna's trials are drawn as it goes
        return config, []
    started = set()  # by job number: two jobs of a sweep may have the same overrides
    for path in sweep_dir.rglob(str(HYDRA_RECORD)):
        with contextlib.suppress(OSError, yaml.YAMLError, TypeError, KeyError):
            started.add(yaml.load(path.read_text(), Loader=_YAML_LOADER)["hydra"]["job"]["num"])
    parser = OverridesParser.create()
    unstarted = [(num, parser.parse_overrides(job)) for num, job in enumerate(planned) if num not in started]
    names = _JobDirNames(config)
    dirs = [(sweep_dir / names.of(num, job), job) for num, job in unstarted]
    # A dir of its planned name with a run's records is the job's, though its .hydra/ is gone: find_runs lists it.
    return config, [(job_dir, job) for job_dir, job in dirs if not _has_records(job_dir)]


def trials_not_drawn(sweep_dir: Path) -> int:
    """How many trials of the Optuna search in `sweep_dir` have not begun: those of a search stopped before it drew
    them, which its resume runs. 0 for any other sweep, or without a readable multirun.yaml."""
    config, _ = planned_sweep(sweep_dir) or (None, None)
    with contextlib.suppress(OmegaConfBaseException, TypeError, ValueError):  # a hand-edited multirun.yaml's
        if config is not None and config.hydra.sweeper._target_ == OPTUNA_SWEEPER:
            begun = sum(1 for _ in sweep_dir.rglob(str(HYDRA_RECORD)))
            return max(0, int(config.hydra.sweeper.n_trials) - begun)
    return 0


def _has_records(run_dir: Path) -> bool:
    """Whether find_runs lists `run_dir` by what it holds."""
    return any(next(run_dir.glob(pattern), None) for pattern in (*RUN_RECORDS, str(RUN_OVERRIDES)))


# libyaml's loader where PyYAML has it: a sweep's every job has a hydra.yaml of some 150 lines.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _JobDirNames:
    """The name Hydra will give each job of the sweep `config`: its hydra.sweep.subdir, resolved for the job."""

    def __init__(self, config: DictConfig) -> None:
        register()  # the resolvers of mlp_exp's subdir
        self.config = OmegaConf.create({"hydra": OmegaConf.to_container(config.hydra, resolve=False)})
        self.naming = config.hydra.job.config.override_dirname

    def of(self, num: int, job: list[Override]) -> str:
        dirname = get_overrides_dirname(job, list(self.naming.exclude_keys), self.naming.item_sep, self.naming.kv_sep)
        try:
            self.config.hydra.job.num, self.config.hydra.job.override_dirname = num, dirname
            OmegaConf.clear_cache(self.config)  # mlp_exp's resolvers cache their value (config.register says why)
            return str(self.config.hydra.sweep.subdir)
        except (OmegaConfBaseException, ValueError):  # a resolver of the sweep's that this process lacks
            return job_dirname(num, dirname)


class _PlannedKnobs:
    """The knobs each planned job's run will record: its config composed as the sweep composes it, from mlp_exp's
    configs. Each distinct choice of config groups is composed once (75 ms each), the job's values set on it.
    Where that cannot be done (the sweep's own --config-dir or search path, `seed=${hydra:job.num}`), the knobs
    the job's overrides give, as typed."""

    def __init__(self, config: DictConfig) -> None:
        self.config_name = config.hydra.job.config_name
        self.groups = set(config.hydra.runtime.choices)
        self.own_configs = not config.hydra.searchpath and all(
            source.provider != "command-line" for source in config.hydra.runtime.config_sources
        )
        self.composed: dict[tuple[str, ...], DictConfig] = {}

    def of(self, job: list[Override]) -> dict[str, Any]:
        given = [override.input_line for override in job]  # as typed
        if not self.own_configs:
            return _given_hparams(given)
        choices = tuple(override.input_line for override in job if override.key_or_group in self.groups)
        try:
            if choices not in self.composed:
                with composing():
                    self.composed[choices] = compose(self.config_name, list(choices))
            cfg = self.composed[choices].copy()
            for override in job:
                if override.key_or_group not in self.groups and not override.key_or_group.startswith("hydra."):
                    OmegaConf.update(cfg, override.key_or_group, override.value(), merge=False)
            return _recorded(flat_hparams(cfg))
        except (ConfigError, OmegaConfBaseException, HydraException, ValueError):
            return _given_hparams(given)


def read_run(run_dir: Path, root: Path) -> Run:
    # metrics.json has the last word: rewritten by a resume, unlike the first event file; and its numbers are the
    # log's, where the event file has them rounded to float32. Where it lacks something (deleted, damaged, or a run
    # of an mlp_exp before 2 December 2026, which kept no knobs there), the event file says what it can.
    metrics = read_metrics(run_dir) or {}
    events = _EventRecords(run_dir)
    if not metrics and not events.any():
        error = f"its {METRICS_FILE} cannot be read, nor an event file"
        return Run(_name(run_dir, root), UNREADABLE, {}, error=error, dir=run_dir)
    hparams = metrics.get("hparams")
    # metrics.json's knobs are in the run's order (the event file's map has none)
    hparams = with_optimizer_rule(_recorded(hparams) if isinstance(hparams, dict) else events.hparams())
    status, history = metrics.get("status"), metrics.get("history")
    if not isinstance(status, str):
        status = events.status()
    # Its process gone (killed, or its machine lost), where it trained: a lock is not seen from another machine.
    if status == Status.running and metrics.get("host") == HOST and in_use(run_dir) is False:
        status = CUT_SHORT
    held_out = isinstance(history, list) and all(isinstance(h, dict) and "val_acc" in h for h in history)
    tags = {tag: key for key, tag in TAGS.items() if tag in CURVES and (tag != VAL_ACC or held_out)}
    try:
        curves = (
            {tag: [(h["epoch"], _nan_if_null(h[key])) for h in history] for tag, key in tags.items()} if history else {}
        )
    except (TypeError, KeyError, ValueError):  # not a history that mlp_exp wrote
        curves = {}
    error = metrics.get("error") if status == Status.failed else None  # why its last resume failed
    curves = curves or events.curves(tags)
    return Run(_name(run_dir, root), status, hparams, curves, error=str(error) if error else None, dir=run_dir)


class _EventRecords:
    """What a run's TensorBoard event files hold, read only where asked: reading them takes most of compare's time
    (the pictures are in them too), and metrics.json holds it all."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    @functools.cached_property
    def _events(self) -> EventAccumulator:
        events = EventAccumulator(str(self.run_dir))
        events.Reload()
        return events

    @functools.cached_property
    def _hparams_records(self) -> dict[str, plugin_data_pb2.HParamsPluginData]:
        """The HParams records by kind: session_start_info (the knobs), session_end_info, experiment."""
        try:
            contents = self._events.PluginTagToContent("hparams")
        except KeyError:  # no event file left, or none with HParams records
            return {}
        records = {}
        for content in contents.values():
            record = plugin_data_pb2.HParamsPluginData.FromString(content)
            records[record.WhichOneof("data")] = record
        return records

    def any(self) -> bool:
        """Whether there is an event file with anything of the run's in it."""
        return bool(self._hparams_records or self._events.Tags()["scalars"])

    def hparams(self) -> dict[str, Any]:
        """The run's knobs, in the order a run records them (the event file's map has none): the Experiment record's,
        where a run of an mlp_exp before 2 December wrote one, else this mlp_exp's."""
        records = self._hparams_records
        start = records.get("session_start_info")
        hparams = {key: _proto_value(v) for key, v in start.session_start_info.hparams.items()} if start else {}
        if "experiment" in records:
            order = [info.name for info in records["experiment"].experiment.hparam_infos]
        else:
            order = list(_hparam_names())
        return {key: hparams[key] for key in [*order, *hparams] if key in hparams}

    def status(self) -> str:
        """How the run ended, as its session's end record says; `running` where it has none (not ended for good)."""
        end = self._hparams_records.get("session_end_info")
        return STATUS_OF_SESSION[end.session_end_info.status] if end else Status.running

    def curves(self, tags: dict[str, str]) -> dict[str, list[tuple[int, float]]]:
        scalars = set(self._events.Tags()["scalars"])
        return {tag: [(e.step, e.value) for e in self._events.Scalars(tag)] for tag in tags if tag in scalars}


def _nan_if_null(value: float | None) -> float:
    """A value of metrics.json's history, where a NaN or an infinity is null."""
    return math.nan if value is None else float(value)


def _proto_value(value: Any) -> Any:
    """A google.protobuf Value as the plain Python value it holds (every number a float, as TensorBoard has it)."""
    return getattr(value, value.WhichOneof("kind"))


def _as_recorded(value: Any) -> Any:
    """A knob's value as TensorBoard records it, so that one from a job record compares equal to it."""
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _recorded(hparams: dict[str, Any]) -> dict[str, Any]:
    """Knobs from metrics.json or a job's config as TensorBoard records them (`_as_recorded`)."""
    return {key: _as_recorded(value) for key, value in hparams.items()}


def _given_hparams(overrides: list[str]) -> dict[str, Any]:
    """The knobs a job's overrides (`key=value`, as .hydra/overrides.yaml holds them) set, as typed, under the names
    flat_hparams records them by (`optimizer.momentum=0.9` as `momentum`; `hiddens=[256,256]` as `256-256`); the
    keys it does not record (threads, device) are left out."""
    parser = OverridesParser.create()
    hparams = {}
    for given in overrides:
        try:  # typed as Hydra types them (`lr=1e-3` a float, which YAML would read as text)
            override = parser.parse_override(given)
            name, value = override.key_or_group.removeprefix("optimizer."), override.value()
        except HydraException:  # a damaged overrides.yaml
            continue
        if name not in _hparam_names():
            continue
        if name == "hiddens":
            value = "-".join(map(str, value)) if isinstance(value, list) else str(value)
        hparams[name] = _as_recorded(value)
    return with_optimizer_rule(hparams)


@functools.cache
def _hparam_names() -> tuple[str, ...]:
    """The knobs a run records, in the order it records them."""
    with composing():
        return tuple(flat_hparams(compose("config")))


def read_failed_job(job_dir: Path, root: Path) -> Run:
    try:
        hparams = _recorded(flat_hparams(load_run_config(job_dir)))
    except (ConfigError, OmegaConfBaseException):
        # A value no run can use (hiddens=0, hiddens=???) fails flat_hparams too: show what the job was given instead.
        hparams = _given_hparams(run_overrides(job_dir))
    errors = [
        line.split("error: ", 1)[1].strip()
        for log_file in job_dir.glob("*.log")
        for line in log_file.read_text(errors="replace").splitlines()
        if "error: " in line
    ]
    if not errors:
        return Run(_name(job_dir, root), NOT_STARTED, hparams, dir=job_dir)
    return Run(_name(job_dir, root), Status.failed, hparams, error=errors[-1], dir=job_dir)


def _name(run_dir: Path, root: Path) -> str:
    return str(run_dir.relative_to(root)) if run_dir != root else run_dir.name


def shown_knobs(hparams: dict[str, Any]) -> list[str]:
    """The knobs compare shows: not depth and width, which restate hiddens as numbers for TensorBoard."""
    return [key for key in hparams if key not in RESTATING_HIDDENS]


def differing_knobs(runs: list[Run]) -> list[str]:
    """The knobs whose values are not the same in every run that records them, in the order the runs do."""
    keys = list(dict.fromkeys(key for run in runs for key in shown_knobs(run.hparams)))
    return [key for key in keys if len({repr(run.hparams[key]) for run in runs if key in run.hparams}) > 1]


def _metric_cell(value: Any) -> str:
    if value is None:
        return "-"
    return metric_text(value) if isinstance(value, float) else str(value)


def _knob_cell(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else _metric_cell(value)


def table(runs: list[Run], knobs: list[str]) -> str:
    tags = [tag for tag in CURVES if tag != VAL_ACC or any(run.final(VAL_ACC) is not None for run in runs)]
    header = ["run", *knobs, *(tag.replace("/", "_") for tag in tags), "epochs_done", "status"]
    rows = [
        [
            run.name,
            *(_knob_cell(run.hparams.get(knob)) for knob in knobs),
            *(_metric_cell(run.final(tag)) for tag in tags),
            str(len(run.curves.get("test/acc", []))),
            run.status,
        ]
        for run in runs
    ]
    return columns([header, *rows])


def seed_means(runs: list[Run], knobs: list[str]) -> str | None:
    """Where runs differ in their seed, per setting of the other knobs: the mean test accuracy of its completed
    runs, their standard deviation, how many of its runs completed and how many seeds those had, best first: the
    settings all of whose runs completed, then the others (a mean of the lucky seeds that finished is no match for
    a whole one), then those none of whose runs completed; None where no setting was run more than once."""
    if "seed" not in knobs:
        return None
    others = [knob for knob in knobs if knob != "seed"]
    settings: dict[str, list[Run]] = {}
    for run in runs:
        settings.setdefault(repr([run.hparams.get(knob) for knob in others]), []).append(run)
    if all(len(setting) < 2 for setting in settings.values()):
        return None
    rows = []
    for setting in settings.values():
        finished = [(run, run.final("test/acc")) for run in setting if run.status == Status.completed]
        finished = [(run, acc) for run, acc in finished if acc is not None and math.isfinite(acc)]
        accuracies = [acc for _, acc in finished]
        mean = statistics.mean(accuracies) if accuracies else None
        std = statistics.stdev(accuracies) if len(accuracies) > 1 else None
        knob_cells = [_knob_cell(setting[0].hparams.get(knob)) for knob in others]
        # Of the runs in the mean. A seed run twice is counted twice there: its repeats differ only in the last digits.
        seeds = len({repr(run.hparams.get("seed")) for run, _ in finished})
        rank = (mean is None, len(accuracies) < len(setting), -mean if mean is not None else 0)
        rows.append(
            (
                rank,
                [*knob_cells, _metric_cell(mean), _metric_cell(std), f"{len(accuracies)}/{len(setting)}", str(seeds)],
            )
        )
    rows.sort(key=lambda row: row[0])
    return columns([[*others, "test_acc_mean", "std", "completed", "seeds"], *(cells for _, cells in rows)])


def columns(rows: list[list[str]]) -> str:
    """Rows of cells as text columns, each as wide as its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def knob_values(run: Run, knobs: list[str]) -> str:
    """`activation=relu init_scale=0.01`: the run's values of `knobs`."""
    return " ".join(f"{knob}={_knob_cell(run.hparams.get(knob))}" for knob in knobs)


def labels(runs: list[Run], knobs: list[str]) -> list[str]:
    """Each run's knob values, or its name where no knob differs; with its name too where another has its values."""
    values = [knob_values(run, knobs) for run in runs]
    shared = {text for text in values if values.count(text) > 1}
    return [
        (f"{text} ({run.name})" if text in shared else text) if text else run.name for run, text in zip(runs, values)
    ]


def swept_knob(runs: list[Run], knobs: list[str]) -> str | None:
    """The knob with the most distinct values: the x axis of the final-accuracy plot. Not a seed, whose runs repeat a
    value of the others, unless nothing else differs."""
    knobs = [knob for knob in knobs if knob != "seed"] or knobs
    return max(knobs, key=lambda knob: len({repr(run.hparams.get(knob)) for run in runs}), default=None)


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value)  # also "512", how hiddens records one layer
    except (TypeError, ValueError):
        return None


def _natural_order(text: str) -> list[str | int]:
    """Its digit runs as numbers: "64" before "512", where text's order puts "512" first."""
    # The split alternates text and digit runs, so two keys compare text with text and numbers with numbers.
    return [int(part) if i % 2 else part for i, part in enumerate(re.split(r"(\d+)", text))]


def plot(runs: list[Run], knobs: list[str], path: Path, title: str) -> None:
    """Final test accuracy against the swept knob; train loss and test accuracy per epoch of each run."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    trained = [run for run in runs if run.curves]
    fig, (ax_final, ax_loss, ax_acc) = plt.subplots(1, 3, figsize=(16, 4.8), layout="constrained")
    series_looks = plot_final(ax_final, trained, knobs)
    # Too many runs for a legend of their own: their curves take the colours of the final accuracy's legend, which
    # then tells them apart in every panel, where a colour of their own would mean another thing than it does there.
    looks = series_looks if len(trained) > CURVES_LEGEND_MAX and series_looks else None
    plot_curves(ax_loss, trained, knobs, "train/loss", "train loss", looks)
    plot_curves(ax_acc, trained, knobs, "test/acc", "test accuracy", looks)
    losses = [v for run in trained for _, v in run.curves.get("train/loss", []) if math.isfinite(v) and v > 0]
    if losses and max(losses) / min(losses) > 20:  # a run on its way to diverging would flatten all the others
        ax_loss.set_yscale("log")
    if len(trained) <= CURVES_LEGEND_MAX:  # beside the panels: inside one, a long label of several knobs would cover
        fig.legend(*ax_acc.get_legend_handles_labels(), loc="outside right upper", fontsize=8, title="each run")
    fig.suptitle(title)
    with atomic_write(path) as tmp:  # its format named: the temporary file's name ends otherwise
        fig.savefig(tmp, dpi=100, format=path.suffix[1:].lower())
    plt.close(fig)


def plot_final(ax, runs: list[Run], knobs: list[str]) -> list[tuple[str, str]] | None:
    """One point per run at its value of the swept knob, one colour per combination of the other knobs that differ
    (`-m activation=relu,tanh init_scale=0.01,0.1`: one per init_scale), with a line through each colour's means
    where the values are numbers or repeat (several seeds: the seed is no colour, its runs are pooled). Runs that
    did not complete are red crosses, named. Returns each run's colour and line style where a legend names those
    combinations, else None."""
    knob = swept_knob(runs, knobs)
    ax_title = "final test accuracy"
    xs = [run.hparams.get(knob) if knob else run.name for run in runs]
    numbers = [_float_or_none(x) for x in xs]
    numeric = all(n is not None for n in numbers)
    if numeric:
        positions = numbers
        if min(numbers) > 0 and max(numbers) / min(numbers) >= 20:
            ax.set_xscale("log")
        shown = {number: _knob_cell(x) for number, x in zip(numbers, xs)}
        if len(shown) <= SERIES_LEGEND_MAX:  # ticks at the values run (64, 256), not at round numbers between them
            ax.set_xticks(sorted(shown), [shown[number] for number in sorted(shown)])
            ax.minorticks_off()
    else:  # categories (activation, optimizer, "256-256") in natural order: 64, 64-64, 512
        categories = sorted({str(x) for x in xs}, key=_natural_order)
        positions = [categories.index(str(x)) for x in xs]
        # A single run's name, in the legend beside, would take the panel's height, rotated under it.
        shown = categories if knob or len(categories) > 1 else [""]
        ax.set_xticks(range(len(categories)), shown, rotation=30, ha="right")
    others = [other for other in knobs if other not in (knob, "seed")]
    series: dict[str, dict[float, list[float]]] = {}  # other knobs' values -> x -> final accuracies
    for x, run in zip(positions, runs):
        at_x = series.setdefault(knob_values(run, others), {})
        if run.status == Status.completed:
            at_x.setdefault(x, []).append(run.final("test/acc"))
        else:
            y = run.final("test/acc")
            ax.scatter([x], [y], marker="x", color="red")
            ax.annotate(run.status, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8, color="red")
    repeats = any(len(ys) > 1 for at_x in series.values() for ys in at_x.values())
    if len(series) > 1 and all(sum(map(len, at_x.values())) <= 1 for at_x in series.values()):
        # Each setting of the other knobs ran once (an Optuna search's trials): one colour and line each would
        # say nothing, with a legend as long as the search.
        points = [(x, y) for at_x in series.values() for x, ys in at_x.items() for y in ys]
        ax.scatter([x for x, _ in points], [y for _, y in points], color="C0")
        series = {}
    names = sorted(series, key=_natural_order)
    for i, name in enumerate(names):
        at_x = series[name]
        color, style = _look(i)
        finals = [y for ys in at_x.values() for y in ys]
        ax.scatter([x for x, ys in at_x.items() for _ in ys], finals, color=color)
        label = name if len(series) > 1 else "mean"
        means = [sum(at_x[x]) / len(at_x[x]) for x in sorted(at_x)]
        if knob == "seed" and finals:  # no trend from one seed to the next: their mean, across
            ax.axhline(statistics.mean(finals), linestyle=style, color=color, label=label)
        elif numeric or not finals:  # a setting none of whose runs completed keeps its legend entry: its curves' colour
            ax.plot(sorted(at_x), means, style, color=color, label=label)
        elif repeats or len(series) > 1:  # between categories (relu, tanh; 256, 256-256) a line would be no trend
            ax.plot(sorted(at_x), means, linestyle="none", marker="_", markersize=16, color=color, label=label)
    if repeats or 1 < len(series) <= SERIES_LEGEND_MAX:  # below the panels, where it covers none of the points
        ax.figure.legend(*ax.get_legend_handles_labels(), loc="outside lower left", ncols=3, fontsize=8, title=ax_title)
    ax.set(xlabel=knob or "run", ylabel="final test accuracy", title=ax_title)
    ax.grid(alpha=0.3)
    if not 1 < len(series) <= SERIES_LEGEND_MAX:
        return None
    return [_look(names.index(knob_values(run, others))) for run in runs]


def _look(i: int) -> tuple[str, str]:
    """The i-th series' colour and line style: matplotlib's ten colours, then again in another style, so that no two
    series look alike."""
    return f"C{i % 10}", LINE_STYLES[i // 10 % len(LINE_STYLES)]


def plot_curves(
    ax, runs: list[Run], knobs: list[str], tag: str, title: str, looks: list[tuple[str, str]] | None = None
) -> None:
    """Each run's `tag` per epoch, in its own colour and line style, or in `looks` (each run's, where given)."""
    from matplotlib.ticker import MaxNLocator

    looks = looks or [_look(i) for i in range(len(runs))]
    for run, name, (color, style) in zip(runs, labels(runs, knobs), looks, strict=True):
        epochs = [epoch for epoch, _ in run.curves.get(tag, [])]
        values = [v if math.isfinite(v) else math.nan for _, v in run.curves.get(tag, [])]
        # A search's label names every knob it searched: on lines of its own, beside the panels, it takes their width.
        ax.plot(epochs, values, style, color=color, marker="o", markersize=3, label=textwrap.fill(name, LABEL_WIDTH))
    ax.set(xlabel="epoch", title=title)
    # Whole epochs only, even where that is one tick: a single epoch's axis would show 0.995, 1.005, ...
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.grid(alpha=0.3)


def report(first: Path, *more: Path, png: Path | None = None) -> list[Run]:
    """Print the comparison of the runs under the dirs given (two sweeps, say), named from the dir they share, and
    write its plot (default: compare.png in the one dir given, or in the working dir)."""
    given = list(dict.fromkeys(Path(os.path.abspath(d)) for d in (first, *more)))
    dirs = [d for d in given if not any(d != other and d.is_relative_to(other) for other in given)]  # each run once
    root = Path(os.path.commonpath(dirs))
    runs = [run for d in dirs for run in find_runs(d, root)]
    if not runs:
        _say_unfinished(runs, searches_left(dirs))  # a search stopped before its first trial
        return runs
    tag = ranked_by(runs)
    runs.sort(key=lambda run: _best_first(run, tag))
    knobs = differing_knobs(runs)
    same = {key: runs[0].hparams[key] for key in shown_knobs(runs[0].hparams) if key not in knobs}
    where = ", ".join(map(str, dirs))
    best = "best first" if tag == "test/acc" else "best first by validation accuracy"
    say(f"{len(runs)} runs under {where}, {best}" if len(runs) > 1 else f"1 run under {where}")
    if same:
        shared = "same in all" if len(runs) > 1 else "knobs"
        say(f"{shared}: " + " ".join(f"{key}={_knob_cell(value)}" for key, value in same.items()))
    say(table(runs, knobs))
    if means := seed_means(runs, knobs):
        say("over the seeds:")
        say(means)
    for run in runs:
        if run.error:
            say(f"{run.name} {run.status}: {run.error}")
    _say_unfinished(runs, searches_left(dirs))
    if any(run.curves for run in runs):
        png = png or (dirs[0] if len(dirs) == 1 else Path.cwd()) / "compare.png"
        try:
            plot(runs, knobs, png, title=where)
        except OSError as e:  # a dir this user cannot write to, a full disk: the table above stands
            raise ConfigError(f"cannot write {png} ({e.strerror or e}); give --png a file you can write") from e
        say(f"plot: {png}")
    if len(dirs) == 1:
        say("in TensorBoard:", command("tensorboard", "--logdir", root))
    elif any(set(",:") & set(str(d)) for d in dirs):  # what --logdir_spec cannot take apart (hiddens=64,lr=0.1)
        say(f"in TensorBoard, among the other runs under {root}:", command("tensorboard", "--logdir", root))
    else:  # each dir's runs under its name, and none of the dir they share
        say("in TensorBoard:", command("tensorboard", "--logdir_spec", ",".join(f"{d.name}:{d}" for d in dirs)))
    return runs


def searches_left(dirs: list[Path]) -> dict[Path, int]:
    """The Optuna searches under `dirs` stopped before they drew all their trials, and how many each has left."""
    found = {path.parent for d in dirs for path in d.rglob(SWEEP_FILE)}  # as find_runs looks for runs
    return {sweep_dir: n for sweep_dir in sorted(found) if (n := trials_not_drawn(sweep_dir))}


def _say_unfinished(runs: list[Run], searches: dict[Path, int]) -> None:
    """The line below the table that counts the unfinished runs and a search's trials left, and names the resumes
    that go on with them."""
    unfinished = [run.dir for run in runs if _unfinished(run)]
    if not unfinished and not searches:
        return
    # A sweep that still runs goes on with its jobs not started by itself.
    resumed = [d for d in dict.fromkeys([*map(goes_on_with, unfinished), *searches]) if not in_use(d)]
    commands = [resume_command(d) for d in resumed[:3]] + ([f"{len(resumed) - 3} more"] if resumed[3:] else [])
    said = []
    if unfinished:
        said.append(f"{len(unfinished)} of {len(runs)} unfinished" if len(runs) > 1 else "unfinished")
    if left := sum(searches.values()):
        said.append(f"{left} trial{'s' * (left > 1)} of the search{'es' * (len(searches) > 1)} not yet drawn")
    counted = ", and ".join(said)
    say(f"{counted}; go on with: {'; '.join(commands)}" if commands else f"{counted}; their sweep goes on with them")


def _unfinished(run: Run) -> bool:
    """Whether a resume goes on with `run`: stopped, cut short with no word, or a sweep's job that never began."""
    if run.dir is None:
        return False
    return run.status in (Status.interrupted, CUT_SHORT) or (run.status == NOT_STARTED and a_sweeps_job(run.dir))


def plot_file(png: Path) -> Path:
    """--png as the file the plot goes into; ConfigError where matplotlib cannot write it."""
    from matplotlib.backend_bases import FigureCanvasBase  # what savefig writes, by the file name's ending

    if png.is_dir():
        raise ConfigError(f"--png {png} is a directory; give a file name, e.g. {png / 'compare.png'}")
    if not png.suffix:  # matplotlib would add it, and the line naming the file would not
        png = png.with_name(png.name + ".png")
    if not png.parent.is_dir():
        raise ConfigError(f"--png {png}: {png.parent} is not a directory; make it first")
    if png.suffix[1:].lower() not in FigureCanvasBase.get_supported_filetypes():
        raise ConfigError(f"--png {png}: matplotlib writes no such format; end the name in .png, .pdf or .svg")
    return png


def _interrupted(stop: KeyboardInterrupt) -> NoReturn:
    say("Interrupted")
    sys.exit(interrupt.exit_code(stop))


def main(argv: list[str] | None = None) -> None:
    parser = OneLineParser(prog="python -m mlp_exp.compare", description=__doc__.splitlines()[0])
    parser.add_argument(
        "dirs", nargs="+", type=Path, metavar="DIR", help="a run dir, a sweep dir, or a folder of them (e.g. outputs)"
    )
    parser.add_argument(
        "--png", type=Path, help="where to write the plot (default: compare.png in DIR; of several, in the working dir)"
    )
    args = parser.parse_args(argv)
    for directory in args.dirs:
        if problem := not_a_directory(directory):
            fail(f"{problem}; give a run dir, a sweep dir or outputs/")
    with ends_as_told(_interrupted):  # reading many runs' event files takes seconds
        png = args.png and plot_file(args.png)
        reported = report(*args.dirs, png=png)
    if not reported and not searches_left([Path(os.path.abspath(d)) for d in args.dirs]):
        fail(
            f"no runs under {', '.join(map(str, args.dirs))} (no TensorBoard event files, no .hydra/ job records); "
            "give a run's dir, a sweep's dir, or a folder of them (outputs/)"
        )


if __name__ == "__main__":
    with interrupt.quiet_exit():
        main()
