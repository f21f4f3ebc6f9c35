"""The `python -m mlp_exp` / `mlp-exp` entry point: Hydra composes the config, `train` does the rest.

Exit codes: 0 done; 2 a config, data or checkpoint problem (one line says which and how to fix it);
3 training diverged; 130 interrupted by Ctrl-C and 143 by SIGTERM (`python -m mlp_exp.resume RUN_DIR`, or SWEEP_DIR,
goes on).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from mlp_exp import config_errors, interrupt
from mlp_exp.config import (
    CONF_DIR,
    ConfigError,
    cannot_use,
    nested_keys,
    register,
    schema_keys,
    unknown_key_message,
)
from mlp_exp.exits import EXIT_DIVERGED, EXIT_USER_ERROR, OneLineError, ends_the_command, exit_code_for, fail
from mlp_exp.files import command, compare_command, resume_command, say, silence
from mlp_exp.lock import only_process_in
from mlp_exp.overrides import (
    check_before_the_job,
    check_dataset_option,
    check_overrides,
    check_single_run,
    misused_override,
    say_shadowed_files,
)
from mlp_exp.process import tune_process
from mlp_exp.records import Status, run_status, score
from mlp_exp.run_dirs import refuse_inside_a_run, refuse_used_run_dir
from mlp_exp.sweep import (
    RESUMING,
    SweepCallback,
    absolute_sweep_dir,
    jobs_at_once,
    report_failed_sweep,
    resuming_job,
    search_failed,
    threads_per_job,
)

log = logging.getLogger("mlp_exp")
register()


class RunCallback(Callback):
    """Listed under hydra.callbacks: what a single run is refused for, said before Hydra makes its run dir or
    writes .hydra/ into it. A config no run can use, a device that is not there, and a dataset that cannot be
    found or fetched, or whose classes it names wrongly, leave no run dir behind; a dir that holds another run,
    or that another process trains in, keeps the config its resume needs. The run's process holds the dir from
    here on (train's own hold then does nothing), so two runs started in one dir at the same moment cannot both
    get past this."""

    # The run dir's lock. On the class, so that `main` releases it however the run ends: one that ends in
    # sys.exit (an error, Ctrl-C) never reaches on_run_end.
    hold = contextlib.ExitStack()

    @ends_the_command
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        # A config no run can use is refused before any dir is made, and before torch's import (said at once, not
        # after ~2 s), which the rest needs.
        say_shadowed_files(config.hydra)
        check_overrides(config.hydra)
        check_single_run(config.hydra)
        check_before_the_job(config, dataset_option=config.hydra.runtime.choices.get("dataset"))
        interrupt.import_torch()
        from mlp_exp.data import load
        from mlp_exp.train import pick_device

        HydraConfig.instance().set_config(config)  # as Hydra's run_job does next: `${hydra:...}` in hydra.run.dir
        run_dir = Path(config.hydra.run.dir)
        device = OmegaConf.select(config, "device", throw_on_resolution_failure=False)
        if device is not None:  # None: it resolves only in the job, which checks it
            pick_device(device)
        with contextlib.suppress(OmegaConfBaseException):  # a dataset key that resolves only in the job
            load(config.dataset)  # prepared (the job then only reads the cache, as a sweep's jobs do) and checked
        try:
            refuse_inside_a_run(run_dir, "hydra.run.dir")
            run_dir.mkdir(parents=True, exist_ok=True)
            self.hold.enter_context(only_process_in(run_dir, "choose another hydra.run.dir, or wait for it to end"))
            refuse_used_run_dir(run_dir)
        except OSError as e:
            self.hold.close()
            fail(cannot_use(run_dir, e, "hydra.run.dir"))
        except OneLineError:  # a dir in use, or one that holds another run
            self.hold.close()  # let go of at once: the process may go on (a notebook, a test)
            raise


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def run(cfg: DictConfig) -> float:
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    dataset_option = hydra_cfg.runtime.choices.get("dataset")
    if hydra_cfg.job.chdir:  # the job works in its run dir
        read_paths_from(Path(hydra_cfg.runtime.cwd), cfg)
    if hydra_cfg.mode is not RunMode.MULTIRUN:
        return score(train_reporting(cfg, run_dir, dataset_option=dataset_option))
    sweep_dir = absolute_sweep_dir(hydra_cfg)
    share = threads_per_job(hydra_cfg.launcher, jobs_at_once(sweep_dir))
    if share:
        # Jobs side by side share the cores. Set for the process, not as cfg.threads, which would win over the
        # threads a resumed job's checkpoint says it trained on (its numbers depend on them); threads= wins over both.
        interrupt.import_torch()
        import torch

        torch.set_num_threads(share)
        label_console_lines(f"#{hydra_cfg.job.num}")
    resume = resuming_job(run_dir, sweep_dir)  # a job of a resumed sweep, which started before: it goes on
    return score(train_reporting(cfg, run_dir, resume=resume, sweep_dir=sweep_dir, dataset_option=dataset_option))


def read_paths_from(started_in: Path, cfg: DictConfig) -> None:
    """The dataset's relative paths as from `started_in`, the dir the run was started in: what they mean without
    hydra.job.chdir=true, where the data was prepared, and where a resume reads them. From the run dir, each run
    would unpack a copy of the data of its own."""
    for key in ("root", "system_dir"):
        path = cfg.dataset[key]
        if path and not Path(path).expanduser().is_absolute():
            cfg.dataset[key] = str(started_in / path)


def train_reporting(
    cfg: DictConfig,
    run_dir: Path,
    resume: bool = False,
    sweep_dir: Path | None = None,
    dataset_option: str | None = None,
) -> dict[str, Any]:
    """`train`, with whatever ends it early said in one line and turned into the process's exit code.

    `sweep_dir`: the sweep this run is a job of, if it is one. `dataset_option`: the dataset group's option Hydra
    composed `cfg` from (`dataset=mnist`), if it did.
    """
    # Imported here, not at the top: torch costs ~2 s, which `--help` and a rejected override should not pay.
    interrupt.import_torch()
    from mlp_exp.train import train

    tune_process()
    try:
        if dataset_option is not None:
            check_dataset_option(cfg, dataset_option)
        with interrupt.sigterm_raises():
            metrics = train(cfg, run_dir, resume=resume)
    except KeyboardInterrupt as e:
        completed = run_status(run_dir) == Status.completed  # at its very end
        if sweep_dir is None and completed:
            remember_completed(run_dir)
            log.warning(interrupted_outside_training())
        elif not the_sweep_says_how_to_resume(sweep_dir, e):
            # An interrupted run has said so itself (train.say_interrupted); a completed job had nothing to say.
            said = "Interrupted after this job completed; resume the sweep" if completed else "Resume it"
            log.warning("%s with: %s", said, resume_command(sweep_dir or run_dir))
        sys.exit(interrupt.exit_code(e))  # in a sweep too: Ctrl-C stops the whole sweep
    except Exception as e:
        code = exit_code_for(e)
        if code is None:
            raise
        log.error("error: %s", e)
        if code == EXIT_DIVERGED:  # its records show where it went wrong
            say_where(run_dir)
        if sweep_dir is not None:
            raise  # Hydra marks this job failed and still runs the sweep's other jobs
        sys.exit(code)
    if sweep_dir is None:
        remember_completed(run_dir)
    say_where(run_dir)
    return metrics


def below_errors() -> Callable[[logging.LogRecord], bool]:
    """The filter of the console's stdout handler (conf/hydra/job_logging/mlp_exp.yaml): error lines go to stderr,
    as those said before a run starts do."""
    return lambda record: record.levelno < logging.ERROR


class Console(logging.StreamHandler):
    """The console's handler (conf/hydra/job_logging/mlp_exp.yaml, hydra_logging/mlp_exp.yaml). When the reader of
    the output leaves (`python -m mlp_exp | head -3`), the run goes on with the console silent, and its log file
    keeps every line; Python's default would print a traceback for each line left, and SIGPIPE's would kill the
    run (and its parallel sweep's workers go on printing tracebacks)."""

    def handleError(self, record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], BrokenPipeError):
            with contextlib.suppress(OSError, ValueError):  # a stream with no file descriptor: nothing to point
                silence(self.stream)
            return
        super().handleError(record)


class HydraLines(logging.Formatter):
    """The console's lines outside a job (hydra_logging/mlp_exp.yaml): Hydra's own with its time and [HYDRA] label,
    as Hydra's default config writes them; mlp_exp's (a sweep's dir, a dataset prepared) plain, as in the job."""

    def __init__(self) -> None:
        super().__init__("[%(asctime)s][HYDRA] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if record.name.partition(".")[0] == "mlp_exp":
            return record.getMessage()
        return super().format(record)


def label_console_lines(label: str) -> None:
    """Starts each of the job's console lines with `label` (Hydra's `#3` for job 3), where the lines of jobs that run
    side by side interleave; its log file's lines stay as they are."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, Console):
            handler.setFormatter(logging.Formatter(f"[{label}] %(message)s"))


def say_where(run_dir: Path) -> None:
    log.info("Run dir: %s", run_dir)
    log.info("Open it in TensorBoard: %s", command("tensorboard", "--logdir", run_dir))


# The single run this process completed, if any: a Ctrl-C after it (in Hydra's end of the run) interrupts nothing.
_completed_run: Path | None = None


def remember_completed(run_dir: Path | None) -> None:
    """Notes the run this process completed; None forgets it (a process that runs another: tests, a notebook)."""
    global _completed_run
    _completed_run = run_dir


def exit_interrupted(stop: KeyboardInterrupt) -> NoReturn:
    """Ends a command stopped outside a run's training (which says so itself): what it leaves, and the exit code."""
    print(interrupted_outside_training())
    sys.exit(interrupt.exit_code(stop))


def interrupted_outside_training() -> str:
    """What a Ctrl-C outside a run's training says: while Hydra composes, a sweep is set up, or between its jobs, or
    after the run or the sweep completed."""
    if SweepCallback.sweep_dir is not None and SweepCallback.completed:
        compare = compare_command(SweepCallback.sweep_dir)
        return (
            f"Interrupted after the sweep completed; its records in {SweepCallback.sweep_dir} are complete "
            f"(compare its jobs: {compare})"
        )
    if SweepCallback.sweep_dir is not None:
        return interrupted_sweep_line(SweepCallback.sweep_dir, SweepCallback.on_slurm)
    if _completed_run is not None:
        return f"Interrupted after the run completed; its records in {_completed_run} are complete"
    return interrupt.BEFORE_TRAINING


def interrupted_sweep_line(sweep_dir: Path, on_slurm: bool) -> str:
    resume = resume_command(sweep_dir)
    if on_slurm:
        return (
            f"Interrupted; the jobs submitted to Slurm keep running (their ids are in {sweep_dir}/.submitit/): "
            f"scancel them, or wait for them to end, then resume the sweep with: {resume}"
        )
    return f"Interrupted; resume the sweep with: {resume}"


def versions() -> str:
    """`mlp_exp 0.1.0 (torch 2.14.1, torchvision 0.29.1, hydra-core 1.3.8)`: what a bug report needs, read without
    importing torch."""
    packages = ", ".join(f"{name} {metadata.version(name)}" for name in ("torch", "torchvision", "hydra-core"))
    return f"mlp_exp {metadata.version('mlp_exp')} ({packages})"


def dashed_knob(args: list[str]) -> str | None:
    """What is wrong with a knob given as other tools take options (`--epochs=2`, `--lr 0.1`), where Hydra's parser
    would print its usage text; None if there is none."""
    for i, arg in enumerate(args):
        name, has_value, value = arg.removeprefix("--").partition("=")
        key = name.replace("-", "_")
        # `--hydra` alone is Hydra's own abbreviation of --hydra-help.
        if not arg.startswith("--") or not config_errors.names_a_key(key) or key == "hydra":
            continue
        if not has_value:
            value = config_errors.value_after(args, i)
        return f"{arg} is not an option: mlp_exp's knobs are set without dashes, as {key}={value}"
    return None


class _Refused(Exception):
    pass


def _overrides_together(parser: argparse.ArgumentParser, args: list[str]) -> str | None:
    """For overrides on both sides of a flag (`epochs=1 --config-dir DIR optimizer=mine`), of which Hydra's parser
    takes only the first run: the command with all of them after the flags. None for any other refusal."""
    try:
        flags, stray = parser.parse_known_args(args)
    except _Refused:
        return None
    if not flags.overrides or not stray or any(arg.startswith("-") for arg in stray):
        return None
    rest = list(args)
    for override in flags.overrides:  # the first run of overrides, and the strays after it
        rest.remove(override)
    for override in stray:
        del rest[len(rest) - 1 - rest[::-1].index(override)]
    return "give the overrides together, after Hydra's flags: " + command(
        "python", "-m", "mlp_exp", *rest, *flags.overrides, *stray
    )


def read_flags(args: list[str]) -> argparse.Namespace:
    """Hydra's flags in `args`, as its parser reads them. Raises ConfigError, in one line, for what the parser
    refuses (`-x`, `--cfg` without its value), where the parser would print its whole usage text first."""
    from hydra._internal.utils import get_args_parser  # the parser Hydra's main runs (hydra-core 1.3)

    parser = get_args_parser()

    def refuse(message: str) -> NoReturn:
        raise _Refused(message)

    parser.error = refuse  # argparse's own prints the usage and exits
    try:
        flags = parser.parse_args(args)
    except _Refused as e:
        hint = (
            _overrides_together(parser, args)
            or "`python -m mlp_exp --help` lists the knobs, `--hydra-help` Hydra's flags"
        )
        raise ConfigError(f"{e}; {hint}") from None
    # Hydra's completion reads the line typed so far from COMP_LINE, and without it ends in a KeyError's traceback.
    if (
        flags.shell_completion
        and any(arg.startswith("query=") for arg in flags.overrides)
        and "COMP_LINE" not in os.environ
    ):
        install = command("mlp-exp", "-sc", "install=bash")
        raise ConfigError(
            f"-sc query=... is what the installed completion asks, with the line typed so far in COMP_LINE; "
            f'to install it: eval "$({install})"'
        )
    # Hydra says "package 'lrr' not found in config" and exits 1, as for a bug.
    package = flags.package or "_global_"
    if flags.cfg == "job" and package != "_global_" and package not in {*schema_keys(), *nested_keys()}:
        raise ConfigError(f"-p {unknown_key_message(package)}")
    return flags


def only_prints(flags: argparse.Namespace) -> bool:
    """Whether the command prints something and runs nothing: --help, --hydra-help, --info, --cfg, -sc."""
    return bool(flags.help or flags.hydra_help or flags.info or flags.cfg or flags.shell_completion)


def the_sweep_says_how_to_resume(sweep_dir: Path | None, stop: KeyboardInterrupt) -> bool:
    """Whether the sweep's process says how to resume, not this job: a Ctrl-C in a job that runs in a process of its
    own (a joblib worker) reaches the sweep's process too, which says it once for all its jobs. A SIGTERM is sent
    to one job (by a scheduler, or `kill`), and that job says it."""
    in_a_worker = SweepCallback.sweep_dir is None  # set in the sweep's process only
    return sweep_dir is not None and in_a_worker and not isinstance(stop, interrupt.Terminated)


def main() -> None:
    """Hydra's command line, with a bad override said in one line (exit 2) instead of Hydra's several."""
    # Hydra reads its flags before the overrides only: `epochs=1 -m lr=0.1,0.2` would print its parser's usage.
    # Its parser takes any prefix of --multirun down to --m as well.
    multirun = [arg for arg in sys.argv[2:] if arg == "-m" or (len(arg) > 2 and "--multirun".startswith(arg))]
    for flag in multirun:
        sys.argv.remove(flag)
        sys.argv.insert(1, flag)
    if "--version" in sys.argv[1:]:  # Hydra's says only its own (and its parser would exit on it)
        say(versions())
        return
    if refused := dashed_knob(sys.argv[1:]):
        fail(refused)
    try:
        flags = read_flags(sys.argv[1:])
    except ConfigError as e:
        fail(e)
    if refused := misused_override(flags.overrides, repeats_allowed=RESUMING in os.environ):
        fail(refused)
    # Said by Hydra before it reads the file; the error (config_errors) says what to use instead.
    warnings.filterwarnings("ignore", "Experimental rerun CLI option", UserWarning)
    full_error = os.environ.get("HYDRA_FULL_ERROR")
    # Hydra then raises its errors instead of printing them, so they can be reworded here.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    # With nothing to go on with, a command that only prints ends when its reader leaves, as any Unix tool.
    printing = interrupt.sigpipe_ends_it() if only_prints(flags) else contextlib.nullcontext()
    try:
        with interrupt.sigterm_raises(), printing:  # outside training too (Hydra's start and end, a sweep's jobs)
            try:
                run()
            finally:
                # Released however the run or sweep ended (one that ends in sys.exit skips Hydra's end callbacks),
                # inside the handling below: a Ctrl-C as they are released is said as one after the run.
                RunCallback.hold.close()
                SweepCallback.hold.close()
    except KeyboardInterrupt as e:
        exit_interrupted(e)
    except Exception as e:
        if (stop := interrupt.hidden_in(e)) is not None:  # a Ctrl-C that Hydra reported as an error of its own
            exit_interrupted(stop)
        if full_error == "1":
            raise
        if (message := config_errors.one_line(e, sys.argv[1:])) is not None:
            fail(message)
        # A failed job of a sweep, or an Optuna search none of whose trials completed: each job said why in its own
        # lines (and its log), and the sweep's comparison says which failed.
        code, searched = exit_code_for(e), search_failed(e)
        if code is None and not searched:
            raise  # a bug
        failed = report_failed_sweep()
        if searched:
            code = EXIT_DIVERGED if failed and failed.diverged_only else EXIT_USER_ERROR
        fail(failed.message if failed else e, code)
    finally:
        # Forgotten, for a process that runs another (tests, a notebook).
        remember_completed(None)
        SweepCallback.sweep_dir = None
        SweepCallback.completed = False
        if full_error is None:
            del os.environ["HYDRA_FULL_ERROR"]
        else:
            os.environ["HYDRA_FULL_ERROR"] = full_error
