"""MKL's AVX-512 matrix kernels on AMD CPUs: matmuls about 2x faster on a Zen 5 CPU, a default epoch about 1.6x.

MKL, torch's BLAS on x86, picks its kernels by CPU vendor as well as by instruction set: on an AMD CPU with AVX-512
(Zen 4 and later) it runs kernels made for AVX2. It decides by calling its own mkl_serv_intel_cpu_true().
`python -m mlp_exp.build_mkl_on_amd` (which scripts/setup.sh runs) compiles mkl_on_amd.c, a library with a
function of that name that answers yes; loaded into the process's global symbols before torch is (on AMD CPUs with
AVX-512 only), it is the function MKL's call finds. MKL still checks which instruction sets the CPU has, so it runs
none the CPU lacks; results equal the AVX2 kernels' up to float rounding (tests/test_mkl_on_amd.py).
MLP_EXP_MKL_ON_AMD=0 in the environment turns it off.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from mlp_exp.files import atomic_write, command

LIBRARY = Path(sys.prefix) / "lib" / "mlp_exp_mkl_on_amd.so"  # in the environment mlp_exp is installed in
SOURCE = Path(__file__).with_name("mkl_on_amd.c")
OFF_SWITCH = "MLP_EXP_MKL_ON_AMD"
BUILD = "python -m mlp_exp.build_mkl_on_amd"  # the command that builds it
IN_USE = "MKL's AVX-512 kernels on AMD"  # how logs and the benchmark say the library is loaded

log = logging.getLogger(__name__)


def load() -> bool:
    """Loads the library where `build` put it, unless turned off; True if loaded."""
    if os.environ.get(OFF_SWITCH) == "0" or not LIBRARY.exists() or not _amd_with_avx512():
        return False
    if "torch" in sys.modules:  # MKL has asked already, and keeps its answer
        log.warning("torch was imported before mlp_exp, so MKL keeps its AVX2 kernels: import mlp_exp first")
        return False
    try:
        ctypes.CDLL(str(LIBRARY), mode=ctypes.RTLD_GLOBAL)
    except OSError as e:
        log.warning("MKL keeps its AVX2 kernels: %s; delete %s, and %s builds it again", e, LIBRARY, BUILD)
        return False
    return True


def not_built() -> str | None:
    """What to run where the library would help but was never built (an install by pip, not scripts/setup.sh), and
    this user could build it (not into a system-wide install)."""
    if (
        os.environ.get(OFF_SWITCH) != "0"
        and not LIBRARY.exists()
        and os.access(next(folder for folder in LIBRARY.parents if folder.exists()), os.W_OK)
        and _amd_with_avx512()
    ):
        return (
            f"MKL's AVX-512 kernels are off on this AMD CPU: {command(*BUILD.split())} turns them on "
            f"({OFF_SWITCH}=0 silences this)"
        )
    return None


def build() -> str:
    """Compiles the library into LIBRARY where it would help and is not built yet; says what it did.
    Raises OSError, naming the fix, where it cannot (no C compiler, a compiler error, no write access)."""
    if not _amd_with_avx512():
        return "not needed: MKL's vendor check slows only AMD CPUs with AVX-512"
    if LIBRARY.exists() and LIBRARY.stat().st_mtime >= SOURCE.stat().st_mtime:
        return f"{LIBRARY} is built already"
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise OSError("no C compiler (cc or gcc) on PATH; install one (apt-get install gcc) and run this again")
    LIBRARY.parent.mkdir(parents=True, exist_ok=True)
    # Built beside it, then moved: an interrupted build leaves no half-written library to load.
    with atomic_write(LIBRARY) as tmp:
        compiled = subprocess.run(
            [compiler, "-shared", "-fPIC", "-nostdlib", "-O2", "-o", tmp, SOURCE],
            capture_output=True,
            text=True,
            check=False,
        )
        if compiled.returncode != 0:
            said = (compiled.stderr.strip().splitlines() or [f"exit status {compiled.returncode}"])[0]
            raise OSError(f"{compiler} failed on {SOURCE} ({said}); is it a working C compiler?")
    return f"built {LIBRARY}: mlp_exp's runs use MKL's AVX-512 kernels from now on"


def _amd_with_avx512(cpuinfo_file: Path = Path("/proc/cpuinfo")) -> bool:
    """What `build` asks, asked again before loading: a venv that several machines share (a cluster's nodes) may
    run where the library would change nothing, and the logs would say it does."""
    try:
        cpuinfo = cpuinfo_file.read_text()
    except OSError:
        return False
    return "AuthenticAMD" in cpuinfo and re.search(r"\bavx512f\b", cpuinfo) is not None
