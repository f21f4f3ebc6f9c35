"""MKL's AVX-512 matrix kernels on AMD CPUs: matmuls about 2x faster on a Zen 5 CPU, a default epoch about 1.6x.

MKL, torch's BLAS on x86, picks its kernels by CPU vendor as well as by instruction set: on an AMD CPU with AVX-512
(Zen 4 and later) it runs kernels made for AVX2. It decides by calling its own mkl_serv_intel_cpu_true().
scripts/setup.sh compiles mkl_on_amd.c, a library with a function of that name that answers yes; loaded into the
process's global symbols before torch is (on AMD CPUs with AVX-512 only), it is the function MKL's call finds. MKL
still checks which instruction sets the CPU has, so it runs none the CPU lacks; results equal the AVX2 kernels'
up to float rounding (tests/test_mkl_on_amd.py). MLP_EXP_MKL_ON_AMD=0 in the environment turns it off.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import sys
from pathlib import Path

LIBRARY = Path(sys.prefix) / "lib" / "mlp_exp_mkl_on_amd.so"  # where scripts/setup.sh builds it
OFF_SWITCH = "MLP_EXP_MKL_ON_AMD"
IN_USE = "MKL's AVX-512 kernels on AMD"  # how logs and the benchmark say the library is loaded

log = logging.getLogger(__name__)


def load() -> bool:
    """Loads the library where setup.sh built it, unless turned off; True if loaded."""
    if os.environ.get(OFF_SWITCH) == "0" or not LIBRARY.exists() or not _amd_with_avx512():
        return False
    if "torch" in sys.modules:  # MKL has asked already, and keeps its answer
        log.warning("torch was imported before mlp_exp, so MKL keeps its AVX2 kernels: import mlp_exp first")
        return False
    try:
        ctypes.CDLL(str(LIBRARY), mode=ctypes.RTLD_GLOBAL)
    except OSError as e:
        log.warning("MKL keeps its AVX2 kernels: %s; run scripts/setup.sh again to rebuild it", e)
        return False
    return True


def _amd_with_avx512(cpuinfo_file: Path = Path("/proc/cpuinfo")) -> bool:
    """What scripts/setup.sh asks before it builds the library, asked again here: a venv that several machines share
    (a cluster's nodes) may run where the library would change nothing, and the logs would say it does."""
    try:
        cpuinfo = cpuinfo_file.read_text()
    except OSError:
        return False
    return "AuthenticAMD" in cpuinfo and re.search(r"\bavx512f\b", cpuinfo) is not None
