"""The `python -m mlp_exp` / `mlp-exp` entry point: Hydra composes the config, `train` does the rest."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from mlp_exp import config
from mlp_exp.sweep import threads_per_job

# Absolute, so the console script and `python -m` find the same configs (a relative path does not: hydra#2125).
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
EXIT_USER_ERROR = 2
EXIT_DIVERGED = 3

log = logging.getLogger("mlp_exp")
config.register()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def main(cfg: DictConfig) -> float:
    # Imported here, not at the top: torch costs ~2 s, which `--help` and a rejected override should not pay.
    from mlp_exp.data import DataError
    from mlp_exp.train import Diverged, train

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    if hydra_cfg.mode is RunMode.MULTIRUN and not cfg.threads:  # threads=0: torch's default, unless jobs share cores
        cfg.threads = threads_per_job(hydra_cfg.launcher)
    try:
        metrics = train(cfg, run_dir)
    except (config.ConfigError, DataError, Diverged) as e:
        log.error("error: %s", e)
        if hydra_cfg.mode is RunMode.MULTIRUN:
            raise  # Hydra marks this job failed and still runs the sweep's other jobs
        sys.exit(EXIT_DIVERGED if isinstance(e, Diverged) else EXIT_USER_ERROR)
    log.info("Run dir: %s", run_dir)
    log.info("Open it in TensorBoard: tensorboard --logdir %s", run_dir)
    return metrics["test_acc"]
