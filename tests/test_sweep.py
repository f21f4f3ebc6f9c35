"""Sweeps as users start them: presets, parallel and cluster launchers, Optuna search; real subprocesses."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal

import pytest
import torch
import yaml
from conftest import FAST, options, run_cli, tiny_overrides, write_tiny_dataset
from hydra import compose
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import OmegaConf
from test_compare import job_dirs, metrics_of, sweep_dir_of

import mlp_exp
from mlp_exp import compare, mkl_on_amd
from mlp_exp.cli import interrupted_sweep_line
from mlp_exp.config import CONF_DIR, CONFIG_GROUPS, Activation, composing
from mlp_exp.cores import available
from mlp_exp.files import command, resume_command
from mlp_exp.records import CHECKPOINT_FILE
from mlp_exp.resume import unfinished_under
from mlp_exp.sweep import (
    RESUMING,
    SweepCallback,
    joblib_workers,
    jobs_at_once,
    report_failed_sweep,
    resuming_job,
    say_a_list_is_one_job,
    say_jobs_composed_first,
    say_swept_over_the_experiment,
    say_trials_one_by_one,
    threads_per_job,
)

PRESETS = {
    "widths": "hiddens",
    "depths": "hiddens",
    "lrs": "lr",
    "activations": "activation",
    "init_scales": "init_scale",
    "seeds": "seed",
}


def compose_hydra(*overrides: str):
    with composing():
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=True).hydra


def test_the_activations_sweep_and_the_optuna_search_try_every_activation_and_optimizer():
    every_activation = [activation.name for activation in Activation]
    assert compose_hydra("sweep=activations").sweeper.params.activation.split(",") == every_activation
    params = compose_hydra("hparams_search=optuna").sweeper.params
    assert params.activation == f"choice({', '.join(every_activation)})"
    assert sorted(params.optimizer.removeprefix("choice(").removesuffix(")").split(", ")) == options("optimizer")


@pytest.mark.parametrize("preset, knob", PRESETS.items())
def test_each_sweep_preset_sweeps_its_knob_and_needs_no_dash_m(preset, knob):
    hydra_cfg = compose_hydra(f"sweep={preset}")
    assert hydra_cfg.mode is RunMode.MULTIRUN
    (override,) = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in hydra_cfg.sweeper.params.items()])
    assert override.key_or_group == knob
    assert len(list(override.sweep_string_iterator())) >= 3


def test_a_preset_runs_one_job_per_value_in_readable_dirs(tiny_root, tmp_path):
    result = run_cli("sweep=activations", *tiny_overrides(tiny_root, *FAST, "hiddens=16"), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    jobs = job_dirs(sweep_dir_of(tmp_path))
    activations = [re.search(r"activation=(\w+)", job.name).group(1) for job in jobs]
    assert activations == list(Activation.__members__)
    assert not any("sweep=" in job.name for job in jobs)
    assert all(metrics_of(job)["status"] == "completed" for job in jobs)
    assert f"{len(Activation)} runs under" in result.stdout  # the comparison printed when the sweep ends


def test_parallel_jobs_share_the_cores_even_resumed_and_read_data_prepared_before_they_start(tmp_path):
    root = tmp_path / "data"
    for name in ("MNIST", "FashionMNIST"):
        write_tiny_dataset(root / name / "raw")
    result = run_cli(
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "dataset=mnist,fashion_mnist",
        *tiny_overrides(root, *FAST, "hiddens=16"),
        cwd=tmp_path,
        timeout=240,
    )

    assert result.returncode == 0, result.stderr
    for job_num in (0, 1):  # the jobs' lines interleave: each says whose it is
        assert f"\n[#{job_num}] epoch  2/2  train loss " in result.stdout
    launched = result.stdout.index("is launching 2 jobs")
    for name in ("mnist", "fashion_mnist"):
        assert result.stdout.index(f"Prepared {name} from") < launched
    jobs = job_dirs(sweep_dir_of(tmp_path))
    assert len(jobs) == 2
    import joblib

    expected_threads = max(1, joblib.cpu_count() // 2)
    for job in jobs:
        log = (job / "mlp_exp.log").read_text()
        assert "Prepared" not in log
        assert f"(threads: {expected_threads})" in log
        assert (mkl_on_amd.IN_USE in log) == mlp_exp.MKL_LIBRARY_LOADED  # each job got what this process got
        assert metrics_of(job)["status"] == "completed"

    # A job resumed on its own trains on the threads it had in the sweep: its numbers depend on them.
    job = jobs[0]
    (job / "metrics.json").write_text(json.dumps({**metrics_of(job), "status": "interrupted"}))
    resumed = run_cli(str(job), cwd=tmp_path, module="mlp_exp.resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming after epoch 2, its last, to finish the run's records: 784-16-10 MLP" in resumed.stdout
    assert f"(threads: {expected_threads})" in resumed.stdout

    # So does a job of the sweep resumed where the cores are shared otherwise (here: its checkpoint says so).
    state = torch.load(job / CHECKPOINT_FILE, weights_only=True)
    torch.save({**state, "threads": expected_threads + 1}, job / CHECKPOINT_FILE)
    (job / "metrics.json").write_text(json.dumps({**metrics_of(job), "status": "interrupted"}))
    resumed = run_cli(str(sweep_dir_of(tmp_path)), cwd=tmp_path, module="mlp_exp.resume", timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    after_the_sweeps_resume = (job / "mlp_exp.log").read_text().split("Resuming after epoch 2")[-1]
    assert f"(threads: {expected_threads + 1})" in after_the_sweeps_resume


def test_threads_beyond_each_parallel_jobs_share_of_the_cores_are_warned_about_as_the_sweep_starts(tiny_root, tmp_path):
    share = threads_per_job(compose_hydra("hydra/launcher=joblib", "hydra.launcher.n_jobs=2").launcher)
    args = ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=1,2"]
    result = run_cli(*args, *tiny_overrides(tiny_root, *FAST, "epochs=1", f"threads={share + 1}"), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stdout.splitlines() if "more than each of the jobs" in line]
    assert warned == [
        (
            f"threads={share + 1} is more than each of the jobs that run side by side gets of the {available()} cores "
            f"this process may use ({share}): their threads take turns on the cores, which makes each step slower; "
            "leave threads out, and each job takes its share"
        )
    ]
    assert result.stdout.index(warned[0]) < result.stdout.index("is launching 2 jobs")

    within_share = run_cli(*args, *tiny_overrides(tiny_root, *FAST, "epochs=1", f"threads={share}"), cwd=tmp_path)
    assert (
        within_share.returncode == 0 and "more than each of the jobs" not in within_share.stdout + within_share.stderr
    )


@pytest.mark.skipif(available() < 2, reason="one core: one thread for each job however many there are")
def test_a_parallel_sweep_with_fewer_jobs_than_workers_gives_each_job_the_cores_the_others_leave(tiny_root, tmp_path):
    # joblib's default n_jobs=-1 is one worker per core; a sweep of one job has no other job to share them with.
    result = run_cli("-m", "hydra/launcher=joblib", "seed=3", *tiny_overrides(tiny_root, *FAST), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    (job,) = job_dirs(sweep_dir_of(tmp_path))
    assert f"(threads: {available()})" in (job / "mlp_exp.log").read_text()


def test_threads_per_job_divides_the_cores_among_parallel_jobs():
    joblib = compose_hydra("hydra/launcher=joblib").launcher
    joblib.n_jobs = 4
    assert threads_per_job(joblib, cores=8) == 2
    joblib.n_jobs = 3
    assert threads_per_job(joblib, cores=2) == 1
    joblib.n_jobs = -1  # joblib's "one job per core"
    assert threads_per_job(joblib, cores=8) == 1
    joblib.n_jobs = -2  # "all cores but one"
    assert threads_per_job(joblib, cores=8) == 1 and joblib_workers(joblib, cores=8) == 7
    assert threads_per_job(joblib, jobs=3, cores=8) == 2  # three jobs in all: the other cores would idle
    joblib.n_jobs = 2
    assert threads_per_job(joblib, jobs=5, cores=8) == 4
    assert threads_per_job(compose_hydra("hydra/launcher=slurm").launcher, cores=64) == 4  # its cpus_per_task
    local = compose_hydra("hydra/launcher=submitit_local").launcher
    assert threads_per_job(local, cores=8) == 1  # every job at once, however many
    assert threads_per_job(local, jobs=3, cores=8) == 2
    local.cpus_per_task = 2
    assert threads_per_job(local, jobs=3, cores=8) == 2
    assert threads_per_job(compose_hydra().launcher, jobs=3, cores=8) == 0  # one job at a time: torch's default


@pytest.mark.parametrize(
    "overrides, warned",
    [
        (["hydra.launcher.n_jobs=2"], True),  # the search's default: one trial at a time
        (["hydra.launcher.n_jobs=2", "hydra.sweeper.n_jobs=2"], False),
        (["hydra.launcher.n_jobs=2", "hydra.sweeper.n_trials=1"], False),  # one trial in all
        (["hydra.launcher.n_jobs=1"], False),
    ],
)
def test_a_search_asking_for_fewer_trials_at_once_than_the_launcher_runs_is_warned_about(overrides, warned, caplog):
    with composing():
        config = compose("config", ["hparams_search=optuna", "hydra/launcher=joblib", *overrides], True)
    with caplog.at_level(logging.WARNING, logger="mlp_exp"):
        say_trials_one_by_one(config)
    said = (
        "hydra.sweeper.n_jobs=1: Optuna asks for one trial at a time, and the launcher's other workers wait; "
        "hydra.sweeper.n_jobs=2 runs 2 side by side"
    )
    assert caplog.messages == ([said] if warned else [])


@pytest.mark.parametrize(
    "composed, swept, at_once",
    [
        ([], ["seed=1,2,3"], 3),
        ([], ["seed=1,2,3", "lr=0.1,0.2"], 6),
        (["hydra.sweeper.max_batch_size=2"], ["seed=range(1,5)"], 2),  # Hydra hands the launcher 2 at a time
        (["sweep=widths"], [], 7),  # a preset's hydra.sweeper.params
        (["hparams_search=optuna", "hydra.sweeper.n_jobs=3"], [], 3),  # the trials Optuna asks for together
        (["hparams_search=optuna", "hydra.sweeper.n_jobs=3", "hydra.sweeper.n_trials=2"], [], 2),
        ([], ["optimizer=glob(*)"], None),  # expanded by Hydra's config loader only
    ],
)
def test_a_sweeps_jobs_at_once_are_read_from_its_multirun_yaml(composed, swept, at_once, tmp_path):
    with composing():
        config = compose(config_name="config", overrides=composed, return_hydra_config=True)
    config.hydra.overrides.task = swept  # as Hydra records a sweep's command line
    OmegaConf.save(config, tmp_path / "multirun.yaml")
    assert jobs_at_once(tmp_path) == at_once
    assert jobs_at_once(tmp_path / "elsewhere") is None


@pytest.mark.parametrize(
    "composed, warned",
    [
        ([], "about 3 min"),  # 2999 configs
        (["hydra.sweeper.max_batch_size=100"], None),  # 100 at a time: 7 s
        (["hparams_search=optuna"], None),  # Optuna's trials are asked for as it goes
    ],
)
def test_a_sweep_that_hydra_checks_for_long_before_its_first_job_says_so(composed, warned, tmp_path, caplog):
    with composing():
        config = compose(config_name="config", overrides=composed, return_hydra_config=True)
    config.hydra.overrides.task = ["seed=range(1,3000)"]
    OmegaConf.save(config, tmp_path / "multirun.yaml")
    with caplog.at_level(logging.WARNING, logger="mlp_exp"):
        say_jobs_composed_first(config, jobs_at_once(tmp_path))
    said = (
        f"Hydra composes the config of each of the 2999 jobs before the first starts: {warned}; "
        "hydra.sweeper.max_batch_size=100 starts sooner, then goes on in batches of 100"
    )
    assert caplog.messages == ([said] if warned else [])


@pytest.mark.parametrize(
    "task, warned", [(["hiddens=[64,128]"], True), (["hiddens=[64,128]", "seed=1,2"], False), (["seed=1"], False)]
)
def test_a_sweep_of_one_job_given_a_list_says_how_to_sweep_over_its_items(task, warned, tmp_path, caplog):
    with composing():
        config = compose(config_name="config", return_hydra_config=True)
    config.hydra.overrides.task = task
    OmegaConf.save(config, tmp_path / "multirun.yaml")
    with caplog.at_level(logging.WARNING, logger="mlp_exp"):
        say_a_list_is_one_job(config, jobs_at_once(tmp_path))
    said = "hiddens=[64,128] is one value, a list, so this sweep runs one job; one job for each of its items: -m "
    assert caplog.messages == ([said + "hiddens=64,128"] if warned else [])


def test_a_sweep_without_data_stops_before_any_job_with_one_line(tmp_path):
    result = run_cli("-m", "hiddens=16,32", *tiny_overrides(tmp_path / "nowhere", *FAST), cwd=tmp_path)

    assert result.returncode == 2
    errors = [line for line in (result.stdout + result.stderr).splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "error: fashion_mnist not found" in errors[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "outputs").exists()  # no job started


def test_submitit_local_runs_a_sweep_through_the_plugin_with_the_cpus_it_asks_for(tiny_root, tmp_path):
    result = run_cli(
        "-m",
        "hydra/launcher=submitit_local",
        "hydra.launcher.cpus_per_task=1",
        "hiddens=16,32",
        *tiny_overrides(tiny_root, *FAST),
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    sweep_dir = sweep_dir_of(tmp_path)
    jobs = job_dirs(sweep_dir)
    assert [re.search(r"hiddens=(\d+)", job.name).group(1) for job in jobs] == ["16", "32"]
    for job in jobs:
        assert metrics_of(job)["status"] == "completed"
        assert "(threads: 1)" in (job / "mlp_exp.log").read_text()
    assert len(list((sweep_dir / ".submitit").glob("*/*_result.pkl"))) == 2  # each job ran as a submitit job


def test_the_slurm_launcher_submits_the_documented_settings(tiny_root, tmp_path, monkeypatch):
    # No cluster here: a stand-in `sbatch` keeps the script the real plugin submits, then refuses it.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = tmp_path / "submitted.sh"
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {script}\necho "sbatch: not a cluster" >&2\nexit 1\n')
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")  # submitit checks that srun exists
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = run_cli(
        "-m",
        "hydra/launcher=slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.gpus_per_node=1",
        "hiddens=16,32",
        *tiny_overrides(tiny_root, *FAST),
        cwd=tmp_path,
    )

    assert "sbatch: not a cluster" in result.stderr
    options = set(re.findall(r"^#SBATCH (--\S+)$", script.read_text(), flags=re.MULTILINE))
    assert {"--array=0-1%2", "--partition=gpu", "--time=30", "--cpus-per-task=4", "--mem=4GB"} <= options
    assert "--gpus-per-node=1" in options  # array=0-1: one Slurm task per job of the sweep


def test_the_optuna_search_covers_the_d2l_knobs_on_a_log_scale_for_lr():
    sweeper = compose_hydra("hparams_search=optuna").sweeper
    assert set(sweeper.params) == {"lr", "hiddens", "init_scale", "activation", "optimizer"}
    assert sweeper.params.lr.startswith("tag(log") and sweeper.direction == "maximize"


def test_an_optuna_search_survives_diverged_trials_and_reports_the_best(tiny_root, tmp_path):
    # Only lr is searched, between a good value and one that always diverges; the sampler's seed is fixed.
    fixed = ("hiddens=32", "init_scale=0.01", "activation=relu", "optimizer=sgd", "lr=choice(0.5,1e6)")
    result = run_cli(
        "hparams_search=optuna", "hydra.sweeper.n_trials=4", *fixed, *tiny_overrides(tiny_root, *FAST), cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    sweep_dir = sweep_dir_of(tmp_path)
    statuses = {job.name: metrics_of(job)["status"] for job in job_dirs(sweep_dir)}
    assert len(statuses) == 4
    assert "diverged" in statuses.values() and "completed" in statuses.values()
    best = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert best["best_params"] == {"lr": 0.5}
    completed = [job for job in job_dirs(sweep_dir) if metrics_of(job)["status"] == "completed"]
    # Scored on the validation images the search holds out, not on the test set.
    assert all(metrics_of(job)["hparams"]["val_fraction"] == 0.1 for job in completed)
    assert best["best_value"] == max(metrics_of(job)["val_acc"] for job in completed)
    assert "Best parameters: {'lr': 0.5}" in result.stdout


@pytest.mark.parametrize(
    "lrs, ended, code",
    [("choice(1e6,1e7)", "diverged", 3), ("interval(-2,-1)", "failed", 2)],  # the latter: refused in each trial
)
def test_an_optuna_search_none_of_whose_trials_completed_ends_as_a_sweep_whose_jobs_all_failed(
    tiny_root, tmp_path, lrs, ended, code
):
    fixed = ("hiddens=32", "init_scale=0.01", "activation=relu", "optimizer=sgd", f"lr={lrs}")
    search = ("hparams_search=optuna", "hydra.sweeper.n_trials=2", *fixed, *tiny_overrides(tiny_root, *FAST))
    result = run_cli(*search, cwd=tmp_path)

    # Optuna's sweeper asks its study for the best trial, which has none: a ValueError, and a traceback.
    assert result.returncode == code and "Traceback" not in result.stderr
    last = f"error: 2 of 2 jobs did not complete (2 {ended}); the table above says which"
    assert result.stderr.splitlines()[-1] == last
    assert "2 runs under" in result.stdout and result.stdout.count(f" {ended}\n") == 2  # the table


def test_a_resumed_optuna_search_asks_the_same_trials_and_runs_only_those_not_done(tiny_root, tmp_path):
    fixed = ("hiddens=16", "activation=relu", "optimizer=sgd", "lr=interval(0.05,0.5)", "init_scale=interval(0.01,0.1)")
    sweep_dir = tmp_path / "search"
    search = ("hparams_search=optuna", "hydra.sweeper.n_trials=3", *fixed, *tiny_overrides(tiny_root, *FAST))
    first = run_cli(*search, f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    # Optuna's own lines come in the sweep's log, without the terminal colour codes of its own handler.
    assert "[HYDRA] A new study created in memory with name: mlp_exp" in first.stdout
    assert "\x1b[" not in first.stdout + first.stderr
    for job in job_dirs(sweep_dir):  # named with the sampled floats cut to 4 digits; .hydra/ has them exact
        config = OmegaConf.load(job / ".hydra" / "config.yaml")
        assert f"init_scale={config.init_scale:.4g},lr={config.lr:.4g}," in job.name
        assert len(str(config.lr)) > len(f"{config.lr:.4g}")
    # Hydra's Optuna sweeper saves no multirun.yaml; mlp_exp does, so that the search can be resumed or refused.
    again = run_cli(*search, f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path)
    assert again.returncode == 2 and again.stderr.startswith(f"error: {sweep_dir} already holds a sweep: ")
    *done, stopped = job_dirs(sweep_dir)
    best = (sweep_dir / "optimization_results.yaml").read_text()
    shutil.rmtree(stopped)  # as if the search had stopped before its last trial
    said = run_cli(str(sweep_dir), cwd=tmp_path, module="mlp_exp.compare").stdout.splitlines()
    assert f"1 trial of the search not yet drawn; go on with: {resume_command(sweep_dir)}" in said
    assert unfinished_under(tmp_path) == ([sweep_dir], [])  # `python -m mlp_exp.resume FOLDER` finds it

    result = run_cli(str(sweep_dir), cwd=tmp_path, module="mlp_exp.resume")

    assert result.returncode == 0, result.stderr
    assert len(done) == 2 and all(f"{job} completed all its 2 epochs (test acc " in result.stdout for job in done)
    assert job_dirs(sweep_dir) == [*done, stopped] and metrics_of(stopped)["status"] == "completed"
    assert (sweep_dir / "optimization_results.yaml").read_text() == best


def test_a_resumed_sweep_composes_its_jobs_from_the_config_dir_it_was_started_with(tiny_root, tmp_path):
    presets = tmp_path / "my_conf" / "experiment"
    presets.mkdir(parents=True)
    (presets / "narrow.yaml").write_text("# @package _global_\nhiddens: 8\n")
    sweep_dir = tmp_path / "sweep"
    sweep = ("-m", "--config-dir", "my_conf", "experiment=narrow", "seed=1,2", *tiny_overrides(tiny_root, *FAST))
    assert run_cli(*sweep, f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path).returncode == 0
    _, stopped = job_dirs(sweep_dir)
    shutil.rmtree(stopped)  # as if the sweep had stopped before its last job
    (presets / "narrow.yaml").rename(tmp_path / "narrow.yaml")
    without_preset = run_cli(str(sweep_dir), cwd=tmp_path, module="mlp_exp.resume")
    assert without_preset.returncode == 2
    assert without_preset.stderr.startswith("error: experiment=narrow is not allowed: use one of ")
    (tmp_path / "narrow.yaml").rename(presets / "narrow.yaml")

    result = run_cli(str(sweep_dir), cwd=tmp_path, module="mlp_exp.resume")

    assert result.returncode == 0, result.stderr
    assert f" --config-dir={tmp_path / 'my_conf'} " in result.stdout
    assert metrics_of(stopped)["status"] == "completed"
    assert OmegaConf.load(stopped / ".hydra" / "config.yaml").hiddens == 8


def test_a_sweep_whose_recorded_command_repeats_a_key_resumes_as_it_ran(tiny_root, tmp_path):
    # Typed once, hydra.mode is recorded twice: Hydra adds its own hydra.mode=MULTIRUN for -m after it.
    sweep_dir = tmp_path / "sweep"
    sweep = ("hydra.mode=RUN", "-m", "seed=1,2", *tiny_overrides(tiny_root, *FAST), f"hydra.sweep.dir={sweep_dir}")
    assert run_cli(*sweep, cwd=tmp_path).returncode == 0
    assert OmegaConf.load(sweep_dir / "multirun.yaml").hydra.overrides.hydra[-1] == "hydra.mode=MULTIRUN"
    _, stopped = job_dirs(sweep_dir)
    shutil.rmtree(stopped)  # as if the sweep had stopped before its last job

    result = run_cli(str(sweep_dir), cwd=tmp_path, module="mlp_exp.resume")

    assert result.returncode == 0, result.stderr
    assert metrics_of(stopped)["status"] == "completed"


@pytest.mark.parametrize(
    "overrides, warned",
    [
        (
            ["experiment=deeper", "sweep=widths"],
            (
                "experiment=deeper sets hiddens, which sweep=widths sets for each job: "
                "the jobs take the sweep's values, not the preset's"
            ),
        ),
        (
            ["experiment=deeper", "hparams_search=optuna"],
            (
                "experiment=deeper sets hiddens, which hparams_search=optuna "
                "sets for each job: the jobs take the search's values, not the preset's"
            ),
        ),
        (["experiment=deeper", "sweep=lrs"], None),  # the preset's hiddens, each job's lr
        (["experiment=deeper", "sweep=widths", "hiddens=64"], None),  # the command line's word wins over both
        (["sweep=widths"], None),  # no experiment= given: the default knobs are the sweep's to set
    ],
)
def test_an_experiment_preset_whose_knob_a_sweep_preset_sets_for_each_job_is_warned_about(overrides, warned, caplog):
    with composing():
        config = compose("config", overrides=overrides, return_hydra_config=True)
    with caplog.at_level(logging.WARNING, logger="mlp_exp.sweep"):
        say_swept_over_the_experiment(config)
    assert caplog.messages == ([warned] if warned else [])


@pytest.mark.parametrize(
    "args, message",
    [
        (  # the search's space would be merged over the sweep's values, unsaid
            ["sweep=lrs", "hparams_search=optuna"],
            (
                "sweep=lrs is not allowed with hparams_search=optuna: the search's space would replace the sweep's "
                "values; run one of them"
            ),
        ),
        (  # Hydra's basic sweeper fails on it after making the sweep dir
            ["-m", "hiddens=int(interval(32,256))"],
            (
                "hiddens=int(interval(32,256)) is not allowed in a plain sweep, which runs the values it lists: list "
                "them (-m hiddens=32,256, and any between), or search the interval with hparams_search=optuna"
            ),
        ),
        (  # Optuna would take them for one more knob to search
            ["hparams_search=optuna", "seed=1,2"],
            (
                "seed=1,2 is not allowed in a search, which would search for the luckiest seed rather than run each "
                "trial from each; give one seed a search (seed=2), and search again with another to see the noise"
            ),
        ),
        (  # it fails on the search's intervals with a traceback
            ["hparams_search=optuna", "hydra/sweeper/sampler=grid", "lr=choice(0.1,0.5)"],
            (
                "hydra/sweeper/sampler=grid is not allowed: for a grid search, sweep without Optuna, which runs each "
                "combination once: python -m mlp_exp -m lr=0.01,0.1 hiddens=64,256"
            ),
        ),
        *(
            (  # a resume of its search would ask other trials
                ["hparams_search=optuna", f"hydra/sweeper/sampler={sampler}"],
                (
                    f"hydra/sweeper/sampler={sampler} is not allowed without a seed: a resume of the search could not ask "
                    "the same trials again; give it one: hydra.sweeper.sampler.seed=1"
                ),
            )
            for sampler in ("random", "cmaes")
        ),
    ],
    ids=["sweep-and-search", "interval-in-a-sweep", "seeds-in-a-search", "optuna-grid", "random", "cmaes"],
)
def test_a_sweep_that_would_not_do_what_it_says_is_refused_before_its_dir_is_made(tmp_path, args, message):
    result = run_cli(*args, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {message}"
    assert not (tmp_path / "outputs").exists()


def test_a_ctrl_c_between_jobs_says_how_to_resume_and_on_slurm_that_the_jobs_keep_running(tmp_path):
    assert interrupted_sweep_line(tmp_path, on_slurm=False) == (
        f"Interrupted; resume the sweep with: {command('python', '-m', 'mlp_exp.resume', tmp_path)}"
    )
    on_slurm = interrupted_sweep_line(tmp_path, on_slurm=True)
    assert f"the jobs submitted to Slurm keep running (their ids are in {tmp_path}/.submitit/)" in on_slurm
    assert on_slurm.endswith(f"then resume the sweep with: {command('python', '-m', 'mlp_exp.resume', tmp_path)}")


def test_the_config_groups_named_in_code_are_confs_groups():
    assert set(CONFIG_GROUPS) == {path.name for path in CONF_DIR.iterdir() if path.is_dir()} - {"hydra"}


def test_a_ctrl_c_while_a_completed_sweep_is_compared_lets_the_comparison_finish(tmp_path, monkeypatch):
    compared = []

    def report(root):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, as the table is printed
        compared.append(root)  # the table's last row and the plot

    monkeypatch.setattr(compare, "report", report)
    monkeypatch.setattr(SweepCallback, "completed", False)
    with pytest.raises(KeyboardInterrupt):  # then: "Interrupted after the sweep completed; ..."
        SweepCallback().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}}))
    assert compared == [tmp_path] and SweepCallback.completed


def test_a_failed_sweeps_last_line_counts_the_jobs_that_did_not_complete(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(SweepCallback, "sweep_dir", tmp_path)
    assert report_failed_sweep() is None  # no job left a record (hydra.output_subdir=null): the job's error says it
    job = tmp_path / "0_lr=-1"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("- lr=-1\n")
    (job / "mlp_exp.log").write_text("[...][ERROR] error: lr=-1 is not allowed: use a positive number\n")
    assert report_failed_sweep() == ("1 of 1 job did not complete (1 failed); the table above says which", False)
    assert "0_lr=-1 failed: lr=-1 is not allowed" in capsys.readouterr().out  # the table it points to


def test_a_resumed_sweeps_job_goes_on_from_its_checkpoint_though_its_metrics_json_was_deleted(tmp_path, monkeypatch):
    monkeypatch.setenv(RESUMING, str(tmp_path))
    job_dir = tmp_path / "0_lr=0.1"
    job_dir.mkdir()  # as Hydra makes it before the job runs
    assert not resuming_job(job_dir, tmp_path)  # a job that never started runs as a new one
    (job_dir / CHECKPOINT_FILE).write_bytes(b"")
    assert resuming_job(job_dir, tmp_path)  # not refused as a new run in a dir that holds one
