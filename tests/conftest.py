"""Shared fixtures: composed configs and tiny, learnable datasets in torchvision's raw IDX layout."""

from __future__ import annotations

import gzip
import json
import os
import signal
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose
from omegaconf import DictConfig

from mlp_exp import config
from mlp_exp.config import DatasetName, composing
from mlp_exp.data import RAW_FILES, TORCHVISION_CLASS

config.register()


def pytest_configure(config):
    # The Ctrl-C tests need SIGINT as a terminal delivers it. A test run started in the background from a script
    # (`... &`) inherits SIGINT ignored, and then neither pytest nor the commands the tests start would ever raise
    # KeyboardInterrupt. With a handler here, the commands start with SIGINT's default again.
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def alone_on_the_cores(monkeypatch):
    """A run in this process never finds its threads waiting for cores that other processes keep busy (a parallel
    test session, a CI neighbour): that warning would land among the ones the tests read. The warning's own tests
    set their own clock."""
    monkeypatch.setattr("mlp_exp.train.waited_s", lambda: 0.0)


TINY_TRAIN, TINY_TEST = 600, 100
FAST = ("epochs=2", "batch_size=100", "device=cpu")  # overrides for a quick end-to-end run on the tiny data


def metrics_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def files_under(directory: Path) -> dict[Path, bytes]:
    """Every file under `directory` (by its path relative to it) and its bytes: to see that nothing changed."""
    return {p.relative_to(directory): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


class Payload:
    """What a doctored file could carry: unpickling it runs code (here: writes `marker`)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def options(group: str) -> list[str]:
    """The options of a config group, as conf/GROUP/ holds them: `sgd`, `momentum`, ..."""
    return sorted(path.stem for path in (config.CONF_DIR / group).glob("*.yaml"))


def compose_cfg(*overrides: str) -> DictConfig:
    with composing():
        return compose(config_name="config", overrides=list(overrides))


def write_idx(path: Path, array: np.ndarray) -> None:
    """IDX format: zero, zero, type code (0x08 = uint8), number of dims, big-endian dims, then the bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def tiny_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class k lights up rows 2k+4 and 2k+5 on a noisy background: easy to learn, easy to check."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    images = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        images[i, 2 * k + 4 : 2 * k + 6, :] = 255
    return images, labels


def write_tiny_dataset(directory: Path, gz: bool = False) -> dict[str, np.ndarray]:
    """The four IDX files (train 600, test 100 images) in `directory`; returns the arrays written."""
    directory.mkdir(parents=True, exist_ok=True)
    train_images, train_labels = tiny_split(TINY_TRAIN, seed=1)
    test_images, test_labels = tiny_split(TINY_TEST, seed=2)
    arrays = dict(zip(RAW_FILES, (train_images, train_labels, test_images, test_labels)))
    for name, array in arrays.items():
        write_idx(directory / (f"{name}.gz" if gz else name), array)
    return arrays


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    """A data root holding tiny Fashion-MNIST-shaped files where torchvision looks for them."""
    root = tmp_path / "data"
    write_tiny_dataset(root / TORCHVISION_CLASS[DatasetName.fashion_mnist] / "raw")
    return root


def tiny_overrides(root: Path, *extra: str) -> list[str]:
    """The overrides that point a run at the tiny dataset under `root`, then `extra`; of a key given more than once
    (FAST's epochs=2, then epochs=1), the last: mlp_exp refuses a key given twice."""
    overrides = [f"dataset.root={root}", "dataset.system_dir=null", "dataset.download=false", *extra]
    last = {override.partition("=")[0]: override for override in overrides}
    return list(last.values())


def run_cli(*args: str, cwd: Path, timeout: float = 120, module: str = "mlp_exp") -> subprocess.CompletedProcess:
    """`python -m mlp_exp ARGS` (or another module's command) as a user runs it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def real_fashion_mnist() -> None:
    """Real Fashion-MNIST, prepared; skipped where it is not installed, but a failure in CI (CI=true)."""
    from mlp_exp import data

    try:
        data.prepare(compose_cfg("dataset.download=false").dataset)
    except data.DataError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"real Fashion-MNIST is required in CI: {e}")
        pytest.skip(f"real Fashion-MNIST is not installed here: {e}")
