"""`python -m mlp_exp.resume RUN_DIR`: continue an interrupted run, in its own dir, up to its configured epochs.

The config is the one Hydra saved with the run (RUN_DIR/.hydra/config.yaml); training goes on from the
checkpoint of the last completed epoch (RUN_DIR/checkpoint.pt) and gets the same numbers as a run that was
never interrupted. The log, the TensorBoard events and metrics.json go on in RUN_DIR. Exit codes are those
of `python -m mlp_exp`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hydra.core.utils import configure_log
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from mlp_exp import config_errors, interrupt
from mlp_exp.checkpoint import CheckpointError, refuse_run_dir_in_use
from mlp_exp.cli import EXIT_DIVERGED, EXIT_USER_ERROR, train_reporting
from mlp_exp.config import Config, ConfigError, first_line
from mlp_exp.tracking import METRICS_FILE


def load_run_config(run_dir: Path) -> DictConfig:
    """The config a run dir was made with, typed by the schema as Hydra typed it."""
    path = run_dir / ".hydra" / "config.yaml"
    if not (path.is_file() and (run_dir / ".hydra" / "hydra.yaml").is_file()):
        raise ConfigError(f"{run_dir} is not a run dir of mlp_exp: it has no .hydra/config.yaml and hydra.yaml")
    try:
        return OmegaConf.merge(OmegaConf.structured(Config), OmegaConf.load(path))
    except OmegaConfBaseException as e:
        raise ConfigError(f"{path}: {config_errors.one_line(e, [])}") from e
    except Exception as e:  # a file that is not YAML at all
        raise ConfigError(f"cannot read {path} ({first_line(e)}); restore it from a copy") from e


def _status(run_dir: Path) -> str | None:
    try:
        return json.loads((run_dir / METRICS_FILE).read_text())["status"]
    except (OSError, ValueError, KeyError, TypeError):  # none, or unreadable: the checkpoint says where to go on
        return None


def _log_into(run_dir: Path) -> None:
    """Log as the run did (console, and appended to its log file), wherever the run dir is now."""
    hydra_cfg = OmegaConf.load(run_dir / ".hydra" / "hydra.yaml").hydra
    hydra_cfg.runtime.output_dir = str(run_dir)
    configure_log(hydra_cfg.job_logging, hydra_cfg.verbose)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m mlp_exp.resume",
        description="Continue an interrupted mlp_exp run in its own dir, up to its configured epochs.",
    )
    parser.add_argument("run_dir", type=Path, help="the run's dir (outputs/runs/..., or one job's dir of a sweep)")
    run_dir = parser.parse_args(argv).run_dir.resolve()
    try:
        cfg = load_run_config(run_dir)
        status = _status(run_dir)
        if status == "completed":
            print(f"{run_dir} completed all its {cfg.epochs} epochs: nothing to resume")
            return
        if status == "diverged":
            print(
                f"error: {run_dir} diverged and would diverge again from its last checkpoint; "
                "start a new run with a lower lr",
                file=sys.stderr,
            )
            sys.exit(EXIT_DIVERGED)
        # Refused here, before the refusal would be logged into the running run's log.
        refuse_run_dir_in_use(run_dir)
        _log_into(run_dir)
        train_reporting(cfg, run_dir, resume=True)
    except (ConfigError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt as e:  # before training started
        sys.exit(interrupt.exit_code(e))


if __name__ == "__main__":
    main()
