"""Checkpoints hold tensors and plain data only, load with torch.load(weights_only=True), and refuse anything else."""

import errno
import json
import logging
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import Payload, run_cli, tiny_overrides
from hydra import compose
from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
from test_interrupt import signal_during_epoch
from test_train import tiny_cfg

from mlp_exp import compare, lock
from mlp_exp.checkpoint import CheckpointError
from mlp_exp.cli import RunCallback
from mlp_exp.config import ConfigError, composing
from mlp_exp.lock import in_use, only_process_in
from mlp_exp.records import CHECKPOINT_FILE
from mlp_exp.train import train


def interrupted_run(cfg, run_dir: Path, monkeypatch) -> Path:
    """A run dir as a Ctrl-C in its second epoch leaves it: epoch 1's checkpoint, for a resume to go on from."""
    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        signal_during_epoch(patch, 2)
        train(cfg, run_dir)
    return run_dir


def assert_resumes_from_epoch_1(cfg, run_dir: Path) -> None:
    """A resume of an interrupted_run keeps epoch 1's record and trains the rest."""
    before = json.loads((run_dir / "metrics.json").read_text())["history"]
    metrics = train(cfg, run_dir, resume=True)
    assert metrics["status"] == "completed" and len(before) == 1
    assert metrics["history"][0] == before[0] and [r["epoch"] for r in metrics["history"]] == [1, 2, 3]


def plain(value) -> bool:
    """Tensors, numbers, strings, None, and lists, tuples and dicts of them."""
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(plain(v) for v in value)
    return value is None or isinstance(value, (torch.Tensor, bool, int, float, str))


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_each_epoch_leaves_a_checkpoint_of_tensors_and_plain_data(tiny_root, tmp_path, optimizer):
    lr = "lr=0.01" if optimizer == "adam" else "lr=0.5"
    metrics = train(tiny_cfg(tiny_root, f"optimizer={optimizer}", lr), tmp_path / "run")

    state = torch.load(tmp_path / "run" / CHECKPOINT_FILE, weights_only=True)

    assert plain(state)
    assert state["history"] == metrics["history"]  # the state after the last completed epoch
    assert sorted(state["model"]) == ["W1", "W2", "b1", "b2"]
    assert state["hparams"]["optimizer"] == optimizer
    assert [p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(".")] == []  # no temporary file


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on the pickle.dumps file
@pytest.mark.parametrize(
    "write, detail, unsafe_load",
    [
        (torch.save, "Unsupported global: GLOBAL exec", lambda path: torch.load(path, weights_only=False)),
        (
            lambda obj, path: path.write_bytes(pickle.dumps(obj)),
            "Unsupported operand",  # pickle protocol 4's FRAME, refused before anything else
            lambda path: pickle.loads(path.read_bytes()),
        ),
    ],
    ids=["torch.save", "pickle.dumps"],
)
def test_a_checkpoint_carrying_code_is_refused_and_the_code_never_runs(
    tiny_root, tmp_path, write, detail, unsafe_load, monkeypatch
):
    run_dir = interrupted_run(tiny_cfg(tiny_root), tmp_path / "run", monkeypatch)
    path = run_dir / CHECKPOINT_FILE
    state = torch.load(path, weights_only=True)
    marker = tmp_path / "code-ran"
    state["history"].append(Payload(marker))  # someone else's checkpoint, doctored
    write(state, path)

    with pytest.raises(CheckpointError) as error:
        train(tiny_cfg(tiny_root), run_dir, resume=True)

    assert str(error.value).startswith(f"refusing to load {path}: it holds pickled Python objects")
    assert f"({detail}" in str(error.value) and "\n" not in str(error.value)
    assert not marker.exists()
    unsafe_load(path)  # the payload is live: an unsafe load runs it
    assert marker.exists()


