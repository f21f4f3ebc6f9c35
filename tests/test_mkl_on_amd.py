"""mlp_exp.mkl_on_amd: on AMD CPUs with AVX-512, MKL takes its AVX-512 path and computes the same numbers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import mlp_exp
from mlp_exp import mkl_on_amd
from mlp_exp.files import command

PROBE = """
import ctypes, os, sys
import mlp_exp, torch
mkl = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
g = torch.Generator().manual_seed(0)
X, W1 = torch.rand(256, 784, generator=g), torch.randn(784, 256, generator=g) * 0.01
torch.save({"loaded": mlp_exp.MKL_LIBRARY_LOADED, "cpu": mkl.mkl_serv_cpu_detect(), "H": X @ W1}, sys.argv[1])
"""


def amd_with_avx512() -> bool:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return "AuthenticAMD" in cpuinfo and "avx512f" in cpuinfo.split()


def probe(path: Path, **env: str) -> dict:
    subprocess.run([sys.executable, "-c", PROBE, str(path)], env={**os.environ, **env}, check=True)
    return torch.load(path)


@pytest.mark.skipif(not amd_with_avx512(), reason="MKL's vendor check slows only AMD CPUs with AVX-512")
@pytest.mark.skipif(
    not mkl_on_amd.LIBRARY.exists() and shutil.which("cc") is None,
    reason="no C compiler, so scripts/setup.sh could not build the library",
)
def test_mkl_takes_its_avx512_path_with_the_same_results(tmp_path):
    assert mkl_on_amd.LIBRARY.exists(), "scripts/setup.sh did not build the library"
    assert mlp_exp.MKL_LIBRARY_LOADED  # in this process too (conftest imports mlp_exp before torch), as in every run
    on = probe(tmp_path / "on.pt")
    off = probe(tmp_path / "off.pt", **{mkl_on_amd.OFF_SWITCH: "0"})
    assert on["loaded"] and not off["loaded"]
    assert on["cpu"] != off["cpu"]  # MKL's own CPU detection, which picks its kernels, sees another CPU
    torch.testing.assert_close(on["H"], off["H"])  # equal up to float rounding


def test_the_environment_turns_it_off_before_anything_is_looked_at(monkeypatch, tmp_path, caplog):
    library = tmp_path / "library.so"
    library.touch()
    monkeypatch.setattr(mkl_on_amd, "LIBRARY", library)
    monkeypatch.setattr(mkl_on_amd, "_amd_with_avx512", lambda: True)  # on any CPU
    monkeypatch.setenv(mkl_on_amd.OFF_SWITCH, "0")
    assert not mkl_on_amd.load()
    assert caplog.text == ""  # not even the warning about torch's import, which the next test gets


def test_it_is_not_loaded_where_the_cpu_is_not_amd_with_avx512(monkeypatch, tmp_path, caplog):
    library = tmp_path / "library.so"
    library.touch()
    monkeypatch.setattr(mkl_on_amd, "LIBRARY", library)
    monkeypatch.setattr(mkl_on_amd, "_amd_with_avx512", lambda: False)
    monkeypatch.delenv(mkl_on_amd.OFF_SWITCH, raising=False)
    assert not mkl_on_amd.load()
    assert caplog.text == ""  # not even the warning about torch's import: it would change nothing here


def test_it_is_loaded_on_amd_cpus_with_avx512_only(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    for text, expected in [
        ("vendor_id : AuthenticAMD\nflags : fpu avx2 avx512f avx512dq\n", True),
        ("vendor_id : AuthenticAMD\nflags : fpu avx2\n", False),  # Zen 3: AVX2 only
        ("vendor_id : GenuineIntel\nflags : fpu avx2 avx512f\n", False),  # MKL runs its AVX-512 kernels there anyway
    ]:
        cpuinfo.write_text(text)
        assert mkl_on_amd._amd_with_avx512(cpuinfo) is expected, text


def test_loaded_after_torch_it_says_to_import_mlp_exp_first(monkeypatch, tmp_path, caplog):
    library = tmp_path / "library.so"
    library.touch()
    monkeypatch.setattr(mkl_on_amd, "LIBRARY", library)
    monkeypatch.setattr(mkl_on_amd, "_amd_with_avx512", lambda: True)  # on any CPU
    monkeypatch.delenv(mkl_on_amd.OFF_SWITCH, raising=False)
    assert not mkl_on_amd.load()  # torch is imported in this process
    assert "import mlp_exp first" in caplog.text


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no C compiler here")
def test_the_build_command_builds_once_where_it_helps_and_says_what_it_did(monkeypatch, tmp_path):
    monkeypatch.setattr(mkl_on_amd, "LIBRARY", tmp_path / "lib" / "library.so")
    monkeypatch.setattr(mkl_on_amd, "_amd_with_avx512", lambda: True)  # on any CPU
    monkeypatch.delenv(mkl_on_amd.OFF_SWITCH, raising=False)
    assert (
        f"{command(*mkl_on_amd.BUILD.split())} turns them on (MLP_EXP_MKL_ON_AMD=0 silences this)"
        in mkl_on_amd.not_built()
    )

    assert mkl_on_amd.build() == f"built {mkl_on_amd.LIBRARY}: mlp_exp's runs use MKL's AVX-512 kernels from now on"
    assert mkl_on_amd.LIBRARY.read_bytes().startswith(b"\x7fELF") and mkl_on_amd.not_built() is None
    assert list(mkl_on_amd.LIBRARY.parent.iterdir()) == [mkl_on_amd.LIBRARY]  # no temporary file left
    assert mkl_on_amd.build() == f"{mkl_on_amd.LIBRARY} is built already"

    source = tmp_path / "mkl_on_amd.c"  # changed since: built again
    source.write_text(mkl_on_amd.SOURCE.read_text())
    monkeypatch.setattr(mkl_on_amd, "SOURCE", source)
    os.utime(mkl_on_amd.LIBRARY, (0, 0))
    assert mkl_on_amd.build().startswith("built ")

    source.write_text("int broken(void) {")  # a compiler's error: one line naming it, nothing left behind
    os.utime(mkl_on_amd.LIBRARY, (0, 0))
    with pytest.raises(OSError, match=rf"failed on {source} \(.*\); is it a working C compiler\?$"):
        mkl_on_amd.build()
    assert list(mkl_on_amd.LIBRARY.parent.iterdir()) == [mkl_on_amd.LIBRARY]


def test_the_build_command_needs_a_compiler_only_where_it_helps(monkeypatch, tmp_path):
    monkeypatch.setattr(mkl_on_amd, "LIBRARY", tmp_path / "library.so")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(mkl_on_amd, "_amd_with_avx512", lambda: False)
    assert mkl_on_amd.build().startswith("not needed: ") and mkl_on_amd.not_built() is None
    monkeypatch.setattr(mkl_on_amd, "_amd_with_avx512", lambda: True)
    with pytest.raises(OSError, match=r"^no C compiler \(cc or gcc\) on PATH; install one"):
        mkl_on_amd.build()
