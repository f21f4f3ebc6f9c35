"""Ctrl-C, SIGTERM and crashes: the run dir keeps its records and the last completed epoch's checkpoint, and
`python -m mlp_exp.resume` finishes the run with the numbers of a run that was never interrupted."""

import itertools
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import FAST, files_under, metrics_of, run_cli, tiny_overrides, write_tiny_dataset
from omegaconf import OmegaConf
from test_train import hparams_plugin_data, read_events, tiny_cfg, without_times

from mlp_exp import checkpoint, cli, compare, interrupt, lock, resume
from mlp_exp import train as train_module
from mlp_exp.cli import remember_completed, train_reporting
from mlp_exp.config import ConfigError
from mlp_exp.files import command, resume_command
from mlp_exp.records import CHECKPOINT_FILE
from mlp_exp.sweep import SweepCallback
from mlp_exp.tracking import Tracker
from mlp_exp.train import Diverged, RecordsNotWritten, train
from mlp_exp.visuals import Visuals

EPOCHS = 5


def signal_during_epoch(monkeypatch, epoch, signum=signal.SIGINT):
    """A real signal to this process while epoch `epoch` runs: after its training steps, before its records."""
    calls = itertools.count(1)
    predict = train_module.predict

    def predict_then_signal(net, X):
        if next(calls) == epoch:
            os.kill(os.getpid(), signum)
        return predict(net, X)

    monkeypatch.setattr(train_module, "predict", predict_then_signal)


def start_cli(*args: str, cwd: Path) -> subprocess.Popen:
    """`python -m mlp_exp ARGS`, started to be signalled: its output read as it comes. In a process group of its
    own, as a terminal starts a command, so that os.killpg(process.pid, ...) is a terminal's Ctrl-C: a signal to
    the command and to the processes it started."""
    return subprocess.Popen(
        [sys.executable, "-m", "mlp_exp", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        process_group=0,
    )


def scalar_steps(run_dir):
    events = read_events(run_dir)
    return {tag: [e.step for e in events.Scalars(tag)] for tag in ("train/loss", "train/acc", "test/acc")}


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_resuming_after_ctrl_c_gives_the_numbers_of_an_uninterrupted_run(tiny_root, tmp_path, monkeypatch, optimizer):
    lr = ["lr=0.01"] if optimizer == "adam" else []
    cfg = tiny_cfg(tiny_root, f"epochs={EPOCHS}", f"optimizer={optimizer}", *lr)
    reference = train(cfg, tmp_path / "reference")

    run_dir = tmp_path / "run"
    signal_during_epoch(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, run_dir)

    interrupted = metrics_of(run_dir)
    assert interrupted["status"] == "interrupted" and interrupted["epochs_done"] == 2
    assert torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)["history"] == interrupted["history"]
    assert scalar_steps(run_dir)["test/acc"] == [1, 2]  # the event file was flushed

    resumed = train(cfg, run_dir, resume=True)

    assert resumed["status"] == "completed" and resumed == metrics_of(run_dir)
    assert without_times(resumed) == without_times(reference)
    assert all(steps == list(range(1, EPOCHS + 1)) for steps in scalar_steps(run_dir).values())  # no step twice
    # TensorBoard's HParams tab and the compare table show the resumed run as completed, not interrupted.
    session_end = hparams_plugin_data(read_events(run_dir))["session_end_info"].session_end_info
    assert session_end.status == 1  # STATUS_SUCCESS
    assert [run.status for run in compare.find_runs(run_dir)] == ["completed"]


def test_sigterm_is_recorded_like_ctrl_c(tiny_root, tmp_path, monkeypatch):
    signal_during_epoch(monkeypatch, 2, signal.SIGTERM)
    with pytest.raises(interrupt.Terminated), interrupt.sigterm_raises():
        train(tiny_cfg(tiny_root), tmp_path / "run")
    assert metrics_of(tmp_path / "run")["status"] == "interrupted"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # given back


def test_a_run_interrupted_in_its_first_epoch_resumes_from_the_start(tiny_root, tmp_path, monkeypatch, caplog):
    cfg = tiny_cfg(tiny_root)
    reference = train(cfg, tmp_path / "reference")
    signal_during_epoch(monkeypatch, 1)
    with caplog.at_level(logging.INFO, logger=train_module.log.name), pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "run")
    assert not (tmp_path / "run" / CHECKPOINT_FILE).exists()
    assert (
        f"Interrupted in epoch 1 of 3, before any epoch was done, in {tmp_path / 'run'}; a resume starts" in caplog.text
    )

    with caplog.at_level(logging.INFO, logger=train_module.log.name):
        assert without_times(train(cfg, tmp_path / "run", resume=True)) == without_times(reference)
    assert "Resuming from the start: 784-32-10 MLP" in caplog.text


def test_a_completed_run_that_lost_its_metrics_json_gets_them_again_from_its_checkpoint(tiny_root, tmp_path, caplog):
    cfg = tiny_cfg(tiny_root)
    completed = train(cfg, tmp_path / "run")
    (tmp_path / "run" / "metrics.json").unlink()
    with caplog.at_level(logging.INFO, logger=train_module.log.name):
        again = train(cfg, tmp_path / "run", resume=True)
    assert again["status"] == "completed" and without_times(again) == without_times(completed)
    assert "Resuming after epoch 3, its last, to finish the run's records: 784-32-10 MLP" in caplog.text
    assert "epoch " not in caplog.text.split("to finish the run's records:")[1]  # no epoch trained again


