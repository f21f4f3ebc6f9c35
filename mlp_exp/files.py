"""Files written so that no reader, parallel job or crash ever sees one half-written; paths in commands to paste;
output whose reader left."""

from __future__ import annotations

import argparse
import errno
import os
import shlex
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, TextIO

from mlp_exp.exits import fail

# Errors of writing a file, which reading one never gives: the disk or quota full, a file too big for it.
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def not_a_directory(path: Path) -> str | None:
    """Why `path`, as the user typed it, is no directory to look in ("typo does not exist"); None if it is one."""
    if path.is_dir():
        return None
    return f"{path} {'is not a directory' if path.exists() else 'does not exist'}"


def found_below(directory: Path, name: str, deepest: int) -> Iterator[Path]:
    """The files or dirs called `name` from 1 to `deepest` levels below `directory`, shallowest first: as deep as
    runs sit (outputs/multirun/SWEEP/JOB/), not through a whole disk given by mistake."""
    for depth in range(1, deepest + 1):
        yield from directory.glob("/".join(["*"] * depth + [name]))


@contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """Yields a temporary path beside `path`; once the block has written it, it replaces `path` in one rename.

    If the block fails, `path` is left as it was and the temporary file is removed. The process id in the
    temporary name keeps parallel jobs preparing the same file from writing into each other's.
    """
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def command(program: str, *args: object) -> str:
    """A command line a user can paste into a shell: `program` (python, tensorboard) is this environment's, and a
    path with a space, quote or bracket stays one word."""
    return shlex.join([_as_the_shell_finds(program), *map(str, args)])


def resume_command(*args: object) -> str:
    """The command that goes on with a stopped run or sweep (mlp_exp.resume), to paste."""
    return command("python", "-m", "mlp_exp.resume", *args)


def compare_command(directory: Path) -> str:
    """The command that lists the runs under `directory` side by side (mlp_exp.compare), to paste."""
    return command("python", "-m", "mlp_exp.compare", directory)


def _as_the_shell_finds(program: str) -> str:
    """`python` where the shell finds this environment's (an activated venv); else its path, `/.../.venv/bin/python`:
    a run started as `.venv/bin/python -m mlp_exp` must not advise a `python` that has no mlp_exp."""
    # Normalised, not resolved: `../venv/bin/python` as /x/venv/bin/python, but a venv's link left as it is.
    executable = os.path.normpath(sys.executable)
    bin_dir = Path(executable).parent
    found = shutil.which(program)
    # The dir, not the file: a venv's python is a link to the system's, which lacks the venv's packages.
    if found is not None and Path(found).parent.absolute() == bin_dir.absolute():
        return program
    if program == "python":  # sys.executable may be named python3, with no `python` beside it
        return executable
    return str(bin_dir / program) if (bin_dir / program).exists() else program


class OneLineParser(argparse.ArgumentParser):
    """The command line of mlp_exp's own commands (resume, compare): a mistake in it is one line, as the main
    command's are, instead of argparse's usage text and error."""

    def error(self, message: str) -> NoReturn:
        fail(f"{message}; `{command(*self.prog.split(), '--help')}` says more")


def say(*parts: object) -> None:
    """print, for output a reader may leave before it ends (`python -m mlp_exp.compare outputs | head -3`): the
    command goes on, silently, and its files are still written."""
    try:
        print(*parts, flush=True)  # a pipe's buffer would meet the broken pipe at exit, past this except
    except BrokenPipeError:
        silence(sys.stdout)


def silence(stream: TextIO) -> None:
    """Points `stream`'s file descriptor at /dev/null, after its reader left: every later write to it (print's,
    logging's, the interpreter's flush at exit) succeeds unseen, where each would raise BrokenPipeError."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())
    os.close(devnull)
