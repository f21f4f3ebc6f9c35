"""The CPU cores a run's threads get: how many this process may use, and how long its threads waited for one."""

from __future__ import annotations

import os


def available() -> int:
    """The cores this process may use (its affinity and cgroup quota), as joblib counts them for a sweep's workers."""
    import joblib  # ~0.1 s: only where asked

    return joblib.cpu_count()


def waited_s() -> float | None:
    """Seconds this process's threads have spent so far ready to run but waiting for a core (Linux's schedstat of
    each thread); None where the system does not say."""
    try:
        threads = os.listdir("/proc/self/task")
    except OSError:
        return None
    waited_ns = 0
    for thread in threads:
        try:
            with open(f"/proc/self/task/{thread}/schedstat") as f:
                waited_ns += int(f.read().split()[1])  # time on a core, time waiting for one, timeslices
        except (OSError, IndexError, ValueError):  # a thread that ended meanwhile, or no schedstat in this kernel
            continue
    return waited_ns / 1e9