def test_a_run_trained_again_after_its_checkpoint_was_deleted_shows_each_epoch_once(
    tiny_root, tmp_path, monkeypatch, caplog
):
    run_dir = interrupted_run(tiny_cfg(tiny_root), tmp_path / "run", monkeypatch)
    (run_dir / CHECKPOINT_FILE).unlink()  # as a damaged checkpoint's message advises

    train(tiny_cfg(tiny_root), run_dir, resume=True)

    said = (
        f"{run_dir} has no checkpoint to go on from: its 1 recorded epoch is trained again from epoch 1, in its place"
    )
    assert said in caplog.messages
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 2
    events = EventAccumulator(str(run_dir))  # TensorBoard's Python loader (tensorboard --load_fast=false)
    events.Reload()
    assert [event.step for event in events.Tensors("train/loss")] == [1, 2, 3]
    caplog.clear()
    (run,) = compare.find_runs(run_dir)  # whose reader would warn of the steps the restart marker hides
    assert run.status == "completed" and caplog.records == []


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda path: path.write_bytes(path.read_bytes()[:1000]), "(it is cut short, as by a copy or save that"),
        (lambda path: path.write_bytes(path.read_bytes()[:-100]), "(it is cut short, as by a copy or save that"),
        (lambda path: path.write_bytes(b""), "(it is empty)"),
        (lambda path: path.write_bytes(b"garbage\n"), "(it is not a file torch.save wrote)"),
        (lambda path: path.write_text("hello text\n"), "(it is not a file torch.save wrote)"),  # torch says `(101)`
        (lambda path: path.write_bytes(bytes(range(7, 107))), "(it is not a file torch.save wrote)"),
        (lambda path: torch.save([torch.zeros(3)], path), "is not an mlp_exp checkpoint"),
        (lambda path: torch.save({"model": {}, "format": 99}, path), "is not an mlp_exp checkpoint"),
        # Every entry of the right kind, but of a format this mlp_exp does not read.
        (lambda path: torch.save({**torch.load(path), "format": 99}, path), "is not an mlp_exp checkpoint"),
    ],
    ids=["truncated", "its-end-lost", "empty", "garbage", "text", "other-bytes", "a-list", "foreign", "other-format"],
)
def test_a_damaged_or_foreign_checkpoint_is_named_in_one_line(tiny_root, tmp_path, damage, message, monkeypatch):
    run_dir = interrupted_run(tiny_cfg(tiny_root), tmp_path / "run", monkeypatch)
    damage(run_dir / CHECKPOINT_FILE)

    with pytest.raises(CheckpointError) as error:
        train(tiny_cfg(tiny_root), run_dir, resume=True)

    assert message in str(error.value) and str(run_dir / CHECKPOINT_FILE) in str(error.value)
    assert "\n" not in str(error.value)


def test_a_resume_that_fails_leaves_the_run_failed_with_its_error_until_a_resume_trains(
    tiny_root, tmp_path, monkeypatch, capsys
):
    run_dir = interrupted_run(tiny_cfg(tiny_root), tmp_path / "run", monkeypatch)
    (run_dir / CHECKPOINT_FILE).write_bytes(b"")
    with pytest.raises(CheckpointError) as error:
        train(tiny_cfg(tiny_root), run_dir, resume=True)

    recorded = json.loads((run_dir / "metrics.json").read_text())
    assert recorded["status"] == "failed" and recorded["error"] == str(error.value)
    assert recorded["epochs_done"] == 1  # the records it has are kept
    compare.report(run_dir)
    shown = capsys.readouterr().out
    assert f"run failed: {error.value}" in shown and "interrupted" not in shown

    (run_dir / CHECKPOINT_FILE).unlink()  # the fix the error names: train it from epoch 1
    metrics = train(tiny_cfg(tiny_root), run_dir, resume=True)
    assert metrics["status"] == "completed" and "error" not in json.loads((run_dir / "metrics.json").read_text())


def test_a_resume_that_fails_on_a_full_disk_says_the_error_it_failed_on(tiny_root, tmp_path, monkeypatch):
    run_dir = interrupted_run(tiny_cfg(tiny_root), tmp_path / "run", monkeypatch)
    (run_dir / CHECKPOINT_FILE).write_bytes(b"")

    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("mlp_exp.train.record_failure", disk_full)
    with pytest.raises(CheckpointError, match="it is empty"):
        train(tiny_cfg(tiny_root), run_dir, resume=True)


def test_a_run_dir_refused_to_a_new_run_keeps_the_records_of_the_run_it_holds(tiny_root, tmp_path, monkeypatch):
    run_dir = interrupted_run(tiny_cfg(tiny_root), tmp_path / "run", monkeypatch)
    before = (run_dir / "metrics.json").read_bytes()
    with pytest.raises(ConfigError, match="already holds a run"):
        train(tiny_cfg(tiny_root), run_dir)
    assert (run_dir / "metrics.json").read_bytes() == before  # still `interrupted`: another run's failure is not its


def test_optimizer_state_that_does_not_fit_the_network_is_refused_in_one_line(tiny_root, tmp_path, monkeypatch):
    cfg = tiny_cfg(tiny_root, "optimizer=momentum")
    run_dir = interrupted_run(cfg, tmp_path / "run", monkeypatch)
    state = torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)
    momentum = state["optimizer"]["state"]["momentum"]
    momentum[0] = momentum[0][:-1]  # one row of W1's momentum lost
    torch.save(state, run_dir / CHECKPOINT_FILE)

    with pytest.raises(CheckpointError) as error:
        train(cfg, run_dir, resume=True)

    assert str(error.value).startswith(f"{run_dir / CHECKPOINT_FILE} does not fit this run's network (optimizer state")
    assert "\n" not in str(error.value)


