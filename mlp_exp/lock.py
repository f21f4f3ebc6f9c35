"""One process at a time in a run's or a sweep's dir: a second run, resume or sweep there would interleave its
records with the first's."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from mlp_exp.exits import OneLineError

log = logging.getLogger(__name__)

WAIT_THEN_RESUME = "wait for it to end (or stop it), then resume it"  # what to do about a run dir in use


class DirInUse(OneLineError, RuntimeError):
    """Another process trains in the dir; the message says what to do."""


def dir_in_use(directory: Path, advice: str = WAIT_THEN_RESUME) -> DirInUse:
    return DirInUse(f"{directory} is being trained by another process; {advice}")


# The dirs this process holds (only_process_in), by device and inode, with why each could not be locked (None: it
# was). Two flocks of one process on two descriptors of a dir refuse each other: a hold inside a hold of the same
# dir (the run callback's around train's) must not take a second one.
_held: dict[tuple[int, int], OSError | None] = {}


@contextlib.contextmanager
def only_process_in(run_dir: Path, advice: str = WAIT_THEN_RESUME) -> Iterator[None]:
    """Holds `run_dir` for this process: a second run or resume there would interleave its records with ours.

    An OS lock (flock) on the directory itself: it leaves no file behind, and a process that dies releases it.
    Raises DirInUse, ending with `advice`, while another process holds it. Re-entrant: inside a hold this
    process already has on the dir, it does nothing (per process, not per thread).
    """
    fd = os.open(run_dir, os.O_RDONLY)
    try:
        stat = os.fstat(fd)
        key = (stat.st_dev, stat.st_ino)
        if key in _held:
            if _held[key] is not None:  # said again, into the log this hold's caller writes
                _say_unlocked(run_dir, _held[key])
            yield
            return
        unlocked = None
        try:
            _lock(fd)
        except BlockingIOError:
            raise dir_in_use(run_dir, advice) from None
        except OSError as e:  # NFS, for one, locks no directory opened read-only
            unlocked = e
            _say_unlocked(run_dir, e)
        try:
            _held[key] = unlocked
            yield
        finally:
            _held.pop(key, None)
    finally:
        os.close(fd)  # and with it the lock


def _lock(fd: int) -> None:
    """flock, or BlockingIOError while another process holds it: after a moment, for a process that only looks
    (in_use, as compare and resume do) lets go at once, and must not make a run that starts then fail."""
    deadline = time.monotonic() + 0.2
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def in_use(directory: Path) -> bool | None:
    """Whether another process holds `directory` now (a run or sweep that is training there); None where this file
    system locks no directory, and nothing can tell."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # gone since, or not a dir: nobody trains there
        return False
    try:
        stat = os.fstat(fd)
        if (stat.st_dev, stat.st_ino) in _held:  # this process's own
            return False
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # let go as the descriptor closes
        return False
    except BlockingIOError:
        return True
    except OSError:  # NFS, for one
        return None
    finally:
        os.close(fd)


def _say_unlocked(run_dir: Path, e: OSError) -> None:
    log.info("%s cannot be locked (%s): nothing keeps a second process from training in it", run_dir, e)
