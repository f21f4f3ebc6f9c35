"""`python -m mlp_exp.resume RUN_DIR`: continue an interrupted run, in its own dir, up to its configured epochs.

The config is the one Hydra saved with the run (RUN_DIR/.hydra/config.yaml); training goes on from the
checkpoint of the last completed epoch (RUN_DIR/checkpoint.pt) and gets the same numbers as a run that was
never interrupted. The log, the TensorBoard events and metrics.json go on in RUN_DIR. Exit codes are those
of `python -m mlp_exp`.

`python -m mlp_exp.resume SWEEP_DIR` continues a sweep: it runs the sweep's command again in SWEEP_DIR, where
each job that completed reports its recorded result, each one that started goes on as above, and each one that
never started runs. A run or a job that diverged would diverge again: it is not resumed, and exits 3.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import re
import sys
from pathlib import Path
from typing import NoReturn

from hydra.core.utils import configure_log
from omegaconf import DictConfig, OmegaConf

from mlp_exp import config_errors, interrupt
from mlp_exp.cli import exit_interrupted, remember_completed, train_reporting
from mlp_exp.compare import trials_not_drawn, unstarted_job_dirs
from mlp_exp.config import MAX_THREADS, RESUME_REWRITES, SWEEP_PRESETS, ConfigError, Device, first_line
from mlp_exp.exits import ends_as_told, fail
from mlp_exp.files import OneLineParser, atomic_write, command, found_below, not_a_directory, resume_command, say
from mlp_exp.lock import dir_in_use, in_use, only_process_in
from mlp_exp.overrides import given_overrides
from mlp_exp.records import (
    ENDED,
    METRICS_FILE,
    RUN_CONFIG,
    RUN_OVERRIDES,
    SWEEP_FILE,
    NotARunDir,
    goes_on_with,
    hydra_record,
    load_run_config,
    run_overrides,
    run_status,
    unreadable,
)
from mlp_exp.sweep import RESUMING

log = logging.getLogger("mlp_exp")


def _go_on_as_the_run_did(run_dir: Path) -> None:
    """Log as the run did (console, and appended to its log file), wherever the run dir is now; work from the dir
    it was started in, where relative paths in its config (dataset.root=data) mean what they meant."""
    hydra_cfg = hydra_record(run_dir)
    hydra_cfg.runtime.output_dir = str(run_dir)
    # A run made before mlp_exp.cli.Console logged to the console through Python's plain handler, which prints a
    # traceback for each line once the reader leaves (`| head`).
    for handler in (hydra_cfg.job_logging.get("handlers") or {}).values():
        if handler.get("class") == "logging.StreamHandler":
            handler["class"] = "mlp_exp.cli.Console"
    try:
        configure_log(hydra_cfg.job_logging, hydra_cfg.verbose)
    except ValueError as e:  # logging.config's word for a log file it cannot open (a run dir this user cannot write)
        cause = e.__cause__
        if not isinstance(cause, OSError):
            raise
        log_file = hydra_cfg.job_logging.handlers.file.filename
        fix = (
            "resume it as a user who can write there, or copy the run dir to one you can write to and resume the copy"
            if isinstance(cause, PermissionError) or cause.errno == errno.EROFS
            else f"make {log_file} a file that can be written, and resume it again"
        )
        raise ConfigError(f"cannot write {log_file} ({cause.strerror or first_line(cause)}); {fix}") from e
    _work_from(Path(hydra_cfg.runtime.cwd))


def _work_from(started_in: Path) -> None:
    """Into the dir a run or sweep was started in, where the relative paths in its config mean what they meant."""
    if started_in.is_dir():
        os.chdir(started_in)
    else:
        log.warning(
            "%s, where it was started, is gone: relative paths in its config are read from %s", started_in, Path.cwd()
        )


def resume_sweep(sweep_dir: Path) -> NoReturn:
    """Becomes the sweep's command again, in `sweep_dir` and from the dir the sweep was started in (so that
    relative paths in its overrides mean what they meant); its jobs, told by RESUMING, go on where they left off."""
    path = sweep_dir / SWEEP_FILE
    try:
        hydra_cfg = OmegaConf.load(path).hydra
        given = given_overrides(hydra_cfg)
        args = [
            # Said, though hydra.mode says it too: Hydra reads hydra.mode from a composed config, so a preset
            # deleted since would fail as "Ambiguous value" for each sweep override instead of being named.
            "--multirun",
            *_config_flags(hydra_cfg),
            *(override for override in given["hydra"] if not override.startswith("hydra.sweep.dir=")),
            f"hydra.sweep.dir={_override_value(sweep_dir)}",
            *given["task"],
        ]
        args = [str(arg) for arg in args]  # a hand-edited file may hold numbers
        started_in = Path(hydra_cfg.runtime.cwd)
    except Exception as e:  # not YAML, or not a sweep's config
        raise unreadable(path, e) from e
    if in_use(sweep_dir):  # the sweep's command would say so too, but only after this process said it resumes
        raise dir_in_use(sweep_dir)
    _work_from(started_in)
    say(f"Resuming the sweep in {sweep_dir}, from {Path.cwd()}: {command('python', '-m', 'mlp_exp', *args)}")
    os.execve(sys.executable, [sys.executable, "-m", "mlp_exp", *args], {**os.environ, RESUMING: str(sweep_dir)})


def _config_flags(hydra_cfg: DictConfig) -> list[str]:
    """The flags that chose the configs of the run or sweep Hydra recorded in `hydra_cfg`: its --config-name, and its
    --config-dir if it had one (Hydra records it as an absolute path)."""
    config_dirs = [source.path for source in hydra_cfg.runtime.config_sources if source.provider == "command-line"]
    return [f"--config-name={hydra_cfg.job.config_name}", *(f"--config-dir={path}" for path in config_dirs)]


def _new_run_command(run_dir: Path, changed: list[str]) -> str:
    """The command of a new run like the one in `run_dir`, with the `changed` overrides: its own config files and
    overrides, but not a sweep preset's (a sweep's job has one), which would make it a sweep again."""
    try:
        flags = [flag for flag in _config_flags(hydra_record(run_dir)) if flag != "--config-name=config"]
    except ConfigError:  # no record of Hydra's: mlp_exp's own configs
        flags = []
    left_out = {*SWEEP_PRESETS, *map(config_errors.key_of, changed)}
    own = [override for override in run_overrides(run_dir) if config_errors.key_of(override) not in left_out]
    return command("python", "-m", "mlp_exp", *flags, *own, *changed)


def _override_value(path: Path) -> str:
    """`path` as the value of a Hydra override: quoted where it has characters that Hydra's grammar reads, such
    as the commas and equals signs of a job dir's name, or letters beyond ASCII."""
    if re.fullmatch(r"[\w/.+:@%-]+", str(path), flags=re.ASCII):
        return str(path)
    return "'" + str(path).replace("'", "\\'") + "'"