def test_a_checkpoint_of_another_run_is_refused_naming_what_differs(tiny_root, tmp_path):
    train(tiny_cfg(tiny_root, "hiddens=16"), tmp_path / "theirs")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / CHECKPOINT_FILE).write_bytes((tmp_path / "theirs" / CHECKPOINT_FILE).read_bytes())

    with pytest.raises(CheckpointError, match=r"belongs to a different run \(hiddens '16' in the checkpoint, '32'"):
        train(tiny_cfg(tiny_root), tmp_path / "mine", resume=True)


def test_a_checkpoint_of_an_older_mlp_exp_that_recorded_momentum_as_sgd_resumes(tiny_root, tmp_path, monkeypatch):
    cfg = tiny_cfg(tiny_root, "optimizer=momentum")
    run_dir = interrupted_run(cfg, tmp_path / "run", monkeypatch)
    state = torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)
    state["hparams"]["optimizer"] = "sgd"
    torch.save(state, run_dir / CHECKPOINT_FILE)

    assert_resumes_from_epoch_1(cfg, run_dir)


@pytest.mark.parametrize("missing", ["width", "momentum", "lr"])
def test_a_checkpoint_of_an_older_mlp_exp_lacking_a_knob_resumes_where_the_run_has_its_default(
    tiny_root, tmp_path, missing, monkeypatch
):
    """As one saved before the knob was added (width, which restates hiddens, whatever its value)."""
    cfg = tiny_cfg(tiny_root)  # momentum 0, the default; lr 0.5, not the default
    run_dir = interrupted_run(cfg, tmp_path / "run", monkeypatch)
    state = torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)
    del state["hparams"][missing]
    torch.save(state, run_dir / CHECKPOINT_FILE)

    if missing != "lr":
        assert_resumes_from_epoch_1(cfg, run_dir)
    else:
        message = r"different run \(lr not in the checkpoint \(its default: 0.1\), 0.5 in the config\)"
        with pytest.raises(CheckpointError, match=message):
            train(cfg, run_dir, resume=True)


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("error:")]


def run_left_running(tiny_root, tmp_path) -> Path:
    """A run dir whose metrics.json says `running`, as a lost machine leaves it, or as a run in progress shows."""
    run_dir = tmp_path / "run"
    assert run_cli(*tiny_overrides(tiny_root, "epochs=2"), f"hydra.run.dir={run_dir}", cwd=tmp_path).returncode == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").write_text(json.dumps({**metrics, "status": "running"}))
    return run_dir


def test_the_resume_command_refuses_a_doctored_checkpoint_in_one_line(tiny_root, tmp_path):
    run_dir = run_left_running(tiny_root, tmp_path)
    marker = tmp_path / "code-ran"
    state = torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)
    torch.save({**state, "model": Payload(marker)}, run_dir / CHECKPOINT_FILE)

    result = run_cli(str(run_dir), cwd=tmp_path, module="mlp_exp.resume")

    assert result.returncode == 2
    errors = error_lines(result)
    assert len(errors) == 1 and errors[0].startswith(f"error: refusing to load {run_dir / CHECKPOINT_FILE}")
    assert "Traceback" not in result.stderr
    assert not marker.exists()


def test_the_resume_of_a_run_whose_log_cannot_be_written_says_so_in_one_line(tiny_root, tmp_path):
    run_dir = run_left_running(tiny_root, tmp_path)
    (run_dir / "mlp_exp.log").unlink()
    (run_dir / "mlp_exp.log").mkdir()  # as root, the way to make it unwritable

    result = run_cli(str(run_dir), cwd=tmp_path, module="mlp_exp.resume")

    assert result.returncode == 2 and "Traceback" not in result.stderr
    log_file = run_dir / "mlp_exp.log"
    assert error_lines(result) == [
        (
            f"error: cannot write {log_file} (Is a directory); make {log_file} a file that can be written, and resume it "
            "again"
        )
    ]


HOLD_RUN_DIR = """
import sys
from pathlib import Path
from mlp_exp.lock import only_process_in
with only_process_in(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()  # until killed
"""
IN_USE = "is being trained by another process"
# Another process's attempt to lock a dir, as only_process_in does it (without importing torch for it).
PROBE_RUN_DIR = """
import fcntl, os, sys
try:
    fcntl.flock(os.open(sys.argv[1], os.O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("free")
except BlockingIOError:
    print("held")
"""


