"""Settings for a whole process that make every run in it faster, or its end quieter: each mlp_exp command's
process gets them before its first run (cli.train_reporting), and scripts/bench.py's pipelines likewise."""

from __future__ import annotations

import ctypes
import functools
import gc
import logging
import os
import platform
import threading

log = logging.getLogger(__name__)


@functools.cache  # once per process: the first call applies them, later ones do nothing
def tune_process() -> None:
    """Applies the module's settings to this process."""
    from tqdm import tqdm

    # torch's import leaves about a million objects; frozen, the garbage collector stops walking them in its
    # full passes. Not twice: in a sequential sweep, a later freeze would keep an earlier job's garbage for good.
    gc.freeze()
    _keep_freed_memory()
    # tqdm's default lock holds a multiprocessing lock, a semaphore that a joblib worker registers with the sweep's
    # resource tracker; a worker stopped by Ctrl-C never unregisters it, and the tracker's warning of "leaked
    # semaphore objects" then follows the sweep's last line. Each process draws its own bars: a thread lock will do.
    tqdm.set_lock(threading.RLock())


def _keep_freed_memory() -> None:
    """glibc gives large freed blocks back to the OS, so the blocks an epoch allocates again (a batch's tensors,
    an evaluation chunk's activations) are faulted in fresh: ~4000 page faults each time the test set is
    evaluated, ~15 ms of a default epoch. Blocks up to 32 MB (more than any tensor an epoch frees and allocates
    again) now come from the heap, which keeps up to 64 MB of freed memory for reuse. Only with glibc, and not
    where the user tunes malloc already (MALLOC_*_ or GLIBC_TUNABLES in the environment)."""
    if platform.libc_ver()[0] != "glibc" or any(k.startswith(("MALLOC_", "GLIBC_TUNABLES")) for k in os.environ):
        return
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
    for option, value in ((M_MMAP_THRESHOLD, 32 << 20), (M_TRIM_THRESHOLD, 64 << 20)):
        if not mallopt(option, value):
            log.debug("glibc refused mallopt(%d, %d); its defaults stay", option, value)