def resume_run(run_dir: Path, device: Device | None = None, threads: int | None = None) -> None:
    """The run in `run_dir` goes on, with the config it was made with (on `device`, with `threads`, if given),
    logging into its log."""
    # Imported here, not at the top: torch costs ~2 s, which resuming a sweep (a process of its own) need not pay.
    interrupt.import_torch()
    from mlp_exp.train import pick_device

    cfg = load_run_config(run_dir)
    changed = {key: value for key, value in zip(RESUME_REWRITES, (device, threads), strict=True) if value is not None}
    for key, value in changed.items():
        cfg[key] = value
    # A completed or diverged run says so in train, and keeps its records as they are.
    unfinished = run_status(run_dir) not in ENDED
    if unfinished:
        pick_device(cfg.device, fix=f"to go on on the CPU: {resume_command('--device', 'cpu', run_dir)}")
    with only_process_in(run_dir):  # held before logging: a refusal must not go into the running run's log
        _go_on_as_the_run_did(run_dir)
        if unfinished:
            _remember(run_dir, changed)
        train_reporting(cfg, run_dir, resume=True)


def _remember(run_dir: Path, changed: dict[str, Device | int]) -> None:
    """--device and --threads from here on, in the run's saved config: the resume command it prints after a Ctrl-C,
    pasted as it is, goes on as this one did (a GPU's run on a CPU machine, on fewer threads)."""
    path = run_dir / RUN_CONFIG
    saved = OmegaConf.load(path)  # as Hydra wrote it, interpolations and all
    as_written = OmegaConf.to_container(saved)  # an interpolation is not resolved
    changed = {key: getattr(value, "value", value) for key, value in changed.items()}  # Device.cpu as `cpu`
    if any(as_written.get(key) != value for key, value in changed.items()):
        for key, value in changed.items():
            saved[key] = value
        with atomic_write(path) as tmp:
            OmegaConf.save(saved, tmp)


def unfinished_under(directory: Path) -> tuple[list[Path], list[Path]]:
    """The runs and sweeps below `directory` that a resume goes on with (a run interrupted, cut short by a lost
    machine: status `running`, or one whose last resume failed; a sweep stopped before some of its jobs began, a
    search before it drew all its trials), the one written to last first; and those a process is training now. A
    sweep's job stands for its sweep."""
    found: dict[Path, float] = {}
    held_in: dict[Path, set[Path]] = {}  # the dirs a process training each holds: its own, or a sweep's and a job's
    for path in found_below(directory, SWEEP_FILE, 4):
        if unstarted_job_dirs(path.parent) or trials_not_drawn(path.parent):
            held_in[path.parent] = {path.parent}
            with contextlib.suppress(OSError):  # removed since
                found[path.parent] = path.stat().st_mtime
    for path in found_below(directory, METRICS_FILE, 5):
        run = path.parent
        if not (run / RUN_CONFIG).is_file():  # not a run that resume could go on with
            continue
        if run_status(run) in (None, *ENDED):
            continue
        goes_on = goes_on_with(run)
        held_in.setdefault(goes_on, {goes_on}).add(run)  # a sweep's job resumed on its own holds its own dir only
        with contextlib.suppress(OSError):  # removed since
            found[goes_on] = max(found.get(goes_on, 0.0), path.stat().st_mtime)
    # `running` is also what a run still training says: it goes on by itself, and so does its sweep.
    busy = {goes_on for goes_on, dirs in held_in.items() if any(map(in_use, dirs))}
    return sorted(found.keys() - busy, key=found.__getitem__, reverse=True), sorted(busy)