def held_by_another_process(run_dir: Path) -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE_RUN_DIR, str(run_dir)], capture_output=True, text=True, check=True
    )
    return {"held\n": True, "free\n": False}[probe.stdout]


def test_a_process_holds_its_run_dir_until_its_outermost_hold_ends(tmp_path):
    # The run's Hydra callback holds the dir before Hydra writes into it; train holds it again inside that.
    with only_process_in(tmp_path):
        with only_process_in(tmp_path / "."):
            pass
        with only_process_in(tmp_path):  # still this process's, after the inner hold ended
            assert in_use(tmp_path) is False  # by no other process: compare and resume take it for theirs
        assert held_by_another_process(tmp_path)
    assert not held_by_another_process(tmp_path)
    with only_process_in(tmp_path):  # held anew, as by the next job of a sweep in the same process
        assert held_by_another_process(tmp_path)


def test_the_run_callback_holds_the_run_dir_and_lets_go_of_one_it_refuses(tiny_root, tmp_path):
    callback = RunCallback()
    run_dir = tmp_path / "run"
    with composing():  # as callbacks get it: Hydra's own config too
        overrides = tiny_overrides(tiny_root, "hiddens=32", "epochs=3", f"hydra.run.dir={run_dir}")
        config = compose(config_name="config", overrides=overrides, return_hydra_config=True)
    try:
        callback.on_run_start(config)
        assert held_by_another_process(run_dir)
    finally:
        RunCallback.hold.close()  # as cli.main does when the run ends, however it ends
    assert not held_by_another_process(run_dir)

    train(tiny_cfg(tiny_root), run_dir)
    with pytest.raises(SystemExit):
        callback.on_run_start(config)
    assert not held_by_another_process(run_dir)


def test_a_run_dir_another_process_trains_in_is_refused_until_that_process_ends(tiny_root, tmp_path):
    run_dir = run_left_running(tiny_root, tmp_path)
    log_before = (run_dir / "mlp_exp.log").read_text()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_RUN_DIR, str(run_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    with holder:
        try:
            assert holder.stdout.readline() == "held\n"
            resumed = run_cli(str(run_dir), cwd=tmp_path, module="mlp_exp.resume")
        finally:
            holder.kill()  # a process that dies releases the dir

    assert resumed.returncode == 2
    assert error_lines(resumed) == [f"error: {run_dir} {IN_USE}; wait for it to end (or stop it), then resume it"]
    assert "Traceback" not in resumed.stderr
    assert (run_dir / "mlp_exp.log").read_text() == log_before  # the other process's log holds only its own lines
    assert run_cli(str(run_dir), cwd=tmp_path, module="mlp_exp.resume").returncode == 0
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "completed"


def test_a_new_run_in_a_dir_another_process_trains_in_is_refused_before_hydra_writes_there(tiny_root, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with only_process_in(run_dir):  # a run in its first epoch: no checkpoint yet
        result = run_cli(*tiny_overrides(tiny_root), f"hydra.run.dir={run_dir}", cwd=tmp_path)

    assert result.returncode == 2
    assert error_lines(result) == [f"error: {run_dir} {IN_USE}; choose another hydra.run.dir, or wait for it to end"]
    assert not (run_dir / ".hydra").exists()


def test_a_run_dir_another_process_only_looks_at_is_taken_once_it_lets_go(tmp_path, monkeypatch):
    """compare and resume look (lock.in_use) with a lock of a moment: a run that starts then must not be refused."""
    looking = iter([True, True, False])  # the other process lets go after two tries
    real_flock = lock.fcntl.flock

    def flock(fd, operation):
        if operation & lock.fcntl.LOCK_EX and next(looking):
            raise BlockingIOError
        return real_flock(fd, operation)

    monkeypatch.setattr(lock.fcntl, "flock", flock)
    with only_process_in(tmp_path):
        assert held_by_another_process(tmp_path)


def test_a_run_dir_that_cannot_be_locked_still_trains_and_says_so(tiny_root, tmp_path, monkeypatch, caplog):
    def unsupported(fd, operation):  # as NFS answers for a directory opened read-only
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(lock.fcntl, "flock", unsupported)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with caplog.at_level(logging.INFO, logger=lock.log.name), only_process_in(run_dir):  # as the callback
        assert train(tiny_cfg(tiny_root), run_dir)["status"] == "completed"
    # Said by the callback's hold, and again by train's inside it: that one goes into the run's log.
    assert caplog.text.count(f"{run_dir} cannot be locked ([Errno 9] Bad file descriptor)") == 2