def test_a_resume_trains_on_the_threads_the_run_trained_on(tiny_root, tmp_path, monkeypatch, caplog):
    default = torch.get_num_threads()
    cfg = tiny_cfg(tiny_root)  # threads=0, as a parallel sweep's job, whose share of the cores cli.run sets
    signal_during_epoch(monkeypatch, 2)
    try:
        torch.set_num_threads(default + 1)
        with pytest.raises(KeyboardInterrupt):
            train(cfg, tmp_path / "run")
        torch.set_num_threads(default)  # the resuming process: torch's default
        monkeypatch.setattr("joblib.cpu_count", lambda: default)  # a machine with fewer cores than the run's
        with caplog.at_level(logging.INFO, logger=train_module.log.name):
            assert train(cfg, tmp_path / "run", resume=True)["status"] == "completed"
        assert "Resuming after epoch 1: 784-32-10 MLP (relu) on fashion_mnist" in caplog.text
        assert f"on cpu (threads: {default + 1})" in caplog.text
        assert f"The {default + 1} threads the run trained on are more than the {default} core" in caplog.text
    finally:
        torch.set_num_threads(default)


@pytest.mark.parametrize("in_a_sweep", [False, True])
def test_a_ctrl_c_in_the_last_pictures_leaves_a_completed_run(tiny_root, tmp_path, monkeypatch, caplog, in_a_sweep):
    log_epoch = Visuals.log_epoch

    def signal_in_the_last_pictures(self, epoch, *args, final, **kwargs):
        if final:
            os.kill(os.getpid(), signal.SIGINT)  # deferred until the pictures are done
        return log_epoch(self, epoch, *args, final=final, **kwargs)

    monkeypatch.setattr(Visuals, "log_epoch", signal_in_the_last_pictures)
    sweep_dir = tmp_path / "sweep" if in_a_sweep else None
    monkeypatch.setattr(SweepCallback, "sweep_dir", sweep_dir)  # a job run in the sweep's process (the basic launcher)
    run_dir = sweep_dir / "0_job" if in_a_sweep else tmp_path / "run"
    try:
        with pytest.raises(SystemExit) as exit_, caplog.at_level(logging.WARNING):
            train_reporting(tiny_cfg(tiny_root), run_dir, sweep_dir=sweep_dir)  # the command stops, as asked
    finally:
        remember_completed(None)  # as cli.main does when it ends
    assert exit_.value.code == 130
    if in_a_sweep:
        said = f"Interrupted after this job completed; resume the sweep with: {resume_command(sweep_dir)}"
    else:
        said = f"Interrupted after the run completed; its records in {run_dir} are complete"
    assert caplog.messages[-1] == said
    assert metrics_of(run_dir)["status"] == "completed"
    assert (run_dir / "confusion_matrix.png").is_file()
    session_end = hparams_plugin_data(read_events(run_dir))["session_end_info"].session_end_info
    assert session_end.status == 1  # STATUS_SUCCESS


@pytest.mark.parametrize("pictures", ["true", "false"])
def test_a_ctrl_c_in_the_last_records_leaves_a_completed_run(tiny_root, tmp_path, monkeypatch, pictures):
    save = checkpoint.save

    def signal_in_the_last_checkpoint(path, hparams, net, optimizer, shuffle, history):
        if len(history) == 3:
            os.kill(os.getpid(), signal.SIGINT)  # deferred until the epoch's records and pictures are all written
        return save(path, hparams, net, optimizer, shuffle, history)

    monkeypatch.setattr(checkpoint, "save", signal_in_the_last_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_cfg(tiny_root, f"visuals.enabled={pictures}"), tmp_path / "run")
    assert metrics_of(tmp_path / "run")["status"] == "completed"
    assert (tmp_path / "run" / "confusion_matrix.png").is_file() == (pictures == "true")


def test_a_run_stopped_while_drawing_its_last_pictures_gets_them_from_its_resume(tiny_root, tmp_path, monkeypatch):
    log_epoch = Visuals.log_epoch

    def crash_in_the_last_pictures(self, epoch, *args, final, **kwargs):
        if final:
            raise RuntimeError("the machine went away")  # as a kill -9 would leave it, but for the process
        return log_epoch(self, epoch, *args, final=final, **kwargs)

    monkeypatch.setattr(Visuals, "log_epoch", crash_in_the_last_pictures)
    with pytest.raises(RuntimeError):
        train(tiny_cfg(tiny_root), tmp_path / "run")
    assert metrics_of(tmp_path / "run")["status"] == "running"  # as a lost machine's run reads
    assert not (tmp_path / "run" / "confusion_matrix.png").exists()

    monkeypatch.setattr(Visuals, "log_epoch", log_epoch)
    assert train(tiny_cfg(tiny_root), tmp_path / "run", resume=True)["status"] == "completed"
    assert (tmp_path / "run" / "confusion_matrix.png").is_file()  # the resume draws them


def test_a_ctrl_c_while_a_diverged_epoch_is_recorded_still_says_it_diverged(tiny_root, tmp_path, monkeypatch):
    log_epoch = Tracker.log_epoch

    def signal_while_recording(self, record):
        os.kill(os.getpid(), signal.SIGINT)
        return log_epoch(self, record)

    monkeypatch.setattr(Tracker, "log_epoch", signal_while_recording)
    with pytest.raises(Diverged, match="training diverged at epoch 1"):
        train(tiny_cfg(tiny_root, "init_scale=1e30"), tmp_path / "run")  # logits overflow to inf in epoch 1
    assert metrics_of(tmp_path / "run")["status"] == "diverged"


def test_a_ctrl_c_before_the_first_step_leaves_a_run_that_reads_as_interrupted(tiny_root, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "Visuals", interrupted)  # the last step before the run's header line
    with pytest.raises(KeyboardInterrupt):
        train(tiny_cfg(tiny_root), tmp_path / "run")
    assert metrics_of(tmp_path / "run")["status"] == "interrupted"


