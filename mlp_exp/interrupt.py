"""Ctrl-C and SIGTERM end a run the same way: as a KeyboardInterrupt, which the training loop records as
`interrupted` before the process exits.

A parallel sweep's process passes a signal that reached it alone on to its jobs (`jobs_record_their_stop`).

The exit codes follow the shell's convention for a process ended by a signal, 128 + the signal's number:
130 for Ctrl-C (SIGINT), 143 for SIGTERM. A command that only prints is ended by SIGPIPE when the reader of its
output leaves, as any Unix tool is.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

# What a Ctrl-C before the training loop (while Hydra composes, torch is imported, the data loads) leaves.
BEFORE_TRAINING = "Interrupted before training started; nothing was trained"


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, a scheduler's time limit, a shutdown), raised wherever the program is, as Ctrl-C is."""


def exit_code(interrupt: KeyboardInterrupt) -> int:
    return 128 + (signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT)


def hidden_in(e: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C or SIGTERM behind `e`, a config error raised as it unwound: OmegaConf, interrupted halfway through
    making a config, fails on the half-made one as it cleans up, and Hydra reports that as a composition error (the
    KeyboardInterrupt in the context of a context that OmegaConf's `raise ... from None` hides). Only in Hydra's and
    OmegaConf's errors: another error raised as a Ctrl-C unwound (a full disk as a stopped run's records are
    closed) is that error, not a Ctrl-C."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if not isinstance(e, (HydraException, OmegaConfBaseException)):
        return None
    seen = set()
    pending: list[BaseException | None] = [e]
    while pending:
        cause = pending.pop()
        if cause is None or id(cause) in seen:
            continue
        if isinstance(cause, KeyboardInterrupt):
            return cause
        seen.add(id(cause))
        pending += [cause.__cause__, cause.__context__]
    return None


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def can_handle_signals() -> bool:
    # Python runs signal handlers in the main thread only, and only the main thread may install them.
    return threading.current_thread() is threading.main_thread()


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Inside the block SIGTERM raises Terminated; by default it kills the process with no cleanup at all."""
    if not can_handle_signals():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def quiet_exit() -> Iterator[None]:
    """Around a command: once its work is done or its error said, the interpreter's exit handlers (torch's,
    TensorBoard's) still run, and a Ctrl-C in them would print a traceback from one of them or end the process
    without a word, as SIGTERM would: from then on either ends the process at once, with the command's own exit
    code. What is left of the exit after them, it skips (`_end_now`)."""
    global _exit_code
    if can_handle_signals():  # SIGTERM raises from the start, in the command's first and last moments too
        signal.signal(signal.SIGTERM, _raise_terminated)
    code = 1  # an exception's, unless it is SystemExit's
    try:
        yield
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else int(e.code is not None)
        raise
    except KeyboardInterrupt as e:  # one that came while the command said it was interrupted
        code = exit_code(e)
        raise
    finally:
        if can_handle_signals():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda signum, frame: _exit_now(code))
        _exit_code = code


# The exit code of the command whose work is done (quiet_exit), None before.
_exit_code: int | None = None


def _end_now() -> None:
    """The rest of the interpreter's exit, after the exit handlers, takes ~0.2 s (its modules and torch's C++ state
    freed, none of it for a process that ends) and runs after Python has put back the signals' default handlers: a
    Ctrl-C there would end the process killed by the signal (a shell says 130), not with its command's code. Ended
    here instead, once logging has closed its files."""
    if _exit_code is not None:
        logging.shutdown()  # its own exit handler, registered before this one, would run after it
        _exit_now(_exit_code)


# Registered at this module's import, after logging's and before torch's and TensorBoard's exit handlers: it runs
# after theirs (the last in, the first to run), and a signal during them still ends the process at once.
atexit.register(_end_now)


@contextmanager
def sigpipe_ends_it() -> Iterator[None]:
    """Around a command that only prints (--help): a reader that leaves (`| head`) ends the process by SIGPIPE, where
    Python's default prints a BrokenPipeError traceback, or a "Logging error" for each line left."""
    if not can_handle_signals():
        yield
        return
    previous = signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        yield
    finally:
        with suppress(ValueError):  # a closed stdout
            sys.stdout.flush()  # what is still buffered meets the broken pipe here, not at the interpreter's exit
        signal.signal(signal.SIGPIPE, previous)  # for a process that runs another command (tests, a notebook)


def _exit_now(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):  # a closed or broken pipe: nothing more to say
            stream.flush()
    os._exit(code)


