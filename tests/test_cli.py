"""`python -m mlp_exp` as a user runs it: a real subprocess on tiny data."""

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import FAST, metrics_of, run_cli, tiny_overrides
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from test_train import hparams_plugin_data

from mlp_exp import cli, compare, interrupt, resume
from mlp_exp.files import command


def test_a_run_fills_its_own_run_dir(tiny_root, tmp_path):
    run_dir = tmp_path / "my_run"
    result = run_cli(
        *tiny_overrides(tiny_root, *FAST, "hiddens=512", "lr=0.05"), f"hydra.run.dir={run_dir}", cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert "epoch  1/2" in result.stdout and "epoch  2/2" in result.stdout
    assert f"Open it in TensorBoard: {command('tensorboard', '--logdir', run_dir)}" in result.stdout
    assert (run_dir / "mlp_exp.log").is_file() and not (run_dir / "__main__.log").exists()
    assert "epoch  2/2" in (run_dir / "mlp_exp.log").read_text()
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "completed"

    saved = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    assert saved["hiddens"] == 512 and saved["lr"] == 0.05
    events = EventAccumulator(str(run_dir))
    events.Reload()
    hparams = hparams_plugin_data(events)["session_start_info"].session_start_info.hparams
    assert hparams["hiddens"].string_value == "512" and abs(hparams["lr"].number_value - 0.05) < 1e-12


def test_a_run_that_works_in_its_run_dir_reads_a_relative_data_root_from_where_it_was_started(tiny_root, tmp_path):
    run_dir = tmp_path / "runs" / "chdir"
    result = run_cli(
        *tiny_overrides("data", *FAST), "hydra.job.chdir=true", f"hydra.run.dir={run_dir}", cwd=tiny_root.parent
    )
    assert result.returncode == 0, result.stderr
    assert metrics_of(run_dir)["status"] == "completed"
    assert not (run_dir / "data").exists()  # no copy of the data of its own


def test_default_run_dirs_are_readable_and_distinct_for_runs_started_together(tiny_root, tmp_path):
    args = [sys.executable, "-m", "mlp_exp", *tiny_overrides(tiny_root, *FAST, "hiddens=16")]
    runs = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for run in runs:
        assert run.wait(timeout=120) == 0, run.stderr.read()

    run_dirs = sorted((tmp_path / "outputs" / "runs").iterdir())
    assert len(run_dirs) == 2
    for run_dir in run_dirs:
        stamp, overrides = run_dir.name.split("_", 2)[:2], run_dir.name.split("_", 2)[2]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d-\d+", "_".join(stamp))
        assert overrides == "batch_size=100,dataset.download=false,device=cpu,epochs=2,hiddens=16"
        assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1


def test_sweeps_started_together_get_a_sweep_dir_each(tiny_root, tmp_path):
    args = [sys.executable, "-m", "mlp_exp", "-m", "seed=1,2", *tiny_overrides(tiny_root, "epochs=1", "hiddens=8")]
    sweeps = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for sweep in sweeps:
        assert sweep.wait(timeout=120) == 0, sweep.stderr.read()

    sweep_dirs = sorted((tmp_path / "outputs" / "multirun").iterdir())
    assert len(sweep_dirs) == 2
    for sweep_dir in sweep_dirs:  # the time, and the process id, which keeps sweeps started in one second apart
        assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d-\d+", sweep_dir.name)
        assert len(list(sweep_dir.glob("[01]_*/metrics.json"))) == 2


def test_a_multirun_sweep_gives_each_job_its_own_dir(tiny_root, tmp_path):
    result = run_cli("-m", *tiny_overrides(tiny_root, *FAST, "hiddens=16,32"), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    (sweep_dir,) = (tmp_path / "outputs" / "multirun").iterdir()
    jobs = sorted(p.name for p in sweep_dir.iterdir() if p.is_dir())
    assert len(jobs) == 2
    assert jobs[0].startswith("0_") and "hiddens=16" in jobs[0]
    assert jobs[1].startswith("1_") and "hiddens=32" in jobs[1]
    for job in jobs:
        assert json.loads((sweep_dir / job / "metrics.json").read_text())["status"] == "completed"
        assert len(list((sweep_dir / job).glob("events.out.tfevents.*"))) == 1
    # mlp_exp's own lines before the jobs read as the jobs' do; Hydra's keep its label.
    assert f"\nSweep dir: {sweep_dir} (compare its jobs: " in result.stdout
    assert result.stdout.startswith(f"Prepared fashion_mnist from {tiny_root / 'FashionMNIST' / 'raw'} into ")
    assert "[HYDRA] Launching 2 jobs locally" in result.stdout


def test_the_console_script_runs_the_same_app(tiny_root, tmp_path):
    script = Path(sys.executable).parent / "mlp-exp"
    assert script.exists() or shutil.which("mlp-exp")
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [
            str(script if script.exists() else shutil.which("mlp-exp")),
            *tiny_overrides(tiny_root, *FAST),
            f"hydra.run.dir={run_dir}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (run_dir / "mlp_exp.log").is_file() and (run_dir / "metrics.json").is_file()


def test_missing_data_is_one_line_and_a_non_zero_exit_before_the_run_dir(tmp_path):
    result = run_cli(
        f"dataset.root={tmp_path / 'none'}",
        "dataset.system_dir=null",
        "dataset.download=false",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stdout == "" and result.stderr.startswith("error: fashion_mnist not found")
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "run").exists()  # nothing that compare would list as a failed run


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tune_process sets glibc's malloc only")
def test_a_run_process_reuses_freed_memory_instead_of_faulting_fresh_pages_in_every_epoch():
    """Evaluating the test set allocates and frees the same few MB every epoch. Under glibc's defaults the median
    evaluation after the first two (which grow the heap) faulted 500-6000 fresh pages in, in 7 of 8 processes
    here (0 in the other, by the luck of the heap's layout). With tune_process it faulted none, but now and then
    a process faults 512 (one 2 MB activation) in every evaluation: so the median of three processes counts."""
    evaluate_ten_times = """
import resource, sys
from mlp_exp.process import tune_process  # first, as in every run: see mlp_exp/mkl_on_amd.py
import torch
from mlp_exp.config import Activation
from mlp_exp.model import MLP
from mlp_exp.train import predict
tune_process()
net, X = MLP(784, [256], 10, Activation.relu, 0.01), torch.rand(10000, 784)
faults = []
for _ in range(10):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    predict(net, X)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(sorted(faults[2:])[4])  # the median evaluation once warm
"""

    command = [sys.executable, "-c", evaluate_ten_times]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    medians = [
        int(subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout) for _ in range(3)
    ]
    assert sorted(medians)[1] < 100, medians


def test_printed_commands_start_this_environments_programs_as_the_users_shell_finds_them(monkeypatch):
    bin_dir = Path(sys.executable).parent
    monkeypatch.setattr(shutil, "which", lambda name: str(bin_dir / name))  # an activated venv
    assert command("python", "-m", "mlp_exp.resume", "/runs/a b") == "python -m mlp_exp.resume '/runs/a b'"
    for elsewhere in (lambda name: None, lambda name: f"/usr/bin/{name}"):  # `.venv/bin/python -m mlp_exp`
        monkeypatch.setattr(shutil, "which", elsewhere)
        assert command("tensorboard", "--logdir", "outputs") == f"{bin_dir / 'tensorboard'} --logdir outputs"
        assert command("python", "-m", "mlp_exp.compare") == f"{sys.executable} -m mlp_exp.compare"  # even python3
    # Started as ../venv/bin/python: the path printed without its `..`.
    monkeypatch.setattr(sys, "executable", str(bin_dir / ".." / "bin" / Path(sys.executable).name))
    assert command("python") == str(bin_dir / Path(sys.executable).name)
    assert command("tensorboard") == str(bin_dir / "tensorboard")


CTRL_C_INSIDE_TORCHS_IMPORT = """
import builtins, os, signal, sys
from mlp_exp import interrupt

real_import = builtins.__import__

def import_(name, *args, **kwargs):  # Ctrl-C as torch's C++ code imports numpy, which takes it for "no numpy"
    if name.startswith("numpy") and "numpy" not in sys.modules:
        os.kill(os.getpid(), signal.SIGINT)
    return real_import(name, *args, **kwargs)

builtins.__import__ = import_
try:
    interrupt.import_torch()
except KeyboardInterrupt:
    print("stopped after the import:", "torch" in sys.modules, hasattr(sys.modules["numpy"], "matrix"))
"""


def test_a_ctrl_c_while_torch_is_imported_stops_the_run_once_the_import_is_done():
    script = [sys.executable, "-c", CTRL_C_INSIDE_TORCHS_IMPORT]
    result = subprocess.run(script, capture_output=True, text=True, check=False)
    assert result.stdout.split() == ["stopped", "after", "the", "import:", "True", "True"], result.stderr


def test_a_ctrl_c_before_training_started_says_nothing_was_trained(monkeypatch, capsys, tmp_path):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "tune_process", interrupted)  # the last step before training starts
    monkeypatch.setattr(sys, "argv", ["mlp_exp", f"hydra.run.dir={tmp_path / 'run'}"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 130
    assert capsys.readouterr().out.splitlines() == ["Interrupted before training started; nothing was trained"]


def raised_as_a_ctrl_c_unwound(error: Exception) -> Exception:
    """`error` as OmegaConf raises its own when a Ctrl-C leaves a config half made (found by raising
    KeyboardInterrupt at each line of Hydra's composition in turn): its cleanup fails on the half-made config, and
    it raises its error `from None`, the Ctrl-C two contexts down."""
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise AttributeError("'NoneType' object has no attribute '_invalidate_flags_cache'") from None
    except AttributeError:
        try:
            raise error from None
        except type(error) as raised:
            return raised


def test_a_ctrl_c_is_seen_behind_hydras_and_omegaconfs_errors_only():
    from hydra.errors import ConfigCompositionException

    assert isinstance(interrupt.hidden_in(raised_as_a_ctrl_c_unwound(ConfigCompositionException())), KeyboardInterrupt)
    assert interrupt.hidden_in(ConfigCompositionException()) is None  # a config error of its own
    # The run's own error as a stopped run's records are closed (a full disk): that error, to be said as it is.
    assert interrupt.hidden_in(raised_as_a_ctrl_c_unwound(OSError(28, "No space left on device"))) is None


def test_a_ctrl_c_while_hydra_composes_a_sweeps_next_job_is_a_ctrl_c_not_a_config_error(
    monkeypatch, capsys, tiny_root, tmp_path
):
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.errors import ConfigCompositionException

    load_sweep_config, jobs = ConfigLoaderImpl.load_sweep_config, []

    def interrupted_halfway(self, *args, **kwargs):
        jobs.append(args or kwargs)
        if len(jobs) == 2:  # the second job's config (made to check the sweep's jobs, and again to run each)
            raise raised_as_a_ctrl_c_unwound(ConfigCompositionException())
        return load_sweep_config(self, *args, **kwargs)

    monkeypatch.setattr(ConfigLoaderImpl, "load_sweep_config", interrupted_halfway)
    sweep_dir, out, err = interrupted_sweep(monkeypatch, capsys, tiny_root, tmp_path)
    assert out[-1] == cli.interrupted_sweep_line(sweep_dir, on_slurm=False) and not err


def interrupted_sweep(monkeypatch, capsys, tiny_root, tmp_path):
    """A sweep of two tiny jobs in this process, which some patch interrupts: (its dir, stdout lines, stderr)."""
    sweep_dir = tmp_path / "sweep"
    overrides = tiny_overrides(tiny_root, *FAST, "epochs=1")
    monkeypatch.setattr(sys, "argv", ["mlp_exp", "-m", "seed=1,2", *overrides, f"hydra.sweep.dir={sweep_dir}"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 130
    out, err = capsys.readouterr()
    return sweep_dir, out.splitlines(), err


def test_a_ctrl_c_after_the_run_completed_says_nothing_was_lost(monkeypatch, capsys, tiny_root, tmp_path):
    real_command = cli.command

    def interrupted_at_the_last_line(program, *args):
        if program == "tensorboard":  # the run's last line, after train() returned
            raise KeyboardInterrupt
        return real_command(program, *args)

    monkeypatch.setattr(cli, "command", interrupted_at_the_last_line)
    run_dir = tmp_path / "run"
    completed = f"Interrupted after the run completed; its records in {run_dir} are complete"
    monkeypatch.setattr(sys, "argv", ["mlp_exp", *tiny_overrides(tiny_root, *FAST), f"hydra.run.dir={run_dir}"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 130
    assert capsys.readouterr().out.splitlines()[-1] == completed
    assert metrics_of(run_dir)["status"] == "completed"
    assert cli.interrupted_outside_training() == interrupt.BEFORE_TRAINING  # forgotten, for the next run here

    # The same when the run's resume completes it.
    (run_dir / "metrics.json").write_text(json.dumps({**metrics_of(run_dir), "status": "interrupted"}))
    with pytest.raises(SystemExit) as exit_:
        resume.main([str(run_dir)])
    assert exit_.value.code == 130
    assert capsys.readouterr().out.splitlines()[-1] == completed
    assert cli.interrupted_outside_training() == interrupt.BEFORE_TRAINING


def test_a_ctrl_c_in_a_completed_sweeps_comparison_says_nothing_was_lost(monkeypatch, capsys, tiny_root, tmp_path):
    def interrupted(sweep_dir):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare, "report", interrupted)  # the sweep's last step, after its jobs
    sweep_dir, out, _ = interrupted_sweep(monkeypatch, capsys, tiny_root, tmp_path)
    assert out[-1] == (
        f"Interrupted after the sweep completed; its records in {sweep_dir} are complete "
        f"(compare its jobs: {command('python', '-m', 'mlp_exp.compare', sweep_dir)})"
    )
    assert [metrics_of(job)["status"] for job in sorted(sweep_dir.glob("[01]_*"))] == ["completed", "completed"]
    assert cli.interrupted_outside_training() == interrupt.BEFORE_TRAINING  # forgotten, for the next sweep here
