"""Ctrl-C and SIGTERM end a run the same way: as a KeyboardInterrupt, which the training loop records as
`interrupted` before the process exits.

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
from collections.abc import Iterator
from contextlib import contextmanager, suppress

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
