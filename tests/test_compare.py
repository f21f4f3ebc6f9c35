"""Comparing a sweep's jobs: the terminal table and plot of `python -m mlp_exp.compare`, and TensorBoard's
HParams dashboard as a real TensorBoard server shows it."""

from __future__ import annotations

import json
import math
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest
from conftest import compose_cfg, metrics_of, tiny_overrides, write_tiny_dataset
from omegaconf import OmegaConf
from test_checkpoint import HOLD_RUN_DIR

from mlp_exp import compare, resume
from mlp_exp.files import command, resume_command
from mlp_exp.interrupt import Terminated
from mlp_exp.records import read_metrics
from mlp_exp.train import train

# Two jobs that train, one that diverges, one that fails before training: its lr resolves only in the job, to
# minus the job's number (-3), which the job rejects (a sweep refuses lr=-3 itself before any job runs).
LRS = {"0.05": "completed", "0.5": "completed", "1e6": "diverged", "-${hydra:job.num}": "failed"}
REQUIRED_HPARAMS = {"hiddens", "lr", "init_scale", "activation", "optimizer", "batch_size", "epochs", "dataset", "seed"}


def sweep_dir_of(cwd: Path) -> Path:
    (sweep_dir,) = (cwd / "outputs" / "multirun").iterdir()
    return sweep_dir


def job_dirs(sweep_dir: Path) -> list[Path]:
    """A sweep's job dirs in job order."""
    jobs = [path for path in sweep_dir.iterdir() if path.is_dir() and not path.name.startswith(".")]
    return sorted(jobs, key=lambda job: int(job.name.split("_", 1)[0]))


@pytest.fixture(scope="module")
def mixed_sweep(tmp_path_factory) -> Path:
    """A real sweep over lr, run once for this module; returns its sweep dir."""
    cwd = tmp_path_factory.mktemp("sweep")
    root = cwd / "data"
    write_tiny_dataset(root / "FashionMNIST" / "raw")
    result = subprocess.run(
        [sys.executable, "-m", "mlp_exp", "-m", f"lr={','.join(LRS)}", "hiddens=32"]
        + tiny_overrides(root, "epochs=2", "batch_size=100", "device=cpu"),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode != 0  # Hydra reports the failed jobs once all have run
    return sweep_dir_of(cwd)


def test_a_failed_or_diverged_job_keeps_the_other_jobs_results(mixed_sweep):
    jobs = job_dirs(mixed_sweep)
    for job, expected in zip(jobs, LRS.values(), strict=True):
        if expected == "failed":
            assert not (job / "metrics.json").exists() and "lr=-3 is not allowed" in (job / "mlp_exp.log").read_text()
        else:
            assert metrics_of(job)["status"] == expected


def run_compare(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlp_exp.compare", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_compare_reads_and_plots_runs_without_torchs_import(mixed_sweep, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")  # every module imported, on stderr
    result = run_compare(str(mixed_sweep), "--png", str(tmp_path / "plot.png"))
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert result.returncode == 0 and (tmp_path / "plot.png").is_file()
    assert {"tensorboard", "matplotlib"} <= imported and "torch" not in imported  # ~1.5 s and ~500 MB of its own


def test_compare_prints_the_jobs_best_first_and_marks_the_ones_that_did_not_complete(mixed_sweep, tmp_path):
    png = tmp_path / "plot.png"
    result = run_compare(str(mixed_sweep), "--png", str(png))

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.startswith("run "))
    header, rows = lines[header_at].split(), [line.split() for line in lines[header_at + 1 : header_at + 1 + len(LRS)]]
    # Only lr differs between the jobs; what they share is said once above the table.
    assert header == ["run", "lr", "test_acc", "train_acc", "train_loss", "epochs_done", "status"]
    (same,) = [line for line in lines[:header_at] if line.startswith("same in all: hiddens=32 ")]
    assert "depth=" not in same and "width=" not in same  # they restate hiddens, for TensorBoard
    assert [(row[1], row[-1]) for row in rows] == [
        ("0.5", "completed"),
        ("0.05", "completed"),
        ("1e+06", "diverged"),
        ("-3", "failed"),
    ]
    by_name = {job.name: job for job in job_dirs(mixed_sweep)}
    for row in rows[:3]:
        assert row[2] == f"{metrics_of(by_name[row[0]])['test_acc']:.4f}"
    assert rows[3][2:5] == ["-", "-", "-"]
    assert any(line.endswith("failed: lr=-3 is not allowed: use a positive number, e.g. lr=0.1") for line in lines)

    image = matplotlib.image.imread(png)
    assert image.shape[1] > image.shape[0] > 100 and image.std() > 0


def stopped_copy(sweep_dir: Path, tmp_path: Path, **hydra_settings: Any) -> Path:
    """A copy of `sweep_dir` as if stopped in job 0 (no dirs of the later jobs), its multirun.yaml's hydra settings
    changed as given (dotted keys with __ for .)."""
    copy = tmp_path / sweep_dir.name
    shutil.copytree(sweep_dir, copy)
    config = OmegaConf.load(copy / "multirun.yaml")
    for key, value in hydra_settings.items():
        OmegaConf.update(config.hydra, key.replace("__", "."), value)
    OmegaConf.save(config, copy / "multirun.yaml")
    for job in job_dirs(copy)[1:]:
        shutil.rmtree(job)
    return copy


