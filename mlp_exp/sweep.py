"""What a sweep needs around its jobs: a sweep dir of its own, their data prepared once before they start, a fair
share of the CPU cores for each job, and a comparison of the jobs when they are done.

`SweepCallback` is listed under `hydra.callbacks` in conf/config.yaml, so Hydra calls it in every multirun,
whatever the sweeper (basic, Optuna) and the launcher (basic, joblib, submitit).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

from hydra import compose
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from mlp_exp.config import ConfigError

log = logging.getLogger("mlp_exp")

JOBLIB_LAUNCHER = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
# The sweep's config, which `python -m mlp_exp.resume` runs again. Hydra's basic sweeper saves it in the sweep dir,
# the Optuna sweeper does not: SweepCallback saves it for every sweep.
SWEEP_FILE = "multirun.yaml"
# Set by `python -m mlp_exp.resume SWEEP_DIR` for the sweep it runs again: an environment variable reaches each job
# wherever the launcher runs it (this process, joblib's workers, a Slurm job, which gets the environment it is
# submitted with unless the cluster's sbatch is set to export none).
RESUMING = "MLP_EXP_RESUMING_SWEEP"


def resuming() -> bool:
    """Whether this sweep is an earlier one run again by `python -m mlp_exp.resume`, in that sweep's dir."""
    return os.environ.get(RESUMING) == "1"


def resuming_job(job_dir: Path) -> bool:
    """Whether this job of a sweep goes on from what it did before: its sweep is resumed, and it had started
    (a job's metrics.json is written as its training starts). A job that never started runs as a new one."""
    from mlp_exp.tracking import METRICS_FILE

    return resuming() and (job_dir / METRICS_FILE).exists()


def refuse_used_sweep_dir(sweep_dir: Path) -> None:
    """A new sweep must not run in the dir of another: jobs of both would mix, and its jobs would be refused one by
    one (their dirs hold runs), after Hydra had rewritten the other's records of them."""
    if (sweep_dir / SWEEP_FILE).exists():
        raise ConfigError(
            f"{sweep_dir} already holds a sweep: continue it with `python -m mlp_exp.resume {sweep_dir}`, "
            "or choose another hydra.sweep.dir"
        )


class SweepCallback(Callback):
    # The sweep this process runs, for `report_failed_sweep`.
    sweep_dir: Path | None = None
    # The sweep dir's lock, while this process runs its jobs. On the class: the joblib launcher pickles the
    # callbacks for its workers, and a held lock cannot be pickled.
    hold = contextlib.ExitStack()

    def on_multirun_start(self, config: DictConfig, config_name: str, **kwargs: Any) -> None:
        from mlp_exp.checkpoint import CheckpointError, only_process_in
        from mlp_exp.cli import EXIT_USER_ERROR
        from mlp_exp.data import DataError, prepare

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            if not resuming():
                refuse_used_sweep_dir(sweep_dir)
            # Jobs running side by side would each unpack or download a missing dataset into the same files
            # (pytorch/pytorch#68320). Prepared here, before any job starts, the jobs only read the finished cache.
            for dataset in sweep_datasets(config, config_name):
                prepare(dataset)
            sweep_dir.mkdir(parents=True, exist_ok=True)
            # A second sweep started at the same moment, or a resume of this one, would run the same jobs.
            self.hold.enter_context(only_process_in(sweep_dir))
            OmegaConf.save(config, sweep_dir / SWEEP_FILE)
        except (ConfigError, DataError, CheckpointError, OSError) as e:
            print(f"error: {e}", file=sys.stderr)  # as every error a user can cause: one line, no log prefix
            raise SystemExit(EXIT_USER_ERROR) from None  # Hydra turns an exception here into a mere warning
        SweepCallback.sweep_dir = sweep_dir
        log.info("Sweep dir: %s (compare its jobs: python -m mlp_exp.compare %s)", sweep_dir, sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from mlp_exp import compare

        self.hold.close()
        compare.report(Path(config.hydra.sweep.dir))


def report_failed_sweep() -> None:
    """The comparison, after a sweep that ended on a failed job: Hydra then skips `on_multirun_end`."""
    from mlp_exp import compare

    if SweepCallback.sweep_dir is not None:
        compare.report(SweepCallback.sweep_dir)


def sweep_datasets(config: DictConfig, config_name: str) -> list[DictConfig]:
    """The dataset configs a sweep's jobs use: one per option of a `dataset=` sweep (on the command line or in
    hydra.sweeper.params), else the one configured."""
    params = config.hydra.sweeper.get("params") or {}
    overrides = OverridesParser.create().parse_overrides(
        [*(f"{key}={value}" for key, value in params.items()), *config.hydra.overrides.task]
    )
    names = [
        name
        for override in overrides
        if override.key_or_group == "dataset" and (override.is_choice_sweep() or override.is_range_sweep())
        for name in override.sweep_string_iterator()
    ]
    if not names:
        return [config.dataset]
    # Each dataset option brings its own settings (system_dir, classes), so each is composed as its jobs will be.
    fixed = [override.input_line for override in overrides if not override.is_sweep_override()]
    return [compose(config_name, overrides=[*fixed, f"dataset={name}"]).dataset for name in dict.fromkeys(names)]


def threads_per_job(launcher: DictConfig, cores: int | None = None) -> int:
    """CPU threads for each job of a sweep so that jobs running side by side share the cores (default: those
    this process may use) instead of each starting one thread per core; 0 (torch's default) where the launcher
    runs one job at a time."""
    if launcher.get("cpus_per_task"):  # submitit: the cores each job asks Slurm for
        return int(launcher.cpus_per_task)
    if launcher._target_ == JOBLIB_LAUNCHER:
        import joblib  # counts the cores this process may use (affinity, cgroup quota), as joblib's workers do

        cores = cores or joblib.cpu_count()
        n_jobs = launcher.n_jobs if launcher.n_jobs > 0 else max(1, cores + 1 + launcher.n_jobs)  # joblib's -1: all
        return max(1, cores // n_jobs)
    return 0
