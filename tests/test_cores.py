"""The cores a run's threads get, measured for real: a run beside processes that keep its cores busy is told so."""

import os
import subprocess
import sys

import pytest

from mlp_exp import cores


def busy_process(core: int) -> subprocess.Popen:
    """A process that keeps `core` busy until killed."""
    return subprocess.Popen([sys.executable, "-c", f"import os\nos.sched_setaffinity(0, {{{core}}})\nwhile True: pass"])


def test_a_run_whose_threads_wait_for_busy_cores_is_told_to_use_fewer(real_fashion_mnist, tmp_path):
    two_cores = sorted(os.sched_getaffinity(0))[:2]
    if len(two_cores) < 2 or cores.available() < 2:  # a CPU quota of one core: two threads are warned about as such
        pytest.skip("needs two cores to run two threads on")  # CI's machine has two
    busy = [busy_process(core) for core in two_cores for _ in range(2)]  # two per core: each thread waits 2/3
    try:
        run = subprocess.run(
            [sys.executable, "-m", "mlp_exp", "epochs=1", "threads=2", "device=cpu", "dataset.download=false"]
            + ["visuals.enabled=false", f"hydra.run.dir={tmp_path / 'run'}"],
            preexec_fn=lambda: os.sched_setaffinity(0, two_cores),  # the run's threads on the busy cores only
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert run.returncode == 0, run.stderr
    assert "this run's 2 threads waited" in run.stdout + run.stderr, run.stdout + run.stderr