def test_the_jobs_of_a_stopped_sweep_that_never_began_are_listed_as_not_started_with_their_knobs(mixed_sweep, tmp_path):
    recorded = {run.name: run.hparams for run in compare.find_runs(mixed_sweep)}
    runs = {run.name: run for run in compare.find_runs(stopped_copy(mixed_sweep, tmp_path))}

    assert sorted(runs) == sorted(recorded)  # each job by the name its dir would have
    never_began = job_dirs(mixed_sweep)[1:]
    for job, lr in zip(never_began, list(LRS)[1:], strict=True):
        run = runs[job.name]
        assert run.status == "not started" and not run.curves
        if "${" in lr:  # a value only the job resolves: the knobs its overrides give, as given
            assert run.hparams["lr"] == lr
        else:  # every knob, as the job's run recorded it
            assert run.hparams == recorded[job.name]


def test_a_sweep_stopped_before_some_jobs_began_is_what_resume_on_its_folder_names(mixed_sweep, tmp_path, capsys):
    stopped = stopped_copy(mixed_sweep, tmp_path / "multirun")  # its only job completed

    with pytest.raises(SystemExit) as exit_:
        resume.main([str(tmp_path)])

    assert exit_.value.code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(f"; the unfinished one under it written to last goes on with {resume_command(stopped)}")
    )


def test_a_job_is_listed_once_as_it_ended_whichever_of_its_records_was_deleted(mixed_sweep, tmp_path):
    copy = tmp_path / "sweep"
    shutil.copytree(mixed_sweep, copy)
    recorded = {run.name: (run.status, run.hparams, run.curves) for run in compare.find_runs(copy)}
    completed = [job for job in job_dirs(copy) if (read_metrics(job) or {}).get("status") == "completed"]
    for event_file in completed[0].glob("events.out.tfevents.*"):
        event_file.unlink()  # metrics.json says it all
    (completed[1] / "metrics.json").unlink()  # the event file says it all
    shutil.rmtree(completed[1] / ".hydra")  # and it is no job that never began

    runs = compare.find_runs(copy)

    assert len(runs) == len(recorded) and {run.name: (run.status, run.hparams) for run in runs} == {
        name: (status, hparams) for name, (status, hparams, _) in recorded.items()
    }
    by_name = {run.name: run for run in runs}
    assert by_name[completed[0].name].curves == recorded[completed[0].name][2]  # the log's numbers
    assert [epoch for epoch, _ in by_name[completed[1].name].curves["test/acc"]] == [1, 2]  # float32's numbers


