"""Run and sweep dirs: how they are named (the resolvers of conf/config.yaml's hydra.run.dir and hydra.sweep.subdir),
and where a new one may be written: never into a dir that holds another run or sweep, nor one with runs or sweeps
below or above it, whose records it would overwrite or sit among."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from mlp_exp.config import ConfigError
from mlp_exp.files import found_below, resume_command
from mlp_exp.records import ENDED, METRICS_FILE, PICTURE_FILES, SWEEP_FILE, holds_a_run, run_status

# A decimal number in an override's value; with more significant digits than a person types (Optuna's sampled
# floats have about 16), a dir name shows it to 4.
_DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+(?:e[-+]?\d+)?(?![\w.])")
TYPED_DIGITS, SHOWN_DIGITS = 8, 4
# The most bytes of overrides in a dir's name: file systems take names of 255 bytes at most (a long `hiddens=[...]`,
# an Optuna trial's floats with a few fixed overrides), and the dir's .hydra/overrides.yaml has them all.
NAME_PART_BYTES = 200


def _dirname_part(overrides: str) -> str:
    # Override values may hold '/' (paths), which would nest directories.
    name = re.sub(r"[/\\\s]+", "_", overrides)
    # lr=0.04743178681046319 as lr=0.04743: the dir's .hydra/ keeps the exact value, and the run's number or
    # timestamp keeps two dirs apart.
    name = _DECIMAL.sub(_shorten, name)
    if len(name.encode()) > NAME_PART_BYTES:  # cut after a whole override, with a mark that there were more
        fits = [end for end in _override_ends(name) if len(name[:end].encode()) <= NAME_PART_BYTES - 4]
        name = (name[: fits[-1]] if fits else name.encode()[: NAME_PART_BYTES - 4].decode(errors="ignore")) + ",..."
    return name


def _override_ends(overrides: str) -> list[int]:
    """Where each override of Hydra's comma-joined `a=1,b=[2,3],c='x,y'` ends: at the commas outside brackets and
    quotes."""
    ends, depth, quote = [], 0, ""
    for i, char in enumerate(overrides):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            ends.append(i)
    return ends


def _shorten(number: re.Match) -> str:
    digits = number[0].split("e")[0].replace(".", "").strip("0")
    return f"{float(number[0]):.{SHOWN_DIGITS}g}" if len(digits) > TYPED_DIGITS else number[0]


def stamp() -> str:
    """`2026-11-22_10-04-31-4711`: the time, and the process id, which keeps two runs or sweeps started in one
    second apart."""
    return f"{time.strftime('%Y-%m-%d_%H-%M-%S')}-{os.getpid()}"


def run_dirname(overrides: str) -> str:
    """`2026-11-22_10-04-31-4711_hiddens=512,lr=0.05`"""
    return f"{stamp()}_{_dirname_part(overrides)}" if overrides else stamp()


def job_dirname(num: int, overrides: str) -> str:
    return f"{num}_{_dirname_part(overrides)}" if overrides else str(num)


def refuse_used_run_dir(run_dir: Path) -> None:
    """A new run must not write into a dir that holds another run (its metrics.json, written as its training starts,
    or its checkpoint): that run's records and checkpoint would be lost. Nor into a sweep's dir, whose jobs it
    would join, nor into a folder of other files that it would write its pictures over."""
    if (run_dir / SWEEP_FILE).exists():
        raise ConfigError(f"{run_dir} holds a sweep, not a run: choose another hydra.run.dir")
    refuse_runs_below(run_dir, "hydra.run.dir")
    if not holds_a_run(run_dir):
        if others := [name for name in PICTURE_FILES if (run_dir / name).exists()]:  # a folder of one's own files
            raise ConfigError(
                f"{run_dir} holds {', '.join(others)}, but no run (no {METRICS_FILE}), and the run would write over "
                "them: choose a new or empty hydra.run.dir"
            )
        return
    status = run_status(run_dir)
    if status in ENDED:  # nothing to resume
        raise ConfigError(f"{run_dir} already holds a run that {status}: choose another hydra.run.dir")
    resume = resume_command(run_dir)
    raise ConfigError(f"{run_dir} already holds a run: continue it with `{resume}`, or choose another hydra.run.dir")


def refuse_used_sweep_dir(sweep_dir: Path) -> None:
    """A new sweep must not run in the dir of another: jobs of both would mix, and its jobs would be refused one by
    one (their dirs hold runs), after Hydra had rewritten the other's records of them. Nor in a dir with runs below
    it (outputs/)."""
    if (sweep_dir / ".hydra").is_dir():  # Hydra's record of a single run
        raise ConfigError(f"{sweep_dir} holds a run, not a sweep: choose another hydra.sweep.dir")
    if (sweep_dir / SWEEP_FILE).exists():
        resume = resume_command(sweep_dir)
        raise ConfigError(
            f"{sweep_dir} already holds a sweep: continue it with `{resume}`, or choose another hydra.sweep.dir"
        )
    refuse_runs_below(sweep_dir, "hydra.sweep.dir")


def refuse_runs_below(directory: Path, key: str) -> None:
    """A new run or sweep must not be written into a dir with runs or sweeps below it (outputs/, outputs/runs/):
    it would sit among them, and resume and compare, given that dir, would take it for the whole. Looked for as deep
    as runs sit below outputs/ (multirun/SWEEP/JOB)."""
    for record in (".hydra", SWEEP_FILE):
        if below := next(found_below(directory, record, 3), None):
            raise ConfigError(
                f"{directory} holds other runs ({below.parent} among them): choose another {key}, a dir of its own"
            )


def refuse_inside_a_run(directory: Path, key: str) -> None:
    """Nor inside another run's or sweep's dir (their records, .hydra/ with holds_a_run's or multirun.yaml, in a dir
    above): compare and TensorBoard, given that dir, would take the new one for a part of it, and its pictures and
    compare.png would be written among the new one's files. Asked for a new single run or sweep (a sweep's job sits
    in its sweep's dir) before its dir is made, which a refusal would leave behind."""
    for above in Path(directory).absolute().parents:
        # Hydra's record of a run and mlp_exp's: either alone may be another tool's (a metrics.json, a Hydra app's run).
        if ((above / ".hydra").is_dir() and holds_a_run(above)) or (above / SWEEP_FILE).is_file():
            # Started from within it (`cd` into a run to look at it), the default dir lands inside it.
            fix = f"choose another {key}"
            if Path.cwd().is_relative_to(above):
                fix = f"run it from outside {above}, or {fix}"
            raise ConfigError(f"{directory} is inside {above}, which holds a run or sweep: {fix}")