def import_torch() -> None:
    """torch's first import, with a Ctrl-C during it taking effect once it is done. Inside it, torch's C++ code
    aborts the process on one, and its own import of numpy takes one for "no numpy" and goes on."""
    with deferred():
        import torch  # noqa: F401


@contextmanager
def deferred() -> Iterator[None]:
    """Ctrl-C or SIGTERM arriving inside the block takes effect when the block ends, so the block always runs
    to completion: an epoch's records and its checkpoint are written together or not at all."""
    if not can_handle_signals():
        yield
        return
    received: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda signum, frame: received.append(signum))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            signal.raise_signal(received[0])  # now handled as it would have been: KeyboardInterrupt or Terminated


# In the command line of each of joblib's (loky's) worker processes.
LOKY_WORKER = b"joblib.externals.loky.backend.popen_loky_posix"
# How long the sweep's process waits for its jobs to stop by themselves (a terminal's Ctrl-C reaches them too), and
# then, having passed the Ctrl-C or SIGTERM on to those still training, for them to record where they stopped.
JOBS_STOP_S, JOBS_RECORD_S = 0.5, 15.0
# While it waits, a signal this soon after the first is the same stop (a key pressed twice, a script's `kill`
# repeated); a later one ends the wait.
SAME_STOP_S = 1.0


@contextmanager
def jobs_record_their_stop(sweep_dir: Path) -> Iterator[None]:
    """In a joblib sweep's process: a Ctrl-C or SIGTERM that reaches only this process (`kill PID`) is passed on to
    the jobs still training, which then record where they stopped, as on a terminal's Ctrl-C, before joblib kills
    its workers (with SIGKILL: the jobs' records would say `running`, and their logs end without a word). Another
    signal, SAME_STOP_S or more after the first, ends the wait. Linux only (it finds the workers in /proc); elsewhere
    joblib's way stands."""
    if not can_handle_signals():
        yield
        return
    stops = {signal.SIGINT: KeyboardInterrupt, signal.SIGTERM: Terminated}
    handlers = {signum: signal.getsignal(signum) for signum in stops}
    sweep_dir = sweep_dir.resolve()  # as /proc names the dirs the workers hold

    def pass_on(signum: int, frame: object) -> None:
        first = time.monotonic()

        def again(signum: int, frame: object) -> None:
            if time.monotonic() - first >= SAME_STOP_S:
                raise stops[signum]()

        for each in stops:
            signal.signal(each, again)
        try:
            training = _workers_training(sweep_dir, JOBS_STOP_S)
            for pid in training:
                with suppress(OSError):  # ended since
                    os.kill(pid, signal.SIGINT)  # as a terminal's Ctrl-C: this process says how to resume the sweep
            if training:
                _workers_training(sweep_dir, JOBS_RECORD_S)
        finally:
            # Held back while the handlers are put back: one arriving midway would leave the other one `again`.
            signal.pthread_sigmask(signal.SIG_BLOCK, stops)
            for each, previous in handlers.items():
                signal.signal(each, previous)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
        raise stops[signum]()

    for signum in stops:
        signal.signal(signum, pass_on)
    try:
        yield
    finally:
        for signum, previous in handlers.items():
            if signal.getsignal(signum) is pass_on:  # not since put back by its own owner (sigterm_raises)
                signal.signal(signum, previous)


def _workers_training(sweep_dir: Path, wait_s: float) -> list[int]:
    """The joblib workers of this process still training a job of the sweep after `wait_s` at most: each holds its
    job's dir open (lock.only_process_in) until the job's records are written."""
    deadline = time.monotonic() + wait_s
    while (training := [pid for pid in _joblib_workers() if _holds_a_dir_in(pid, sweep_dir)]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    return training


def _joblib_workers() -> list[int]:
    """The process ids of this process's joblib workers, as Linux lists its children; none where it does not."""
    workers = []
    with suppress(OSError):
        for thread in os.listdir("/proc/self/task"):
            for pid in Path(f"/proc/self/task/{thread}/children").read_text().split():
                with suppress(OSError):  # ended since
                    if LOKY_WORKER in Path(f"/proc/{pid}/cmdline").read_bytes():
                        workers.append(int(pid))
    return workers


def _holds_a_dir_in(pid: int, directory: Path) -> bool:
    """Whether process `pid` has a dir right below `directory` open (a job's dir of a sweep)."""
    with suppress(OSError):  # ended since, or not ours to look at
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with suppress(OSError):  # closed since
                if Path(os.readlink(f"/proc/{pid}/fd/{fd}")).parent == directory:
                    return True
    return False
