"""Files written so that no reader, parallel job or crash ever sees one half-written; paths in commands to paste."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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


def _as_the_shell_finds(program: str) -> str:
    """`python` where the shell finds this environment's (an activated venv); else its path, `/.../.venv/bin/python`:
    a run started as `.venv/bin/python -m mlp_exp` must not advise a `python` that has no mlp_exp."""
    bin_dir = Path(sys.executable).parent
    found = shutil.which(program)
    # The dir, not the file: a venv's python is a link to the system's, which lacks the venv's packages.
    if found is not None and Path(found).parent.absolute() == bin_dir.absolute():
        return program
    if program == "python":  # sys.executable may be named python3, with no `python` beside it
        return sys.executable
    return str(bin_dir / program) if (bin_dir / program).exists() else program
