"""What a sweep needs around its jobs: their data prepared once before they start, a fair share of the CPU
cores for each job, and a comparison of the jobs when they are done.

`SweepCallback` is listed under `hydra.callbacks` in conf/config.yaml, so Hydra calls it in every multirun,
whatever the sweeper (basic, Optuna) and the launcher (basic, joblib, submitit).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra import compose
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("mlp_exp")

JOBLIB_LAUNCHER = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"


class SweepCallback(Callback):
    # The sweep this process runs, for `report_failed_sweep`.
    sweep_dir: Path | None = None

    def on_multirun_start(self, config: DictConfig, config_name: str, **kwargs: Any) -> None:
        # Jobs running side by side would each unpack or download a missing dataset into the same files
        # (pytorch/pytorch#68320). Prepared here, before any job starts, the jobs only read the finished cache.
        from mlp_exp.cli import EXIT_USER_ERROR
        from mlp_exp.data import DataError, prepare

        try:
            for dataset in sweep_datasets(config, config_name):
                prepare(dataset)
        except DataError as e:
            log.error("error: %s", e)
            raise SystemExit(EXIT_USER_ERROR) from None  # Hydra turns an exception here into a mere warning
        sweep_dir = SweepCallback.sweep_dir = Path(config.hydra.sweep.dir)
        log.info("Sweep dir: %s (compare its jobs: python -m mlp_exp.compare %s)", sweep_dir, sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from mlp_exp import compare

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
