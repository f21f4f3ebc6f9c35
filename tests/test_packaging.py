"""mlp_exp installed from its wheel (`pip install .`, not editable): the configs travel inside the package."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import FAST, run_cli, tiny_overrides

REPO = Path(__file__).resolve().parents[1]


def test_a_wheel_install_runs_with_its_own_configs(tiny_root, tmp_path, monkeypatch):
    # Built from a copy: setuptools leaves a build/ directory beside the sources it builds.
    source = tmp_path / "source"
    for name in ("mlp_exp", "conf"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "wheel", source], check=True)
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", site, *(tmp_path / "wheel").glob("*.whl")], check=True)
    shutil.rmtree(source)  # nothing of the sources is left to find the configs in
    assert (site / "mlp_exp" / "mkl_on_amd.c").is_file()  # for python -m mlp_exp.build_mkl_on_amd

    monkeypatch.setenv("PYTHONPATH", str(site))  # before the editable install of this clone on sys.path
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    where = subprocess.run(
        [sys.executable, "-c", "from mlp_exp import config, data; print(config.CONF_DIR, data.PROJECT_DATA)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.split() == [str(site / "mlp_exp" / "conf"), str(tmp_path / "cache" / "mlp_exp")]
    run_dir = tmp_path / "run"
    result = run_cli(*tiny_overrides(tiny_root, *FAST, "optimizer=adam"), f"hydra.run.dir={run_dir}", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    sources = yaml.safe_load((run_dir / ".hydra" / "hydra.yaml").read_text())["hydra"]["runtime"]["config_sources"]
    assert {"path": str(site / "mlp_exp" / "conf"), "schema": "file", "provider": "main"} in sources
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["hparams"]["optimizer"] == "adam"
