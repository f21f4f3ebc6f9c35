"""A NaN or infinite loss stops the run at that epoch, says `diverged`, keeps the epochs before, and exits 3."""

import json
import math

import pytest
import torch
from conftest import files_under, run_cli, tiny_overrides
from test_train import hparams_plugin_data, read_events, tiny_cfg

from mlp_exp.advice import what_to_lower
from mlp_exp.config import ConfigError
from mlp_exp.files import command
from mlp_exp.records import CHECKPOINT_FILE, metric_text
from mlp_exp.train import Diverged, train

# On the tiny data set this loss is finite for two epochs and NaN in the third.
DIVERGES_AT_EPOCH_3 = ("activation=leaky_relu", "lr=50", "epochs=6", "batch_size=100", "device=cpu")


def strict_json(path):
    """metrics.json as any JSON reader sees it: NaN and Infinity are not JSON."""

    def refuse(constant):
        raise ValueError(f"{path} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_a_diverging_run_exits_3_and_keeps_the_epochs_before(tiny_root, tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(*tiny_overrides(tiny_root, *DIVERGES_AT_EPOCH_3), f"hydra.run.dir={run_dir}", cwd=tmp_path)

    assert result.returncode == 3
    assert result.stderr.strip() == (
        "error: training diverged at epoch 3 (train loss nan); lower the learning rate (now lr=50) or the initial "
        "weights' scale (now init_scale=0.01)"
    )
    assert result.stdout.splitlines()[-2:] == [
        f"Run dir: {run_dir}",  # where its records show how it went wrong
        f"Open it in TensorBoard: {command('tensorboard', '--logdir', run_dir)}",
    ]

    metrics = strict_json(run_dir / "metrics.json")
    assert metrics["status"] == "diverged"
    assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3]
    assert all(h["train_loss"] > 0 for h in metrics["history"][:2])
    assert metrics["train_loss"] is None  # NaN, written as JSON's null

    events = read_events(run_dir)
    assert [e.step for e in events.Scalars("test/acc")] == [1, 2, 3]
    assert hparams_plugin_data(events)["session_end_info"].session_end_info.status == 2  # STATUS_FAILURE

    records = {path: content for path, content in files_under(run_dir).items() if path.name != "mlp_exp.log"}
    resumed = run_cli(str(run_dir), cwd=tmp_path, module="mlp_exp.resume")
    assert resumed.returncode == 3
    assert resumed.stderr.strip() == (
        f"error: {run_dir} diverged and would diverge again if resumed; start a new run, and lower the "
        "learning rate (now lr=50) or the initial weights' scale (now init_scale=0.01)"
    )
    assert {path: content for path, content in files_under(run_dir).items() if path.name != "mlp_exp.log"} == records


def test_in_a_sweep_the_other_jobs_go_on(tiny_root, tmp_path):
    result = run_cli(
        "-m",
        *tiny_overrides(tiny_root, *DIVERGES_AT_EPOCH_3, "lr=50,0.1"),
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        cwd=tmp_path,
    )

    assert result.returncode == 3
    # The job's own line says why it stopped; the sweep's last line counts the jobs that did not complete.
    assert result.stderr.splitlines()[0].startswith("error: training diverged at epoch 3")
    assert (
        result.stderr.splitlines()[-1] == "error: 1 of 2 jobs did not complete (1 diverged); the table above says which"
    )
    assert "Traceback" not in result.stderr
    # Hydra skips the sweep's end after a failed job; the comparison is printed all the same.
    table = result.stdout[result.stdout.index("2 runs under") :]
    assert "diverged" in table and "completed" in table and (tmp_path / "sweep" / "compare.png").is_file()
    (diverged,) = (tmp_path / "sweep").glob("0_*")
    (completed,) = (tmp_path / "sweep").glob("1_*")
    assert strict_json(diverged / "metrics.json")["status"] == "diverged"
    assert f"Run dir: {diverged}\n" in result.stdout and f"Run dir: {completed}\n" in result.stdout
    assert strict_json(completed / "metrics.json")["status"] == "completed"
    assert strict_json(completed / "metrics.json")["epochs_done"] == 6


def test_a_new_run_is_refused_in_the_dir_of_one_that_diverged_even_in_its_first_epoch(tiny_root, tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(Diverged):
        train(tiny_cfg(tiny_root, "init_scale=1e30"), run_dir)  # logits overflow to inf in epoch 1
    assert not (run_dir / CHECKPOINT_FILE).exists()  # no checkpoint of a NaN model
    records = files_under(run_dir)

    with pytest.raises(ConfigError) as refused:
        train(tiny_cfg(tiny_root), run_dir)
    assert str(refused.value) == f"{run_dir} already holds a run that diverged: choose another hydra.run.dir"
    assert files_under(run_dir) == records


def test_the_divergence_advice_names_weight_decay_only_where_there_is_some(tiny_root):
    advice = what_to_lower(tiny_cfg(tiny_root, "lr=0.5", "optimizer.weight_decay=0.001"))
    assert advice == (
        "lower the learning rate (now lr=0.5), the initial weights' scale (now init_scale=0.01) or the weight decay "
        "(now optimizer.weight_decay=0.001)"
    )
    assert "decay" not in what_to_lower(tiny_cfg(tiny_root, "lr=0.5"))


def test_logs_and_tables_show_a_huge_loss_as_a_number_one_can_read():
    assert metric_text(0.51234) == "0.5123" and metric_text(12345.6789) == "12345.6789"
    assert metric_text(3.2e30) == "3.2e+30"  # not 35 digits
    assert (metric_text(math.inf), metric_text(math.nan)) == ("inf", "nan")


def test_an_infinite_loss_is_divergence_too(tiny_root, tmp_path, monkeypatch):
    # A loss can overflow to inf before any NaN: that epoch's model is as unusable.
    import mlp_exp.train

    real_epoch, epochs = mlp_exp.train.train_epoch, iter([False, True])
    monkeypatch.setattr(
        mlp_exp.train,
        "train_epoch",
        lambda *args: (math.inf, 0.1) if next(epochs) else real_epoch(*args),
    )
    run_dir = tmp_path / "run"
    with pytest.raises(Diverged, match=r"^training diverged at epoch 2 \(train loss inf\)"):
        train(tiny_cfg(tiny_root, "epochs=3"), run_dir)

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and [h["epoch"] for h in metrics["history"]] == [1, 2]
    assert [h["epoch"] for h in torch.load(run_dir / CHECKPOINT_FILE)["history"]] == [1]  # not the diverged model's