def test_a_signal_while_the_checkpoint_is_written_waits_until_it_is_whole(tiny_root, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="mlp_exp")
    save = checkpoint.save

    def signal_then_save(*args):
        os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of the epoch's records
        save(*args)

    monkeypatch.setattr(checkpoint, "save", signal_then_save)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_cfg(tiny_root), tmp_path / "run")

    metrics = metrics_of(tmp_path / "run")
    assert metrics["status"] == "interrupted" and metrics["epochs_done"] == 1
    assert torch.load(tmp_path / "run" / CHECKPOINT_FILE, weights_only=True)["history"] == metrics["history"]
    # and its line in the log: a resume goes on after it, and would leave the log without it
    (epoch_line,) = [m for m in caplog.messages if m.startswith("epoch ")]
    assert epoch_line.startswith("epoch  1/")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back


def test_a_crash_while_the_checkpoint_is_written_leaves_the_previous_one(tiny_root, tmp_path, monkeypatch):
    cfg = tiny_cfg(tiny_root)
    reference = train(cfg, tmp_path / "reference")
    calls = itertools.count(1)
    torch_save = torch.save

    # The reference run prepared the data cache: every torch.save from here on writes a checkpoint.
    def crash_in_the_second(state, f):
        if next(calls) == 2:
            f.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(28, "No space left on device")
        torch_save(state, f)

    monkeypatch.setattr(torch, "save", crash_in_the_second)
    with pytest.raises(RecordsNotWritten, match="No space left"):  # one line, with the resume that finishes it
        train(cfg, tmp_path / "run")
    monkeypatch.undo()

    state = torch.load(tmp_path / "run" / CHECKPOINT_FILE, weights_only=True)
    assert [h["epoch"] for h in state["history"]] == [1]
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(".")) == []
    assert without_times(train(cfg, tmp_path / "run", resume=True)) == without_times(reference)
    # Epoch 2 was logged before the crash and again after the resume; TensorBoard shows it once.
    assert all(steps == [1, 2, 3] for steps in scalar_steps(tmp_path / "run").values())


def test_the_real_command_refuses_a_run_dir_before_hydra_writes_into_it(tiny_root, tmp_path):
    run_dir = tmp_path / "run"
    assert run_cli(*tiny_overrides(tiny_root, "epochs=1"), f"hydra.run.dir={run_dir}", cwd=tmp_path).returncode == 0
    before = files_under(run_dir)

    result = run_cli(*tiny_overrides(tiny_root, "epochs=1", "hiddens=7"), f"hydra.run.dir={run_dir}", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {run_dir} already holds a run that completed: choose another hydra.run.dir"
    assert files_under(run_dir) == before


def test_a_new_run_never_overwrites_a_run_dir(tiny_root, tmp_path):
    run_dir = tmp_path / "run"
    train(tiny_cfg(tiny_root), run_dir)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}

    with pytest.raises(
        ConfigError, match=rf"^{run_dir} already holds a run that completed: choose another hydra.run.dir$"
    ):
        train(tiny_cfg(tiny_root, "lr=0.1"), run_dir)
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before

    # One that did not complete is named for its resume.
    (run_dir / "metrics.json").write_text(json.dumps({**metrics_of(run_dir), "status": "interrupted"}))
    resume = command("python", "-m", "mlp_exp.resume", run_dir)
    with pytest.raises(ConfigError) as refused:
        train(tiny_cfg(tiny_root, "lr=0.1"), run_dir)
    assert str(refused.value) == (
        f"{run_dir} already holds a run: continue it with `{resume}`, or choose another hydra.run.dir"
    )


# The real command, stopped by real signals. Tiny data, one thread (steady epochs of a few ms on a busy machine),
# and enough epochs that the run is still going when the test has seen two of them done.
CLI_ARGS = ("hiddens=32", "batch_size=50", "epochs=100", "threads=1", "device=cpu")


@pytest.fixture(scope="module")
def tiny_data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_tiny_dataset(root / "FashionMNIST" / "raw")
    return root


@pytest.fixture(scope="module")
def uninterrupted(tiny_data_root, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("uninterrupted") / "run"
    result = run_cli(*tiny_overrides(tiny_data_root, *CLI_ARGS), f"hydra.run.dir={run_dir}", cwd=run_dir.parent)
    assert result.returncode == 0, result.stderr
    return metrics_of(run_dir)


def wait_for_epochs(run_dir, epochs, process):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if metrics_of(run_dir)["epochs_done"] >= epochs:
                return
        except (OSError, ValueError):  # not written yet
            pass
        time.sleep(0.01)
    raise AssertionError(f"the run did not get to epoch {epochs} while running")


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_the_real_command_stopped_by_a_signal_resumes_to_the_same_numbers(
    tiny_data_root, uninterrupted, tmp_path, signum, code
):
    run_dir = tmp_path / "run"
    data_root = os.path.relpath(tiny_data_root, tmp_path)  # relative to the dir the run is started in
    process = start_cli(*tiny_overrides(data_root, *CLI_ARGS), f"hydra.run.dir={run_dir}", cwd=tmp_path)
    wait_for_epochs(run_dir, 2, process)
    process.send_signal(signum)  # at whatever point of an epoch it happens to be
    stdout, stderr = process.communicate(timeout=120)

    assert process.returncode == code
    assert "Traceback" not in stderr
    assert f"Resume it with: {command('python', '-m', 'mlp_exp.resume', run_dir)}" in stdout
    interrupted = metrics_of(run_dir)
    assert interrupted["status"] == "interrupted" and 2 <= interrupted["epochs_done"] < 100
    assert torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)["history"] == interrupted["history"]
    assert scalar_steps(run_dir)["test/acc"] == list(range(1, interrupted["epochs_done"] + 1))

    resumed = run_cli(str(run_dir), cwd=run_dir, module="mlp_exp.resume")  # from another dir

    assert resumed.returncode == 0, resumed.stderr
    assert f"Resuming after epoch {interrupted['epochs_done']}:" in resumed.stdout
    final = metrics_of(run_dir)
    assert final["status"] == "completed" and without_times(final) == without_times(uninterrupted)
    assert scalar_steps(run_dir)["test/acc"] == list(range(1, 101))
    assert f"Resuming after epoch {interrupted['epochs_done']}:" in (run_dir / "mlp_exp.log").read_text()

    again = run_cli(str(run_dir), cwd=tmp_path, module="mlp_exp.resume")
    assert again.returncode == 0
    assert f"completed all its 100 epochs (test acc {uninterrupted['test_acc']:.4f}): nothing to resume" in again.stdout