def _what_to_resume(directory: Path) -> str:
    unfinished, training = unfinished_under(directory)
    if not unfinished and training:
        return f"; what is unfinished under it is training now ({', '.join(map(str, training))})"
    if not unfinished:
        return "; no run or sweep under it is unfinished"
    more = f" ({len(unfinished)} unfinished under it)" if len(unfinished) > 1 else ""
    return f"; the unfinished one under it written to last goes on with {resume_command(unfinished[0])}{more}"


def _knobs_in(args: list[str], unparsed: set[str]) -> list[str]:
    """The knobs among `args` that the parser took for no flag of its own (`unparsed`), as overrides: `epochs=20` as
    the main command takes it, or `--epochs 20` as a flag. A run dir's name holds `=` too (`1_seed=2`), but no
    knob's name before it."""
    knobs = []
    for i, arg in enumerate(args):
        if arg not in unparsed:
            continue
        if (knob := re.fullmatch(r"\+*([\w.]+)=.*", arg)) and config_errors.names_a_key(knob[1]):
            knobs.append(arg)
        elif (flag := re.fullmatch(r"--([\w.-]+)(?:=(.*))?", arg)) and config_errors.names_a_key(
            key := flag[1].replace("-", "_")
        ):
            following = args[i + 1] if i + 1 < len(args) else "-"
            if flag[2] is not None:  # --epochs=20
                value = flag[2]
            elif following.startswith("-") or Path(following).is_dir():  # `--epochs DIR`: the dir is no value
                value = "VALUE"
            else:
                value = following
            knobs.append(f"{key}={value}")
    return knobs


def _thread_count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to {MAX_THREADS}")
    return int(text)


def _never_started(job_dir: Path) -> bool:
    """Whether `job_dir`, which does not exist, is the dir a job of the sweep above it would have, had it started."""
    if job_dir.exists() or not (job_dir.parent / SWEEP_FILE).is_file():
        return False
    return job_dir.name in {planned.name for planned in unstarted_job_dirs(job_dir.parent)}


def main(argv: list[str] | None = None) -> None:
    parser = OneLineParser(
        prog="python -m mlp_exp.resume",
        description="Continue an interrupted mlp_exp run in its own dir, up to its configured epochs, "
        "or a sweep in its sweep dir.",
    )
    parser.add_argument(
        "dir",
        type=Path,
        metavar="DIR",
        help="a run's dir (outputs/runs/..., or one job's dir of a sweep), or a sweep's dir (outputs/multirun/...)",
    )
    parser.add_argument(
        "--device",
        choices=[device.value for device in Device],
        help="go on on this device from now on, instead of the run's own (--device cpu: a GPU's run, on a machine "
        "without one)",
    )
    parser.add_argument(
        "--threads",
        type=_thread_count,
        metavar="N",
        help="go on with N CPU threads from now on, instead of those the run trained with (fewer where other "
        "processes keep the cores busy)",
    )
    args, extra = parser.parse_known_args(argv)
    given = sys.argv[1:] if argv is None else argv
    if overrides := _knobs_in(given, {*extra, str(args.dir)}):
        run_dir = next((Path(arg) for arg in given if (Path(arg) / RUN_OVERRIDES).is_file()), args.dir)
        fail(
            f"{overrides[0]} is not allowed: a resume goes on with the run's own config, up to its own epochs; "
            f"for other values, start a new run: {_new_run_command(run_dir, overrides)}"
        )
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    directory, device, threads = args.dir, Device(args.device) if args.device else None, args.threads
    if _never_started(directory):  # compare lists it as `not started`
        sweep = resume_command(directory.parent)
        fail(f"{directory} never started, as its sweep stopped first; resume the sweep: {sweep}")
    if problem := not_a_directory(directory):
        fail(f"{problem}; give a run's dir or a sweep's dir")
    directory = directory.resolve()
    try:
        # A Ctrl-C before training started, or after the run completed: a run's own Ctrl-C is said in training.
        with ends_as_told(exit_interrupted), interrupt.sigterm_raises():
            if (directory / SWEEP_FILE).is_file():
                for flag, value in (("--device", device and device.value), ("--threads", threads)):
                    if value is not None:
                        raise ConfigError(
                            f"{flag} is for one run's dir: {directory} holds a sweep, whose jobs go on as it made "
                            f"them (one job goes on on its own with {resume_command(flag, value, 'JOB_DIR')})"
                        )
                resume_sweep(directory)
            try:
                resume_run(directory, device, threads)
            except NotARunDir as e:
                raise ConfigError(f"{e}{_what_to_resume(directory)}") from None
    finally:
        remember_completed(None)  # for a process that runs another (tests, a notebook)


if __name__ == "__main__":
    with interrupt.quiet_exit():
        main()