def test_a_dir_with_a_damaged_metrics_json_and_no_event_file_is_listed_as_unreadable(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.json").write_text("{not json")
    (run,) = compare.report(tmp_path)
    assert run.status == "unreadable"
    assert "run unreadable: its metrics.json cannot be read, nor an event file" in capsys.readouterr().out.splitlines()


def test_a_planned_jobs_dir_without_its_records_is_a_job_not_started(mixed_sweep, tmp_path):
    """Hydra makes a job's dir before it writes .hydra/ there: a Ctrl-C in between leaves it empty."""
    stopped = stopped_copy(mixed_sweep, tmp_path)
    never_began = [job.name for job in job_dirs(mixed_sweep)[1:]]
    (stopped / never_began[0]).mkdir()
    runs = {run.name: run.status for run in compare.find_runs(stopped)}
    assert [runs[name] for name in never_began] == ["not started"] * len(never_began)


# A process that holds the dir given (as a sweep's process does) until it is killed.
HOLDS_ITS_DIR = """
import sys, time
from mlp_exp.lock import only_process_in
with only_process_in(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def test_unfinished_runs_are_counted_with_the_resume_that_finishes_them(mixed_sweep, tmp_path, capsys):
    stopped = stopped_copy(mixed_sweep, tmp_path)  # its jobs but the first never began
    runs = compare.report(stopped)
    unfinished = f"{len(runs) - 1} of {len(runs)} unfinished"
    assert f"{unfinished}; go on with: {resume_command(stopped)}" in capsys.readouterr().out.splitlines()
    holder = subprocess.Popen(  # the sweep still running, in a process of its own: it goes on with them itself
        [sys.executable, "-c", HOLDS_ITS_DIR, str(stopped)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        compare.report(stopped)
    finally:
        holder.kill()
        holder.wait()
    assert f"{unfinished}; their sweep goes on with them" in capsys.readouterr().out.splitlines()

    job = job_dirs(stopped)[0]
    metrics = json.loads((job / "metrics.json").read_text())
    (job / "metrics.json").write_text(json.dumps({**metrics, "status": "interrupted"}))
    shutil.copytree(job, tmp_path / "run")  # and a run of its own, beside the sweep
    compare.report(tmp_path / "run")
    assert f"unfinished; go on with: {resume_command(tmp_path / 'run')}" in capsys.readouterr().out.splitlines()
    compare.report(mixed_sweep)  # each job ended: none to go on with
    assert "unfinished" not in capsys.readouterr().out


def test_a_run_that_says_running_is_running_while_a_process_holds_it_and_else_cut_short(
    tmp_path, tiny_root, capsys, monkeypatch
):
    run_dir = tmp_path / "run"
    train(compose_cfg(*tiny_overrides(tiny_root, "epochs=1", "device=cpu")), run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").write_text(json.dumps({**metrics, "status": "running"}))  # as SIGKILL leaves it
    assert [run.status for run in compare.find_runs(run_dir)] == ["cut short"]
    compare.report(run_dir)
    assert f"unfinished; go on with: {resume_command(run_dir)}" in capsys.readouterr().out.splitlines()
    with monkeypatch.context() as no_locks:  # a file system without them (some NFS): no telling, so as it says
        no_locks.setattr(compare, "in_use", lambda directory: None)
        assert [run.status for run in compare.find_runs(run_dir)] == ["running"]
    # On another machine (a Slurm job's, on a shared disk) its process and its lock cannot be seen from here.
    (run_dir / "metrics.json").write_text(json.dumps({**metrics, "status": "running", "host": "node-17"}))
    assert [run.status for run in compare.find_runs(run_dir)] == ["running"]
    (run_dir / "metrics.json").write_text(json.dumps({**metrics, "status": "running"}))

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_RUN_DIR, str(run_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        assert [run.status for run in compare.find_runs(run_dir)] == ["running"]
    finally:
        holder.kill()
        holder.wait()


def test_planned_jobs_are_told_apart_by_number_and_named_by_the_sweeps_own_subdir(mixed_sweep, tmp_path):
    # Four jobs with the same overrides, named by number alone.
    task = [
        re.sub(r"^lr=.*", "lr=0.05,0.05,0.05,0.05", override)
        for override in OmegaConf.to_container(OmegaConf.load(mixed_sweep / "multirun.yaml").hydra.overrides.task)
    ]
    stopped = stopped_copy(mixed_sweep, tmp_path, overrides__task=task, sweep__subdir="${hydra.job.num}")
    planned = compare.unstarted_jobs(stopped, stopped)
    assert [(run.name, run.hparams["lr"]) for run in planned] == [("1", 0.05), ("2", 0.05), ("3", 0.05)]


def test_a_planned_jobs_knobs_are_composed_as_its_run_will_record_them_or_else_read_from_its_overrides(mixed_sweep):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from mlp_exp.config import flat_hparams

    def knobs_of(job: list[str]) -> dict:
        return compare._PlannedKnobs(config).of(OverridesParser.create().parse_overrides(job))

    config = OmegaConf.load(mixed_sweep / "multirun.yaml")
    job = ["optimizer=momentum", "hiddens=[32,32]", "lr=0.05"]
    planned = knobs_of(job)
    assert planned == {key: compare._as_recorded(value) for key, value in flat_hparams(compose_cfg(*job)).items()}
    assert (planned["optimizer"], planned["momentum"], planned["hiddens"], planned["depth"]) == (
        "momentum",
        0.9,
        "32-32",
        2,
    )
    # A seed only the job can resolve: the knobs its overrides give.
    assert knobs_of(["lr=0.05", "seed=${hydra:job.num}"]) == {
        "lr": 0.05,
        "seed": "${hydra:job.num}",
    }
    # A sweep with a --config-dir of its own: not composed from mlp_exp's configs.
    config.hydra.runtime.config_sources.append({"path": "/elsewhere", "schema": "file", "provider": "command-line"})
    assert knobs_of(job) == {"optimizer": "momentum", "hiddens": "32-32", "lr": 0.05}
    assert knobs_of(["hiddens=64", "threads=1", "optimizer.momentum=0.5", "lr=1e-3"]) == {
        "hiddens": "64",
        "momentum": 0.5,
        "lr": 0.001,
    }
    # SGD with momentum under the name its runs record (as optimizer=momentum's)
    assert knobs_of(["optimizer=sgd", "optimizer.momentum=0.9"]) == {"optimizer": "momentum", "momentum": 0.9}


@pytest.mark.parametrize(
    "setting",
    [
        {
            "sweeper___target_": "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
        },  # trials drawn as it goes
        {"output_subdir": ".cfg"},  # its jobs' records are not where compare reads them
    ],
)
def test_an_optuna_search_or_a_sweep_without_job_records_lists_no_planned_jobs(mixed_sweep, tmp_path, setting):
    assert not compare.unstarted_jobs(mixed_sweep, mixed_sweep)  # a sweep whose jobs all began
    stopped = stopped_copy(mixed_sweep, tmp_path, **setting)
    assert not compare.unstarted_jobs(stopped, stopped)


def test_a_search_stopped_before_its_first_trial_is_named_with_its_resume(tmp_path, capsys):
    search = tmp_path / "search"
    search.mkdir()
    (search / "multirun.yaml").write_text(
        "hydra:\n  sweeper:\n    _target_: hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper\n"
        "    n_trials: 3\n"
    )
    compare.main([str(search)])  # no error: there is nothing to compare yet, but something to go on with
    assert capsys.readouterr().out.splitlines() == [
        f"3 trials of the search not yet drawn; go on with: {resume_command(search)}"
    ]


def test_compare_reads_a_single_run_dir(tiny_root, tmp_path):
    from conftest import compose_cfg

    run_dir = tmp_path / "my_run"
    metrics = train(compose_cfg(*tiny_overrides(tiny_root, "epochs=2", "batch_size=100", "device=cpu")), run_dir)
    result = run_compare(str(run_dir))

    assert result.returncode == 0, result.stderr
    (row,) = [line.split() for line in result.stdout.splitlines() if line.startswith("run ")]
    assert row == ["run", "test_acc", "train_acc", "train_loss", "epochs_done", "status"]
    assert f"my_run  {metrics['test_acc']:.4f}" in result.stdout
    (knobs,) = [line for line in result.stdout.splitlines() if line.startswith("knobs: ")]
    assert knobs.startswith("knobs: hiddens=256 lr=0.1 init_scale=0.01 activation=relu ")  # as the config lists them
    assert " epochs=2 " in knobs and " batch_size=100 " in knobs
    assert (run_dir / "compare.png").is_file()


def test_a_run_of_an_older_mlp_exp_that_recorded_momentum_as_sgd_reads_as_momentum(tiny_root, tmp_path):
    from conftest import compose_cfg

    run_dir = tmp_path / "run"
    train(compose_cfg(*tiny_overrides(tiny_root, "epochs=1", "optimizer=momentum", "device=cpu")), run_dir)
    metrics = metrics_of(run_dir)
    metrics["hparams"]["optimizer"] = "sgd"
    (run_dir / "metrics.json").write_text(json.dumps(metrics))

    assert compare.read_run(run_dir, tmp_path).hparams["optimizer"] == "momentum"


def test_a_run_of_an_older_mlp_exp_has_its_knobs_read_from_its_event_file_in_their_order(tiny_root, tmp_path):
    from conftest import compose_cfg
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    run_dir = tmp_path / "run"
    train(compose_cfg(*tiny_overrides(tiny_root, "epochs=1", "batch_size=100", "device=cpu")), run_dir)
    metrics = metrics_of(run_dir)
    recorded = metrics.pop("hparams")  # which metrics.json did not hold before 2 December 2026
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    with SummaryWriter(str(run_dir)) as writer:  # the Experiment record such a run wrote, which lists the knobs
        writer.file_writer.add_summary(hparams(recorded, {})[0])

    hparams_read = compare.read_run(run_dir, tmp_path).hparams

    assert list(hparams_read.items()) == [(key, compare._as_recorded(value)) for key, value in recorded.items()]


@pytest.mark.parametrize("damaged", ['{"status": "comp', '{"epochs_done": 2}', "[1, 2]"])
def test_a_run_with_a_damaged_metrics_json_reads_as_its_event_file_ended_it(tiny_root, tmp_path, damaged):
    from conftest import compose_cfg

    run_dir = tmp_path / "run"
    metrics = train(compose_cfg(*tiny_overrides(tiny_root, "epochs=1", "batch_size=100", "device=cpu")), run_dir)
    (run_dir / "metrics.json").write_text(damaged)
    run = compare.read_run(run_dir, tmp_path)
    assert run.status == "completed"
    assert list(run.hparams) == list(metrics["hparams"])  # in the run's order, as the table's columns show them


def test_the_table_shows_the_numbers_the_log_printed_not_the_event_files_float32(tiny_root, tmp_path, capsys):
    from conftest import compose_cfg

    run_dir = tmp_path / "run"
    train(compose_cfg(*tiny_overrides(tiny_root, "epochs=1", "batch_size=100", "device=cpu")), run_dir)
    metrics = metrics_of(run_dir)
    metrics["history"][-1]["train_acc"] = 0.60545  # "0.6055" in the log; as float32, 0.6054
    (run_dir / "metrics.json").write_text(json.dumps(metrics))

    compare.report(run_dir)
    header, row = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("run ")]
    assert header[2] == "train_acc" and row[2] == "0.6055"


def test_a_job_whose_sweep_stopped_before_it_began_reads_as_not_started_not_failed(tmp_path, capsys):
    job = tmp_path / "1_lr=0.5"
    (job / ".hydra").mkdir(parents=True)  # what Hydra writes before the job's first line
    (job / ".hydra" / "overrides.yaml").write_text("- lr=0.5\n")
    (job / "mlp_exp.log").write_text("")
    (run,) = compare.find_runs(tmp_path)
    assert (run.status, run.hparams, run.error) == ("not started", {"lr": 0.5}, None)
    compare.report(tmp_path)
    assert "failed" not in capsys.readouterr().out


def test_a_failed_jobs_error_is_the_last_its_log_names_and_jobs_that_rank_alike_are_in_job_order(tmp_path):
    for name in ("10_lr=0.5", "2_lr=0.5"):
        job = tmp_path / name
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text("- lr=0.5\n")
        (job / "mlp_exp.log").write_text(
            "[2026-12-04 10:00:00][mlp_exp][WARNING] - error: a warning's words\n"
            "[2026-12-04 10:00:01][mlp_exp][ERROR] - error: the one it ended on\n"
        )
    runs = [(run.name, run.status, run.error) for run in compare.find_runs(tmp_path)]
    assert runs == [(name, "failed", "the one it ended on") for name in ("2_lr=0.5", "10_lr=0.5")]


def test_dirs_without_a_jobs_record_are_not_runs_and_a_damaged_record_is_read_as_far_as_it_goes(
    tiny_root, tmp_path, capsys
):
    from conftest import compose_cfg

    train(compose_cfg(*tiny_overrides(tiny_root, "epochs=1", "batch_size=100", "device=cpu")), tmp_path / "run")
    (tmp_path / "bare" / ".hydra").mkdir(parents=True)  # e.g. left by a run that was refused, or by hand
    for name, overrides in (("damaged", "- [lr=0.5\n"), ("empty", ""), ("odd", "- 5\n- lr=0.5\n")):
        (tmp_path / name / ".hydra").mkdir(parents=True, exist_ok=True)
        (tmp_path / name / ".hydra" / "overrides.yaml").write_text(overrides)
    runs = {run.name: (run.status, run.hparams) for run in compare.find_runs(tmp_path)}
    assert runs.pop("run")[0] == "completed"
    assert runs == {"damaged": ("not started", {}), "empty": ("not started", {}), "odd": ("not started", {"lr": 0.5})}


def test_compare_on_a_dir_without_runs_is_one_line_and_exit_2(tmp_path):
    result = run_compare(str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        (
            f"error: no runs under {tmp_path} (no TensorBoard event files, no .hydra/ job records); give a run's "
            "dir, a sweep's dir, or a folder of them (outputs/)"
        )
    ]


def test_two_dirs_are_compared_as_one_table_named_from_the_dir_they_share(
    mixed_sweep, tmp_path, tiny_root, monkeypatch, capsys
):
    sweep = tmp_path / "multirun" / "sweep"
    shutil.copytree(mixed_sweep, sweep)
    run_dir = tmp_path / "runs" / "wide"
    train(compose_cfg(*tiny_overrides(tiny_root, "epochs=1", "hiddens=64", "device=cpu")), run_dir)
    monkeypatch.chdir(tmp_path / "runs")
    capsys.readouterr()

    runs = compare.report(sweep, run_dir, sweep / job_dirs(sweep)[0].name)  # the last one inside the first: once

    assert sorted(run.name for run in runs) == sorted(
        [f"multirun/sweep/{job.name}" for job in job_dirs(sweep)] + ["runs/wide"]
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{len(LRS) + 1} runs under {sweep}, {run_dir}, best first"
    assert f"plot: {tmp_path / 'runs' / 'compare.png'}" in lines  # the working dir's
    assert lines[-1].endswith(f"--logdir_spec sweep:{sweep},wide:{run_dir}")

    # Dirs named with commas (a run's overrides), which --logdir_spec cannot take: their shared dir, said to hold more.
    other = run_dir.rename(tmp_path / "runs" / "hiddens=64,lr=0.1")
    compare.report(sweep, other)
    tensorboard = command("tensorboard", "--logdir", tmp_path)
    assert (
        capsys.readouterr().out.splitlines()[-1]
        == f"in TensorBoard, among the other runs under {tmp_path}: {tensorboard}"
    )


@pytest.mark.parametrize("given, problem", [("typo", "does not exist"), ("file", "is not a directory")])
def test_compare_on_a_path_that_is_no_directory_names_it_as_typed_and_exits_2(
    tmp_path, monkeypatch, capsys, given, problem
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as exit_:
        compare.main([given])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {given} {problem}; give a run dir, a sweep dir or outputs/"
    ]


@pytest.mark.parametrize("stop, code", [(KeyboardInterrupt(), 130), (Terminated(), 143)], ids=["ctrl-c", "sigterm"])
def test_compare_stopped_as_it_reads_says_so_in_one_line_with_the_signals_exit_code(
    tmp_path, monkeypatch, capsys, stop, code
):
    def reading(*args, **kwargs):  # reading a big outputs/'s event files takes seconds
        raise stop

    monkeypatch.setattr(compare, "report", reading)
    with pytest.raises(SystemExit) as exit_:
        compare.main([str(tmp_path)])
    assert exit_.value.code == code and capsys.readouterr() == ("Interrupted\n", "")


def test_a_png_path_without_a_suffix_gets_png_and_the_path_printed_is_the_file_written(mixed_sweep, tmp_path):
    result = run_compare(str(mixed_sweep), "--png", str(tmp_path / "plot"))
    assert result.returncode == 0, result.stderr
    assert f"plot: {tmp_path / 'plot.png'}" in result.stdout.splitlines()
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]


@pytest.mark.parametrize(
    "png, problem",
    [
        ("missing/plot.png", ": {tmp}/missing is not a directory; make it first"),
        ("plot.jpgx", ": matplotlib writes no such format; end the name in .png, .pdf or .svg"),
        ("", " is a directory; give a file name, e.g. {tmp}/compare.png"),
    ],
)
def test_a_png_path_compare_cannot_write_is_one_line_and_exit_2(mixed_sweep, tmp_path, png, problem):
    result = run_compare(str(mixed_sweep), "--png", str(tmp_path / png))
    assert result.returncode == 2 and result.stdout == ""  # said before the table, not after it
    assert result.stderr.splitlines() == [f"error: --png {tmp_path / png}{problem.format(tmp=tmp_path)}"]


def test_a_png_the_file_system_refuses_is_one_line_and_exit_2(mixed_sweep):
    result = run_compare(str(mixed_sweep), "--png", "/proc/compare.png")  # /proc takes no new files, even root's
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "error: cannot write /proc/compare.png (No such file or directory); give --png a file you can write"
    ]


@contextmanager
def tensorboard_server(logdir: Path, log_file: Path):
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with open(log_file, "w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tensorboard.main",
                "--logdir",
                str(logdir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/data/runs", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, f"TensorBoard exited: {log_file.read_text()}"
                assert time.monotonic() < deadline, f"TensorBoard never answered: {log_file.read_text()}"
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def ask(url: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_tensorboard_hparams_dashboard_lists_every_job_with_its_knobs_and_final_metrics(mixed_sweep, tmp_path):
    trained = {job.name: metrics_of(job) for job in job_dirs(mixed_sweep) if (job / "metrics.json").exists()}

    with tensorboard_server(mixed_sweep, tmp_path / "tensorboard.log") as url:
        runs = ask(f"{url}/data/runs")
        experiment = ask(f"{url}/data/plugin/hparams/experiment", {"experimentName": ""})
        groups = ask(
            f"{url}/data/plugin/hparams/session_groups",
            {
                "experimentName": "",
                "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
                "colParams": [],
                "startIndex": 0,
                "sliceSize": 100,
            },
        )["sessionGroups"]

    assert sorted(runs) == sorted(trained)  # one TensorBoard run per job that trained
    knobs = {info["name"]: info for info in experiment["hparamInfos"]}
    assert REQUIRED_HPARAMS <= knobs.keys()
    # Numbers, which the dashboard sorts and plots as numbers; hiddens is text, where "1024" comes before "128".
    assert knobs["width"]["type"] == knobs["depth"]["type"] == knobs["lr"]["type"] == "DATA_TYPE_FLOAT64"
    # Ranges over all the jobs: the dashboard shows the knobs that differ first, and filters text knobs by value.
    assert [name for name, info in knobs.items() if info.get("differs")] == ["lr"]
    lrs = [metrics["hparams"]["lr"] for metrics in trained.values()]
    assert knobs["lr"]["domainInterval"] == {"minValue": min(lrs), "maxValue": max(lrs)}
    assert knobs["hiddens"]["domainDiscrete"] == ["32"]
    assert {"test/acc", "train/acc", "train/loss"} <= {info["name"]["tag"] for info in experiment["metricInfos"]}
    assert sorted(group["name"] for group in groups) == sorted(trained)
    for group in groups:
        metrics = trained[group["name"]]
        (session,) = group["sessions"]
        assert session["status"] == {"completed": "STATUS_SUCCESS", "diverged": "STATUS_FAILURE"}[metrics["status"]]
        assert group["hparams"]["lr"] == pytest.approx(metrics["hparams"]["lr"])
        assert group["hparams"]["hiddens"] == "32" and group["hparams"]["dataset"] == "fashion_mnist"
        assert group["hparams"]["width"] == 32 and group["hparams"]["depth"] == 1
        shown = {m["name"]["tag"]: m["value"] for m in group["metricValues"]}
        assert shown["test/acc"] == pytest.approx(metrics["test_acc"])
        assert shown["train/acc"] == pytest.approx(metrics["train_acc"])
        if metrics["status"] == "completed":
            assert shown["train/loss"] == pytest.approx(metrics["train_loss"])


@pytest.mark.parametrize("epochs", [1, 2, 10])
def test_the_curves_epoch_axis_shows_whole_epochs_only(epochs):
    import matplotlib.pyplot as plt

    runs = [
        compare.Run("run", "completed", {"lr": 0.1}, {"test/acc": [(e, 0.5 + e / 100) for e in range(1, epochs + 1)]})
    ]
    fig, ax = plt.subplots()
    compare.plot_curves(ax, runs, ["lr"], "test/acc", "test accuracy")
    fig.canvas.draw()
    low, high = ax.get_xlim()
    shown = [tick for tick in ax.get_xticks() if low <= tick <= high]
    plt.close(fig)
    assert shown and all(tick == int(tick) for tick in shown), shown


def test_no_two_runs_curves_look_alike_past_the_ten_colours():
    import matplotlib.pyplot as plt

    runs = [
        compare.Run(f"{seed}", "completed", {"seed": seed}, {"test/acc": [(1, 0.5), (2, 0.6)]}) for seed in range(25)
    ]
    fig, ax = plt.subplots()
    compare.plot_curves(ax, runs, ["seed"], "test/acc", "test accuracy")
    looks = {(line.get_color(), line.get_linestyle()) for line in ax.get_lines()}
    plt.close(fig)
    assert len(looks) == len(runs)


def test_a_width_or_depth_sweep_shows_hiddens_alone_not_the_numbers_that_restate_it():
    from conftest import compose_cfg

    from mlp_exp.config import flat_hparams

    runs = [
        compare.Run(hiddens, "completed", flat_hparams(compose_cfg(f"hiddens={hiddens}")))
        for hiddens in ["64", "1024", "[64,64]"]
    ]
    assert compare.differing_knobs(runs) == ["hiddens"]


def completed(name: str, hparams: dict, test_acc: float) -> compare.Run:
    return compare.Run(name, "completed", hparams, {"test/acc": [(1, test_acc)]})


def test_runs_of_several_seeds_get_their_mean_and_spread_per_setting_best_first_those_all_done_first():
    runs = [
        completed(f"{i}", {"hiddens": hiddens, "seed": float(seed)}, acc)
        for i, (hiddens, seed, acc) in enumerate(
            [("64", 1, 0.80), ("64", 2, 0.82), ("64", 3, 0.84), ("512", 1, 0.85), ("512", 2, 0.86)]
        )
    ]
    runs.append(compare.Run("5", "diverged", {"hiddens": "512", "seed": 3.0}, {"test/acc": [(1, 0.1)]}))
    runs += [  # a setting none of whose runs completed; a completed run's NaN is no accuracy
        compare.Run("6", "diverged", {"hiddens": "8", "seed": 1.0}, {"test/acc": [(1, math.nan)]}),
        completed("7", {"hiddens": "8", "seed": 2.0}, math.nan),
        completed("8", {"hiddens": "16", "seed": 1.0}, 0.83),  # one seed run twice: two runs, one seed
        completed("9", {"hiddens": "16", "seed": 1.0}, 0.83),
    ]

    lines = compare.seed_means(runs, ["hiddens", "seed"]).splitlines()

    assert [line.split() for line in lines] == [
        ["hiddens", "test_acc_mean", "std", "completed", "seeds"],
        ["16", "0.8300", "0.0000", "2/2", "1"],
        ["64", "0.8200", "0.0200", "3/3", "3"],
        ["512", "0.8550", "0.0071", "2/3", "2"],  # the seeds of the runs in the mean; below the settings all done
        ["8", "-", "-", "0/2", "0"],
    ]
    # One run per setting, or no seed that differs: nothing to average.
    assert compare.seed_means([runs[0], runs[3]], ["hiddens", "seed"]) is None
    assert compare.seed_means(runs, ["hiddens"]) is None


def test_the_report_prints_the_seed_means_below_the_table(tmp_path, monkeypatch, capsys):
    runs = [completed(f"{seed}_seed={seed}", {"lr": 0.1, "seed": float(seed)}, 0.8 + seed / 100) for seed in (1, 2, 3)]
    monkeypatch.setattr(compare, "find_runs", lambda directory, root: runs)

    compare.report(tmp_path, png=tmp_path / "plot.png")

    lines = capsys.readouterr().out.splitlines()
    at = lines.index("over the seeds:")
    assert lines[at - 1].startswith("1_seed=1 ")  # the table's last row, best first
    assert lines[at + 1 : at + 3] == [
        "test_acc_mean  std     completed  seeds",
        "0.8200         0.0100  3/3        3",
    ]


def test_runs_that_held_out_a_validation_set_are_ranked_by_it_and_show_it(tmp_path, monkeypatch, capsys):
    def validated(name: str, val_acc: float, test_acc: float) -> compare.Run:
        return compare.Run(name, "completed", {"lr": 0.1}, {"val/acc": [(1, val_acc)], "test/acc": [(1, test_acc)]})

    runs = [validated("a", 0.80, 0.85), validated("b", 0.84, 0.81)]  # a search's trials, scored on validation
    monkeypatch.setattr(compare, "find_runs", lambda directory, root: runs)
    compare.report(tmp_path, png=tmp_path / "plot.png")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("best first by validation accuracy")
    at = next(i for i, line in enumerate(lines) if line.startswith("run "))
    assert lines[at].split()[1:3] == ["val_acc", "test_acc"]
    assert [line.split()[0] for line in lines[at + 1 : at + 3]] == ["b", "a"]

    # Beside a run that held none out, each is ranked by its test accuracy, and the other's val_acc is blank.
    runs.append(completed("c", {"lr": 0.1}, 0.83))
    compare.report(tmp_path, png=tmp_path / "plot.png")
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("run "))
    assert lines[0].endswith(", best first")
    assert [line.split()[:2] for line in lines[at + 1 : at + 4]] == [["a", "0.8000"], ["c", "-"], ["b", "0.8400"]]


def test_runs_that_share_their_knobs_values_are_told_apart_in_the_legend_by_their_names():
    runs = [
        completed(name, {"hiddens": "64", "lr": lr}, 0.8) for name, lr in [("a/0", 0.1), ("b/0", 0.1), ("b/1", 0.3)]
    ]
    assert compare.labels(runs, ["lr"]) == ["lr=0.1 (a/0)", "lr=0.1 (b/0)", "lr=0.3"]
    assert compare.labels(runs, []) == ["a/0", "b/0", "b/1"]


def test_the_final_accuracy_axis_names_runs_only_where_no_knob_tells_them_apart_and_there_are_several():
    import matplotlib.pyplot as plt

    runs = [completed(f"2026-12-02_18-44-58_{i}", {"lr": 0.1}, 0.8) for i in range(2)]
    fig, ax = plt.subplots()
    compare.plot_final(ax, runs, [])
    compare.plot_final(ax2 := fig.add_subplot(), runs[:1], [])  # one run: its name is in the legend beside
    ticks = [[label.get_text() for label in axis.get_xticklabels()] for axis in (ax, ax2)]
    plt.close(fig)
    assert ticks == [[run.name for run in runs], [""]]


def drawn_figure(monkeypatch, runs: list, tmp_path: Path):
    """The figure compare.plot draws for `runs`, drawn, not yet closed."""
    import matplotlib.pyplot as plt

    figures, close = [], plt.close
    monkeypatch.setattr(plt, "close", figures.append)  # keep the figure plot() is done with
    compare.plot(runs, compare.differing_knobs(runs), tmp_path / "plot.png", "title")
    monkeypatch.setattr(plt, "close", close)
    (fig,) = figures
    fig.canvas.draw()
    return fig


def test_the_legends_of_runs_that_differ_in_several_knobs_cover_no_panel(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    runs = [
        completed(f"{h}_{o}", {"hiddens": h, "optimizer": o, "init_scale": scale}, acc)
        for h, acc in (("64", 0.6), ("1024-512", 0.7))
        for o, scale in (("sgd", 0.01), ("momentum", 0.1))
    ]
    fig = drawn_figure(monkeypatch, runs, tmp_path)
    legends, panels = (
        [legend.get_window_extent() for legend in fig.legends],
        [ax.get_window_extent() for ax in fig.axes],
    )
    plt.close(fig)
    assert len(legends) == 2  # the final accuracy's lines (one per optimizer and scale), and the runs' curves
    assert not any(legend.overlaps(panel) for legend in legends for panel in panels)


@pytest.mark.parametrize("widths", [3, 7])  # 6 runs: a legend of runs beside; 14: none, too many
def test_a_colour_means_one_thing_in_every_panel(tmp_path, monkeypatch, widths):
    import matplotlib.pyplot as plt

    runs = [
        completed(f"{o}_{h}", {"hiddens": str(h), "optimizer": o}, 0.5 + h / 1000)
        for o in ("sgd", "adam")
        for h in (2 ** (4 + i) for i in range(widths))
    ]
    fig = drawn_figure(monkeypatch, runs, tmp_path)
    final, *curves = fig.axes[:3]
    legends = {legend.get_title().get_text(): legend for legend in fig.legends}
    colour_of = {line.get_label(): line.get_color() for line in final.get_lines()}  # each optimizer's
    curve_colours = [[line.get_color() for line in ax.get_lines()] for ax in curves]
    plt.close(fig)
    if widths == 3:  # each run's colour its own, named in a legend of its own
        assert sorted(legends) == ["each run", "final test accuracy"]
        assert all(len(set(colours)) == len(runs) for colours in curve_colours)
    else:  # each run's curves take the colour of its optimizer in the final accuracy's legend
        assert list(legends) == ["final test accuracy"]
        expected = [colour_of[f"optimizer={run.hparams['optimizer']}"] for run in runs]
        assert curve_colours == [expected, expected]


def test_a_search_trials_labels_leave_the_panels_most_of_the_width(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    runs = [  # one search's trials, each with its own value of every knob
        completed(
            str(i),
            {
                "activation": activation,
                "hiddens": str(2**i),
                "optimizer": optimizer,
                "init_scale": i,
                "lr": 0.012345 * i,
            },
            0.5,
        )
        for i, (activation, optimizer) in enumerate([("leaky_relu", "adamw"), ("sigmoid", "momentum"), ("gelu", "sgd")])
    ]
    fig = drawn_figure(monkeypatch, runs, tmp_path)
    (legend,) = [legend for legend in fig.legends if legend.get_title().get_text() == "each run"]
    share = legend.get_window_extent().width / fig.get_window_extent().width
    labels = [text.get_text() for text in legend.get_texts()]
    plt.close(fig)
    assert share < 0.2, share
    assert [label.replace("\n", " ") for label in labels] == compare.labels(runs, compare.differing_knobs(runs))


def test_a_search_whose_every_trial_has_its_own_values_is_drawn_in_one_colour_without_a_legend(tmp_path, monkeypatch):
    import warnings

    import matplotlib.pyplot as plt

    runs = [
        completed(str(i), {"lr": 0.01 * (i + 1), "init_scale": 0.001 * (i + 1), "hiddens": str(64 * (i % 3 + 1))}, 0.5)
        for i in range(20)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "constrained_layout not applied" under 20 legend entries
        fig = drawn_figure(monkeypatch, runs, tmp_path)
    final = fig.axes[0]
    colours = {tuple(c) for points in final.collections for c in points.get_facecolors()}
    plt.close(fig)
    assert fig.legends == [] and final.get_lines() == [] and len(colours) == 1


def test_the_final_accuracy_axis_puts_widths_and_depths_in_natural_order():
    import matplotlib.pyplot as plt

    runs = [
        compare.Run(f"run{i}", "completed", {"hiddens": hiddens}, {"test/acc": [(1, 0.8)]})
        for i, hiddens in enumerate(["512", "64-64", "64", "1024"])  # as the HParams record keeps hiddens
    ]
    fig, ax = plt.subplots()
    compare.plot_final(ax, runs, ["hiddens"])
    ticks = [label.get_text() for label in ax.get_xticklabels()]
    plt.close(fig)
    assert ticks == ["64", "64-64", "512", "1024"]
    # Text with digits that are no decimal digits, and text against numbers, sorts too.
    assert sorted(["x²", "a10", "a9", "9", "gelu"], key=compare._natural_order) == ["9", "a9", "a10", "gelu", "x²"]


def test_the_final_accuracy_plot_draws_each_value_of_a_second_swept_knob_in_its_own_colour():
    import matplotlib.pyplot as plt

    runs = [
        compare.Run(
            f"run{i}", "completed", {"activation": act, "init_scale": scale, "seed": seed}, {"test/acc": [(1, acc)]}
        )
        for i, (act, scale, seed, acc) in enumerate(
            [("relu", 0.01, 1, 0.8), ("relu", 0.01, 2, 0.7), ("tanh", 0.01, 1, 0.6), ("relu", 0.1, 1, 0.5)]
            + [("tanh", 0.1, 1, 0.4), ("tanh", 0.1, 2, 0.3)]
        )
    ]
    fig, ax = plt.subplots()
    compare.plot_final(ax, runs, ["activation", "init_scale", "seed"])
    (legend,) = fig.legends  # below the panels
    legend = [text.get_text() for text in legend.get_texts()]
    means = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    ticks = [label.get_text() for label in ax.get_xticklabels()]
    plt.close(fig)
    assert ticks == ["relu", "tanh"]  # not the seed, whose runs repeat the others' values
    assert legend == ["init_scale=0.01", "init_scale=0.1"]
    assert means == {"init_scale=0.01": [pytest.approx(0.75), 0.6], "init_scale=0.1": [0.5, pytest.approx(0.35)]}


def test_the_final_accuracy_panel_draws_a_trend_only_along_a_knob_that_has_one():
    import matplotlib.pyplot as plt

    fig, (widths, seeds, depths) = plt.subplots(1, 3)
    runs = [completed(f"{h}_{s}", {"hiddens": h, "seed": s}, 0.8) for h in ("64", "256", "1024") for s in (1.0, 2.0)]
    compare.plot_final(widths, runs, ["hiddens", "seed"])
    compare.plot_final(seeds, [completed(f"{s}", {"seed": float(s)}, 0.8 + s / 100) for s in (1, 2, 3)], ["seed"])
    compare.plot_final(depths, [completed(h, {"hiddens": h}, 0.8) for h in ("256", "256-256", "512")] * 2, ["hiddens"])
    fig.canvas.draw()
    ticks = [label.get_text() for label in widths.get_xticklabels()]
    (mean_of_seeds,) = seeds.get_lines()
    (depth_means,) = depths.get_lines()
    plt.close(fig)
    assert ticks == ["64", "256", "1024"]  # the widths run, on the log axis
    assert mean_of_seeds.get_ydata()[0] == pytest.approx(0.82) and len(set(mean_of_seeds.get_ydata())) == 1
    assert depth_means.get_linestyle() == "None"  # a mark per category, no line from one to the next


@pytest.mark.parametrize("swept", ["seed", "optimizer"])
def test_a_setting_none_of_whose_runs_completed_is_drawn_as_crosses_and_keeps_its_colour(tmp_path, monkeypatch, swept):
    import matplotlib.pyplot as plt

    widths = [str(2**i) for i in range(4, 11)]
    if swept == "seed":  # a seeds sweep stopped in its first two jobs
        runs = [compare.Run(f"{s}", "interrupted", {"seed": float(s)}, {"test/acc": [(1, 0.5)]}) for s in (1, 2)]
    else:  # a width sweep with two optimizers, one of which failed at every width: too many runs for a legend
        runs = [
            compare.Run(f"{o}_{h}", status, {"hiddens": h, "optimizer": o}, {"test/acc": [(1, 0.5)]})
            for o, status in (("sgd", "failed"), ("adam", "completed"))
            for h in widths
        ]
    fig = drawn_figure(monkeypatch, runs, tmp_path)
    final, curves = fig.axes[:2]
    crosses = [text.get_text() for text in final.texts]
    colour_of = {line.get_label(): line.get_color() for line in final.get_lines()}
    curve_colours = [line.get_color() for line in curves.get_lines()]
    plt.close(fig)
    assert (tmp_path / "plot.png").is_file()
    if swept == "seed":
        assert crosses == ["interrupted", "interrupted"]
    else:  # the failed runs' curves are drawn in the colour the legend gives sgd
        assert crosses == ["failed"] * len(widths)
        assert curve_colours == [colour_of[f"optimizer={run.hparams['optimizer']}"] for run in runs]