def test_a_reader_that_leaves_silences_the_console_and_the_run_goes_on(tiny_data_root, uninterrupted, tmp_path):
    run_dir = tmp_path / "run"
    process = start_cli(*tiny_overrides(tiny_data_root, *CLI_ARGS), f"hydra.run.dir={run_dir}", cwd=tmp_path)
    process.stdout.readline()  # `python -m mlp_exp | head -1`
    process.stdout.close()
    stderr = process.stderr.read()
    process.wait(timeout=120)

    assert process.returncode == 0
    assert stderr == ""  # Python's default: a "Logging error" traceback for every line left
    assert without_times(metrics_of(run_dir)) == without_times(uninterrupted)
    assert "epoch 100/100" in (run_dir / "mlp_exp.log").read_text()  # the log file keeps every line

    # A reader gone before the first line (`| true`), and no PYTHONUNBUFFERED: a pipe's buffer meets the broken pipe
    # only when it is flushed.
    assert read_nothing(sys.executable, "-m", "mlp_exp.compare", str(run_dir)) == (0, "")
    assert (run_dir / "compare.png").is_file()

    # A run made before mlp_exp.cli.Console, resumed: its saved logging is Python's plain console handler.
    hydra_yaml = run_dir / ".hydra" / "hydra.yaml"
    hydra_yaml.write_text(hydra_yaml.read_text().replace("mlp_exp.cli.Console", "logging.StreamHandler"))
    assert read_nothing(sys.executable, "-m", "mlp_exp.resume", str(run_dir)) == (0, "")
    assert "nothing to resume" in (run_dir / "mlp_exp.log").read_text()


def read_nothing(*command: str) -> tuple[int, str]:
    """`command | true`: (exit code, stderr)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()
    stderr = process.stderr.read()
    return process.wait(timeout=120), stderr


@pytest.mark.parametrize("flags", [["--help"], ["--info"], ["--cfg", "job"], ["-sc", "install=bash"]])
def test_a_reader_that_leaves_ends_a_command_that_only_prints_as_any_unix_tool(flags):
    # Killed by SIGPIPE, as `cat`: a shell says 141. Python's default: a BrokenPipeError traceback, or a
    # "Logging error" for each line left.
    assert read_nothing(sys.executable, "-m", "mlp_exp", *flags) == (-signal.SIGPIPE, "")


def test_a_reader_that_leaves_gets_the_version_line_as_nothing():
    assert read_nothing(sys.executable, "-m", "mlp_exp", "--version") == (0, "")


def test_a_gpus_run_goes_on_on_the_cpu_when_told_to(tiny_root, tmp_path, capsys, monkeypatch):
    run_dir = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", ["mlp_exp", *tiny_overrides(tiny_root, *FAST), f"hydra.run.dir={run_dir}"])
    with monkeypatch.context() as patch, pytest.raises(SystemExit):
        signal_during_epoch(patch, 2)
        cli.main()
    # As a GPU machine's run leaves it: its config, and its checkpoint with the GPU host's 64 threads.
    saved = run_dir / ".hydra" / "config.yaml"
    saved.write_text(saved.read_text().replace("device: cpu", "device: cuda"))
    state = torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)
    torch.save({**state, "device": "cuda", "threads": 64}, run_dir / CHECKPOINT_FILE)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    go_on = resume_command("--device", "cpu", run_dir)

    for args in ([], ["--device", "cuda"]):
        with pytest.raises(SystemExit) as exit_:
            resume.main([*args, str(run_dir)])
        assert exit_.value.code == 2
        assert capsys.readouterr().err.strip() == (
            f"error: device=cuda is not allowed: no CUDA GPU is visible here; to go on on the CPU: {go_on}"
        )

    resume.main(["--device", "cpu", str(run_dir)])
    assert [record["epoch"] for record in metrics_of(run_dir)["history"]] == [1, 2]
    assert "device: cpu" in saved.read_text()  # from here on: a later resume command, pasted as printed, works
    assert metrics_of(run_dir)["status"] == "completed"
    log = (run_dir / "mlp_exp.log").read_text()
    assert "The run trained on cuda and goes on on cpu: its numbers will differ slightly" in log
    assert f"on cpu (threads: {torch.get_num_threads()})" in log and "threads: 64" not in log  # not the GPU host's

    capsys.readouterr()
    resume.main([str(run_dir)])  # completed: said so, not refused for its device
    assert "nothing to resume" in capsys.readouterr().out
    resume.main(["--device", "auto", str(run_dir)])  # nor is its record changed
    assert "nothing to resume" in capsys.readouterr().out and "device: cpu" in saved.read_text()


def test_a_run_goes_on_with_fewer_threads_when_told_to(tiny_root, tmp_path, capsys, monkeypatch):
    run_dir, default = tmp_path / "run", torch.get_num_threads()
    monkeypatch.setattr(sys, "argv", ["mlp_exp", *tiny_overrides(tiny_root, *FAST), f"hydra.run.dir={run_dir}"])
    try:
        torch.set_num_threads(default + 1)  # the run trains with threads=0: torch's default in its process
        with monkeypatch.context() as patch, pytest.raises(SystemExit):
            signal_during_epoch(patch, 2)
            cli.main()
    finally:
        torch.set_num_threads(default)
    capsys.readouterr()

    resume.main(["--threads", "1", str(run_dir)])
    assert metrics_of(run_dir)["status"] == "completed"
    log = (run_dir / "mlp_exp.log").read_text()
    assert f"The run trained with {default + 1} threads and goes on with 1: its numbers will differ slightly" in log
    assert "Resuming after epoch 1" in log and "on cpu (threads: 1)" in log
    assert "threads: 1" in (run_dir / ".hydra" / "config.yaml").read_text()  # a later resume goes on with 1 too
    assert torch.get_num_threads() == default  # this process's own, for what it runs next


@pytest.mark.parametrize("flag, value", [("--device", "cpu"), ("--threads", "1")])
def test_resumes_device_and_threads_are_for_one_runs_dir_not_a_sweeps(tmp_path, capsys, flag, value):
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "multirun.yaml").write_text("hydra: {}")
    with pytest.raises(SystemExit) as exit_:
        resume.main([flag, value, str(tmp_path / "sweep")])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {flag} is for one run's dir: {tmp_path / 'sweep'} holds a sweep, whose jobs go on as it made them "
        f"(one job goes on on its own with {resume_command(flag, value, 'JOB_DIR')})"
    )


def test_resume_names_a_dir_that_is_not_a_run(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as exit_:
        resume.main([str(tmp_path)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path} is not a run dir of mlp_exp (it has no .hydra/config.yaml and hydra.yaml), "
        "nor a sweep dir (it has no multirun.yaml); no run or sweep under it is unfinished"
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        resume.main(["typo"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == "error: typo does not exist; give a run's dir or a sweep's dir"
    (tmp_path / "checkpoint.pt").write_bytes(b"")  # a run's, whose .hydra/ was deleted
    with pytest.raises(SystemExit) as exit_:
        resume.main([str(tmp_path)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path} holds a run without Hydra's record of it (.hydra/config.yaml and .hydra/hydra.yaml), "
        "which a resume goes on from; put it back from a copy of the run's dir, or start a new run"
    )


def test_resume_given_the_dir_of_a_sweeps_job_that_never_began_names_the_sweep_to_resume(
    tiny_root, tmp_path, capsys, monkeypatch
):
    sweep = tmp_path / "sweep"
    args = ["-m", "lr=0.1,0.2", *tiny_overrides(tiny_root, "epochs=1"), f"hydra.sweep.dir={sweep}"]
    assert run_cli(*args, "hydra.sweep.subdir=${hydra.job.num}", cwd=tmp_path).returncode == 0
    shutil.rmtree(sweep / "1")  # as a sweep stopped before its job 1 began leaves it
    monkeypatch.chdir(tmp_path)
    for job, said in [
        ("1", f"sweep/1 never started, as its sweep stopped first; resume the sweep: {resume_command('sweep')}"),
        ("2", "sweep/2 does not exist; give a run's dir or a sweep's dir"),  # no job of the sweep's
    ]:
        with pytest.raises(SystemExit) as exit_:
            resume.main([f"sweep/{job}"])
        assert exit_.value.code == 2 and capsys.readouterr().err.strip() == f"error: {said}"


def test_resume_given_outputs_names_the_unfinished_run_or_sweep_written_to_last(tmp_path, capsys):
    def run_with(status, run_dir, age_s):
        (run_dir / ".hydra").mkdir(parents=True)
        (run_dir / ".hydra" / "config.yaml").write_text("epochs: 10")
        (run_dir / "metrics.json").write_text(json.dumps({"status": status}))
        os.utime(run_dir / "metrics.json", (time.time() - age_s,) * 2)

    outputs = tmp_path / "outputs"
    run_with("interrupted", outputs / "runs" / "old", 300)
    run_with("completed", outputs / "runs" / "done", 0)
    run_with("diverged", outputs / "runs" / "diverged", 0)
    (outputs / "multirun" / "sweep").mkdir(parents=True)
    (outputs / "multirun" / "sweep" / "multirun.yaml").write_text("hydra: {}")
    run_with("running", outputs / "multirun" / "sweep" / "0_lr=0.1", 100)  # its machine was lost
    (outputs / "runs" / "no_config").mkdir()  # a record alone: nothing resume could go on with
    (outputs / "runs" / "no_config" / "metrics.json").write_text(json.dumps({"status": "interrupted"}))
    (outputs / "metrics.json").write_text(json.dumps({"status": "interrupted"}))  # the dir given is not below itself
    run_with("running", outputs / "live" / "training_now", 0)  # the newest, but it goes on by itself
    (outputs / "multirun" / "busy").mkdir(parents=True)  # one of its jobs goes on by itself: so does the sweep
    (outputs / "multirun" / "busy" / "multirun.yaml").write_text("hydra: {}")
    run_with("running", outputs / "multirun" / "busy" / "0_lr=0.1", 0)
    run_with("interrupted", outputs / "multirun" / "busy" / "1_lr=0.2", 0)
    run_with("interrupted", outputs / "a" / "b" / "c" / "d" / "e" / "f", 0)  # deeper than runs sit: not looked for
    hold = (
        "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX); "
        "print('held', flush=True); time.sleep(60)"
    )
    training = [
        subprocess.Popen([sys.executable, "-c", hold, str(run)], stdout=subprocess.PIPE, text=True)
        for run in (outputs / "live" / "training_now", outputs / "multirun" / "busy" / "0_lr=0.1")
    ]
    try:
        assert [process.stdout.readline() for process in training] == ["held\n", "held\n"]

        with pytest.raises(SystemExit) as exit_:
            resume.main([str(outputs)])
        assert exit_.value.code == 2
        assert (
            capsys.readouterr()
            .err.strip()
            .endswith(
                f"(it has no multirun.yaml); the unfinished one under it written to last goes on with "
                f"{resume_command(outputs / 'multirun' / 'sweep')} (2 unfinished under it)"
            )
        )
        with pytest.raises(SystemExit):
            resume.main([str(outputs / "live")])
        assert (
            capsys.readouterr()
            .err.strip()
            .endswith(f"; what is unfinished under it is training now ({outputs / 'live' / 'training_now'})")
        )
    finally:
        for process in training:
            process.kill()
            process.wait()


@pytest.mark.parametrize("content", ["hydra: [unclosed", "epochs: 3"], ids=["not-yaml", "not-hydras"])
@pytest.mark.parametrize("record", ["multirun.yaml", ".hydra/hydra.yaml"], ids=["sweep", "run"])
def test_resume_names_a_sweeps_or_runs_record_it_cannot_read(tiny_root, tmp_path, capsys, record, content):
    if record != "multirun.yaml":  # a run dir whose config is fine, but not Hydra's record of the run
        (tmp_path / ".hydra").mkdir()
        OmegaConf.save(tiny_cfg(tiny_root), tmp_path / ".hydra" / "config.yaml")
    (tmp_path / record).write_text(content)
    with pytest.raises(SystemExit) as exit_:
        resume.main([str(tmp_path)])
    assert exit_.value.code == 2
    (error,) = capsys.readouterr().err.splitlines()
    assert error.startswith(f"error: cannot read {tmp_path / record} (") and error.endswith("); restore it from a copy")


def test_a_sweep_dir_is_refused_to_a_new_sweep_to_a_second_resume_and_after_the_config_changed(tiny_root, tmp_path):
    sweep_dir = tmp_path / "sweep"
    sweep = ("-m", "hiddens=8,16", *tiny_overrides(tiny_root, "epochs=1"), f"hydra.sweep.dir={sweep_dir}")
    assert run_cli(*sweep, cwd=tmp_path).returncode == 0
    before = files_under(sweep_dir)

    again = run_cli(*sweep, cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.strip() == (
        f"error: {sweep_dir} already holds a sweep: continue it with `{command('python', '-m', 'mlp_exp.resume', sweep_dir)}`, "
        "or choose another hydra.sweep.dir"
    )
    assert "Launching" not in again.stdout

    with lock.only_process_in(sweep_dir):  # the sweep, or a resume of it, still running
        second = run_cli(str(sweep_dir), cwd=tmp_path, module="mlp_exp.resume")
    assert second.returncode == 2
    assert second.stderr.strip() == (
        f"error: {sweep_dir} is being trained by another process; wait for it to end (or stop it), then resume it"
    )
    assert second.stdout == ""  # not first that it resumes the sweep

    # As if conf/ had said init_scale: 0.02 when the sweep ran: its jobs would not be the same jobs now.
    saved = sweep_dir / "multirun.yaml"
    saved.write_text(saved.read_text().replace("init_scale: 0.01", "init_scale: 0.02"))
    before[Path("multirun.yaml")] = saved.read_bytes()
    changed = run_cli(str(sweep_dir), cwd=tmp_path, module="mlp_exp.resume")
    assert changed.returncode == 2
    assert changed.stderr.strip() == (
        f"error: the config changed since the sweep in {sweep_dir} started (init_scale differs from {saved}): "
        "undo the change to resume it, or start a new sweep"
    )
    saved.write_text(saved.read_text().replace("init_scale: 0.02", "init_scale: 0.01"))
    before[Path("multirun.yaml")] = saved.read_bytes()

    # A job dir named as an earlier mlp_exp named it: its job would be passed by and trained again elsewhere.
    (job,) = sweep_dir.glob("1_*")
    old_name = job.rename(sweep_dir / "1_old-style-name")
    renamed = run_cli(str(sweep_dir), cwd=tmp_path, module="mlp_exp.resume")
    assert renamed.returncode == 2
    assert renamed.stderr.strip() == (
        f"error: {old_name} is now named {job.name} by mlp_exp: rename the dir to resume the sweep, "
        "or start a new sweep"
    )
    old_name.rename(job)
    assert files_under(sweep_dir) == before

    # A sweep saved before mlp_exp had dataset.val_fraction: its jobs had what is now its default, and it resumes.
    saved.write_text(saved.read_text().replace("  val_fraction: 0.0\n", ""))
    assert "val_fraction" not in OmegaConf.load(saved).dataset
    resumed = run_cli(str(sweep_dir), cwd=tmp_path, module="mlp_exp.resume")
    assert resumed.returncode == 0, resumed.stderr


def test_a_sweep_is_refused_to_resume_after_a_swept_options_file_changed(tiny_root, tmp_path):
    # Hydra leaves a swept group's option out of the sweep's own config: only its jobs' configs hold what it set.
    conf_dir = tmp_path / "my_conf"
    (conf_dir / "optimizer").mkdir(parents=True)
    mine = conf_dir / "optimizer" / "mine.yaml"
    mine.write_text("name: sgd\nmomentum: 0.5\n")
    sweep_dir = tmp_path / "sweep"
    sweep = ("-m", f"--config-dir={conf_dir}", "optimizer=sgd,mine", *tiny_overrides(tiny_root, "epochs=1"))
    assert run_cli(*sweep, f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path).returncode == 0
    before = files_under(sweep_dir)

    unchanged = run_cli(str(sweep_dir), cwd=tmp_path, module="mlp_exp.resume")
    assert unchanged.returncode == 0, unchanged.stderr  # each job composed again as it was: nothing to refuse

    # A job resumed on its own with --threads, which its saved config then says: no change to the sweep's jobs.
    (job,) = sweep_dir.glob("1_*")
    (job / "metrics.json").write_text(json.dumps({**metrics_of(job), "status": "interrupted"}))
    alone = run_cli("--threads", "1", str(job), cwd=tmp_path, module="mlp_exp.resume")
    assert alone.returncode == 0, alone.stderr
    assert OmegaConf.load(job / ".hydra" / "config.yaml").threads == 1
    again = run_cli(str(sweep_dir), cwd=tmp_path, module="mlp_exp.resume")
    assert again.returncode == 0, again.stderr

    before = files_under(sweep_dir)
    mine.write_text("name: sgd\nmomentum: 0.9\n")
    changed = run_cli(str(sweep_dir), cwd=tmp_path, module="mlp_exp.resume")
    assert changed.returncode == 2
    assert changed.stderr.strip() == (
        f"error: the config changed since the sweep in {sweep_dir} started (optimizer.momentum differs from "
        f"{job}/.hydra/config.yaml): undo the change to resume it, or start a new sweep"
    )
    assert files_under(sweep_dir) == before


def test_a_sweep_stopped_by_ctrl_c_resumes_where_each_job_left_off(tiny_data_root, uninterrupted, tmp_path):
    # Its second job is the uninterrupted run's config. A comma, an equals sign and a space in the sweep dir's
    # name: the resume must hand it to Hydra quoted.
    sweep_dir = tmp_path / "widths, v=1"
    args = [arg for arg in CLI_ARGS if not arg.startswith("hiddens=")]
    process = start_cli(
        "-m", "hiddens=16,32,8", *tiny_overrides(tiny_data_root, *args), f"hydra.sweep.dir='{sweep_dir}'", cwd=tmp_path
    )
    deadline = time.monotonic() + 120
    while not list(sweep_dir.glob("1_*")) and time.monotonic() < deadline:
        time.sleep(0.01)
    first, second = sorted(sweep_dir.glob("[01]_*"))
    wait_for_epochs(second, 2, process)
    process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=120)
    assert process.returncode == 130
    (resume_line,) = (line for line in stdout.splitlines() if "Resume it with: " in line)
    # A command to paste: the shell must read the dir as one word.
    assert shlex.split(resume_line.split("Resume it with: ")[1]) == [
        *shlex.split(command("python")),
        "-m",
        "mlp_exp.resume",
        str(sweep_dir),
    ]
    assert metrics_of(first)["status"] == "completed" and metrics_of(second)["status"] == "interrupted"
    assert not list(sweep_dir.glob("2_*"))  # not started
    # All but the log, which the resume appends to, and Hydra's runtime record, which it writes anew.
    first_records = {
        path: content for path, content in files_under(first).items() if path.name not in ("mlp_exp.log", "hydra.yaml")
    }
    stopped_at = metrics_of(second)["epochs_done"]

    resumed = run_cli(str(sweep_dir), cwd=sweep_dir, module="mlp_exp.resume")  # from anywhere

    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith(
        f"Resuming the sweep in {sweep_dir}, from {tmp_path}: {command('python')} -m mlp_exp "
    )
    assert (
        f"{first} completed all its 100 epochs (test acc {metrics_of(first)['test_acc']:.4f}): nothing to resume; "
        "to train longer, start a new sweep with more epochs" in resumed.stdout
    )
    assert f"Resuming after epoch {stopped_at}:" in resumed.stdout
    assert {path: content for path, content in files_under(first).items() if path in first_records} == first_records
    assert without_times(metrics_of(second)) == without_times(uninterrupted)
    assert scalar_steps(second)["test/acc"] == list(range(1, 101))
    (third,) = sweep_dir.glob("2_*")
    assert metrics_of(third)["status"] == "completed" and metrics_of(third)["epochs_done"] == 100
    assert "3 runs under" in resumed.stdout  # the sweep's comparison, of all its jobs

    again = run_cli(str(sweep_dir), cwd=tmp_path, module="mlp_exp.resume")
    assert again.returncode == 0 and again.stdout.count("nothing to resume") == 3


def parallel_sweep_training(data_root, tmp_path, epochs=100):
    """A sweep of two jobs side by side (joblib), each past its first epoch: (its process, its dir, its job dirs)."""
    sweep_dir = tmp_path / "sweep"
    args = [arg for arg in CLI_ARGS if not arg.startswith(("hiddens=", "epochs="))] + [f"epochs={epochs}"]
    process = start_cli(
        "-m",
        "hiddens=16,32",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        *tiny_overrides(data_root, *args),
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 120
    while len(list(sweep_dir.glob("[01]_*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    jobs = sorted(sweep_dir.glob("[01]_*"))
    for job in jobs:
        wait_for_epochs(job, 1, process)
    return process, sweep_dir, jobs


def test_a_parallel_sweep_stopped_by_ctrl_c_says_once_how_to_resume_it_and_resumes(
    tiny_data_root, uninterrupted, tmp_path
):
    process, sweep_dir, jobs = parallel_sweep_training(tiny_data_root, tmp_path)
    os.killpg(process.pid, signal.SIGINT)  # to the sweep's process and its joblib workers alike
    stdout, stderr = process.communicate(timeout=120)

    assert process.returncode == 130
    assert "Traceback" not in stderr and "leaked semaphore" not in stderr, stderr
    resume = command("python", "-m", "mlp_exp.resume", sweep_dir)
    assert f"Interrupted; resume the sweep with: {resume}" in stdout.splitlines()
    assert stdout.count(resume) == 1, stdout  # said by the sweep's process, not once more by each job
    assert [metrics_of(job)["status"] for job in jobs] == ["interrupted", "interrupted"]

    resumed = run_cli(str(sweep_dir), cwd=tmp_path, module="mlp_exp.resume")

    assert resumed.returncode == 0, resumed.stderr
    assert [metrics_of(job)["status"] for job in jobs] == ["completed", "completed"]
    assert without_times(metrics_of(jobs[1])) == without_times(uninterrupted)  # hiddens=32, as the uninterrupted run


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_to_a_parallel_sweeps_process_alone_reaches_its_jobs_which_record_their_stop(
    tiny_data_root, tmp_path, signum
):
    # Epochs enough to be training still once the sweep's process has waited for them to stop by themselves.
    process, sweep_dir, jobs = parallel_sweep_training(tiny_data_root, tmp_path, epochs=100_000)
    process.send_signal(signum)  # `kill PID`: to the sweep's process, not to its joblib workers
    time.sleep(0.2)
    process.send_signal(signum)  # repeated at once, by an impatient script or hand: the same stop
    stdout, stderr = process.communicate(timeout=120)

    assert process.returncode == 128 + signum
    assert "Traceback" not in stderr, stderr
    assert [metrics_of(job)["status"] for job in jobs] == ["interrupted", "interrupted"]  # not `running`: killed
    assert stdout.count("] Interrupted after ") == 2, stdout  # each job said where it stopped
    assert stdout.count(command("python", "-m", "mlp_exp.resume", sweep_dir)) == 1, stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
@pytest.mark.parametrize("delay_s", [0, 0.02, 0.1])
def test_a_ctrl_c_as_the_real_command_exits_says_at_most_that_the_run_is_complete(tiny_root, tmp_path, delay_s, signum):
    run_dir = tmp_path / "run"
    process = start_cli(*tiny_overrides(tiny_root, "epochs=1", "device=cpu"), f"hydra.run.dir={run_dir}", cwd=tmp_path)
    for line in process.stdout:
        if line.startswith("Open it in TensorBoard:"):  # the run's last line; the interpreter's exit follows
            break
    time.sleep(delay_s)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)

    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert metrics_of(run_dir)["status"] == "completed"
    # Before its last step, main says so; after it the process ends with the run's own code.
    completed = f"Interrupted after the run completed; its records in {run_dir} are complete"
    outcomes = ((128 + signum, completed), (0, ""))
    assert (process.returncode, stdout.strip()) in outcomes, (process.returncode, stdout)


SIGTERM_AS_HYDRA_ENDS_THE_RUN = """
import os, signal, sys
from mlp_exp import cli

say_where = cli.say_where

def then_sigterm(run_dir):  # the run's last lines, then Hydra's end of the run
    say_where(run_dir)
    os.kill(os.getpid(), signal.SIGTERM)

cli.say_where = then_sigterm
from mlp_exp.__main__ import main
main()
"""


def test_a_sigterm_after_the_run_completed_says_so_as_a_ctrl_c_does(tiny_root, tmp_path):
    run_dir = tmp_path / "run"
    args = [*tiny_overrides(tiny_root, "epochs=1", "device=cpu"), f"hydra.run.dir={run_dir}"]
    result = subprocess.run(
        [sys.executable, "-c", SIGTERM_AS_HYDRA_ENDS_THE_RUN, *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 143 and result.stderr == ""  # its default: killed at once, without a word
    last = result.stdout.splitlines()[-1]
    assert last == f"Interrupted after the run completed; its records in {run_dir} are complete"
    assert metrics_of(run_dir)["status"] == "completed"


CTRL_C_IN_AN_EXIT_HANDLER = """
import atexit, os, signal, sys, time
from mlp_exp import interrupt  # first, as in a run: torch and TensorBoard register their exit handlers after it
from mlp_exp.__main__ import main

def slow_exit_handler():  # as torch's and TensorBoard's, which take ~0.25 s
    os.kill(os.getpid(), signal.{signal_name})
    time.sleep(0.5)
    print("the exit handler ran to its end")

atexit.register(slow_exit_handler)
sys.argv = ["mlp_exp", "epochs=0"]  # refused: exit 2
main()
"""


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_a_ctrl_c_in_the_interpreters_exit_ends_it_with_the_commands_code_and_no_traceback(signal_name):
    script = [sys.executable, "-c", CTRL_C_IN_AN_EXIT_HANDLER.format(signal_name=signal_name)]
    result = subprocess.run(script, capture_output=True, text=True, check=False)
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr
    assert result.returncode == 2  # the command's own
    assert "the exit handler ran to its end" not in result.stdout  # ended at once, as asked


CTRL_C_AT_THE_END_OF_THE_EXIT = """
import os, signal, sys, time
from mlp_exp.__main__ import main

class SignalledAtTheEnd:  # freed with this module, after Python has put back the signals' default handlers
    def __del__(self):
        os.kill(os.getpid(), signal.{signal_name})
        time.sleep(0.2)

freed_last = SignalledAtTheEnd()
sys.argv = ["mlp_exp", "epochs=0"]  # refused: exit 2
main()
"""


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_a_ctrl_c_at_the_end_of_the_interpreters_exit_leaves_the_commands_code(signal_name):
    script = [sys.executable, "-c", CTRL_C_AT_THE_END_OF_THE_EXIT.format(signal_name=signal_name)]
    assert subprocess.run(script, capture_output=True, check=False).returncode == 2  # not killed by the signal


def test_a_new_run_is_refused_in_a_sweeps_dir(tiny_root, tmp_path):
    (tmp_path / "multirun.yaml").write_text("hydra: {}\n")  # what every sweep leaves in its dir
    with pytest.raises(ConfigError, match=rf"^{tmp_path} holds a sweep, not a run: choose another hydra.run.dir$"):
        train(tiny_cfg(tiny_root), tmp_path)


def test_the_not_learning_hint_is_said_once_a_run_even_across_a_resume(tiny_root, tmp_path, monkeypatch, caplog):
    cfg = tiny_cfg(tiny_root, "hiddens=[32,32,32]", "activation=gelu", "epochs=4")  # stays at chance (test_train)
    signal_during_epoch(monkeypatch, 3)
    with caplog.at_level(logging.WARNING, logger=train_module.log.name):
        with pytest.raises(KeyboardInterrupt):
            train(cfg, tmp_path / "run")
        assert caplog.text.count("learned little or nothing") == 1  # after epoch 2
        caplog.clear()
        monkeypatch.undo()
        assert train(cfg, tmp_path / "run", resume=True)["status"] == "completed"
    assert "learned little or nothing" not in caplog.text
