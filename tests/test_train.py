import errno
import json
import logging
import math
import os

import pytest
import torch
from conftest import TINY_TRAIN, compose_cfg, options, tiny_overrides
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2
from tqdm import tqdm

from mlp_exp.advice import guessing
from mlp_exp.config import Activation, ConfigError
from mlp_exp.data import Split, hold_out, load
from mlp_exp.files import resume_command
from mlp_exp.model import cross_entropy
from mlp_exp.records import Status
from mlp_exp.tracking import Tracker
from mlp_exp.train import Diverged, RecordsNotWritten, batches, new_net, train, train_epoch


def tiny_cfg(root, *extra):
    return compose_cfg(*tiny_overrides(root, "hiddens=32", "lr=0.5", "epochs=3", "batch_size=50", "device=cpu", *extra))


def read_events(run_dir):
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return events


def hparams_plugin_data(events):
    """The HParams records in the run's own event file, by kind (experiment, session_start_info, ...)."""
    contents = events.PluginTagToContent("hparams")
    records = {}
    for content in contents.values():
        record = plugin_data_pb2.HParamsPluginData.FromString(content)
        records[record.WhichOneof("data")] = record
    return records


def test_train_learns_and_writes_metrics_json(tiny_root, tmp_path, caplog):
    run_dir = tmp_path / "run"
    metrics = train(tiny_cfg(tiny_root), run_dir)
    assert "learned little or nothing" not in caplog.text

    on_disk = json.loads((run_dir / "metrics.json").read_text())
    assert on_disk == metrics
    assert metrics["status"] == "completed" and metrics["epochs_done"] == 3
    assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3]
    last = metrics["history"][-1]
    assert metrics["test_acc"] == last["test_acc"] and metrics["train_loss"] == last["train_loss"]
    assert set(last) == {"epoch", "train_loss", "train_acc", "test_acc", "epoch_s", "examples_per_s"}
    assert metrics["history"][-1]["train_loss"] < metrics["history"][0]["train_loss"]
    assert metrics["test_acc"] > 0.9  # the tiny classes are trivially separable


def test_one_event_file_directly_in_the_run_dir_with_scalars_and_hparams(tiny_root, tmp_path):
    run_dir = tmp_path / "run"
    train(tiny_cfg(tiny_root, "lr=0.05", "hiddens=[32,16]"), run_dir)

    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1
    assert [p for p in run_dir.iterdir() if p.is_dir()] == []  # no add_hparams sub-run
    events = read_events(run_dir)
    scalars = events.Tags()["scalars"]
    for tag in ("train/loss", "train/acc", "test/acc", "time/epoch_s", "time/examples_per_s"):
        assert tag in scalars
        assert [e.step for e in events.Scalars(tag)] == [1, 2, 3]

    records = hparams_plugin_data(events)
    hparams = records["session_start_info"].session_start_info.hparams
    assert hparams["hiddens"].string_value == "32-16"
    assert hparams["lr"].number_value == pytest.approx(0.05)
    assert hparams["activation"].string_value == "relu" and hparams["dataset"].string_value == "fashion_mnist"
    assert "experiment" not in records  # TensorBoard's is derived from all the runs' values; one run's would hide them
    assert records["session_end_info"].session_end_info.status == 1  # STATUS_SUCCESS


def test_a_validation_set_is_held_out_of_the_training_set_the_same_in_every_run(tiny_root, tmp_path, caplog):
    train_set, _ = load(tiny_cfg(tiny_root).dataset)
    kept, held = hold_out(train_set, 0.25)
    again, held_again = hold_out(train_set, 0.25)
    assert (len(kept), len(held)) == (TINY_TRAIN * 3 // 4, TINY_TRAIN // 4)
    assert torch.equal(held.images, held_again.images) and torch.equal(kept.labels, again.labels)
    # Every training image on exactly one side.
    together = torch.cat([kept.images, held.images]).tolist()
    assert sorted(together) == sorted(train_set.images.tolist())
    assert hold_out(train_set, 0.0) == (train_set, None)  # d2l's setup: all of it trains, nothing is held out

    caplog.set_level(logging.INFO)
    metrics = train(tiny_cfg(tiny_root, "dataset.val_fraction=0.25", "seed=2"), tmp_path / "run")
    assert f"{len(kept)} train / {len(held)} validation / " in caplog.text and "  val acc " in caplog.text
    assert metrics["val_acc"] == metrics["history"][-1]["val_acc"] > 0.9
    assert metrics["hparams"]["val_fraction"] == 0.25
    assert [e.step for e in read_events(tmp_path / "run").Scalars("val/acc")] == [1, 2, 3]
    assert "val_acc" not in train(tiny_cfg(tiny_root, "epochs=1"), tmp_path / "plain")  # none held out: none said


@pytest.mark.parametrize("fraction", ["0.0001", "0.9999"])
def test_a_validation_share_that_leaves_a_side_empty_is_refused_in_one_line(tiny_root, tmp_path, fraction):
    with pytest.raises(ConfigError, match=rf"dataset.val_fraction={fraction} is not allowed: it holds out \d+ of"):
        train(tiny_cfg(tiny_root, f"dataset.val_fraction={fraction}"), tmp_path / "run")


def without_times(metrics):
    return [{k: v for k, v in h.items() if k not in ("epoch_s", "examples_per_s")} for h in metrics["history"]]


def test_same_seed_same_numbers_other_seed_other_numbers(tiny_root, tmp_path):
    first = train(tiny_cfg(tiny_root), tmp_path / "a")
    again = train(tiny_cfg(tiny_root), tmp_path / "b")
    other = train(tiny_cfg(tiny_root, "seed=2"), tmp_path / "c")
    assert without_times(first) == without_times(again)
    assert without_times(first) != without_times(other)


def test_a_runs_threads_are_its_own_the_next_run_in_the_process_starts_from_the_processs(tiny_root, tmp_path):
    before = torch.get_num_threads()
    threads = 1 if before > 1 else 2
    train(tiny_cfg(tiny_root, f"threads={threads}", "epochs=1"), tmp_path / "run")
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("optimizer", options("optimizer"))
@pytest.mark.parametrize("activation", [activation.name for activation in Activation])
def test_every_optimizer_and_activation_trains(tiny_root, tmp_path, optimizer, activation):
    lr = "lr=0.01" if optimizer.startswith("adam") else "lr=0.5"
    metrics = train(tiny_cfg(tiny_root, f"optimizer={optimizer}", f"activation={activation}", lr), tmp_path / "r")
    assert metrics["test_acc"] > 0.5


def test_a_net_that_stays_at_chance_gets_a_hint_after_two_epochs(tiny_root, tmp_path, caplog):
    # Three gelu layers at d2l's init_scale 0.01 pass on almost no signal: the loss stays at ln(10).
    cfg = tiny_cfg(tiny_root, "hiddens=[32,32,32]", "activation=gelu", "epochs=4")
    metrics = train(cfg, tmp_path / "run")
    assert metrics["status"] == "completed" and metrics["test_acc"] < 0.15
    hints = [r.getMessage() for r in caplog.records if "learned little or nothing" in r.getMessage()]
    second = metrics["history"][1]
    guessing_loss, guessing_acc = guessing(train_set_labels(tiny_root))
    hint = (
        f"After 2 epochs the train loss {second['train_loss']:.4f} and accuracy {second['train_acc']:.4f} say the net "
        f"has learned little or nothing (guessing from the classes' shares gives {guessing_loss:.4f} and "
        f"{guessing_acc:.4f}); try another learning rate (now lr=0.5) or another initial weights' scale (now "
        "init_scale=0.01)"
    )
    assert hints == [hint]


def test_a_net_that_learned_gets_no_hint_however_high_its_loss(tiny_root, tmp_path, caplog):
    # Weights 3000 times d2l's make overconfident logits: the loss stays above guessing's while the accuracy is high.
    metrics = train(tiny_cfg(tiny_root, "init_scale=30", "epochs=2"), tmp_path / "run")
    second = metrics["history"][1]
    assert second["train_loss"] > 0.95 * guessing(train_set_labels(tiny_root))[0] and second["train_acc"] > 0.9
    assert "learned little or nothing" not in caplog.text


def train_set_labels(root):
    return load(compose_cfg(*tiny_overrides(root)).dataset)[0].labels


def test_guessings_loss_is_the_entropy_of_the_class_shares_and_its_accuracy_the_largest_share():
    assert guessing(torch.arange(10)) == pytest.approx((math.log(10), 0.1))
    assert guessing(torch.tensor([0, 0, 0, 1])) == pytest.approx(
        (-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)), 0.75)
    )
    assert guessing(torch.tensor([3, 3])) == (0, 1)  # one class: nothing to guess


def test_a_diverging_run_stops_and_says_so(tiny_root, tmp_path):
    with pytest.raises(Diverged, match="lower the learning rate"):
        train(tiny_cfg(tiny_root, "init_scale=1e30"), tmp_path / "run")  # logits overflow to inf
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "diverged"
    events = read_events(tmp_path / "run")
    assert hparams_plugin_data(events)["session_end_info"].session_end_info.status == 2  # STATUS_FAILURE


@pytest.mark.parametrize("width", [10**11, 2**56], ids=["more-than-any-memory", "more-bytes-than-an-int64"])
def test_a_net_too_big_for_memory_is_refused_in_one_line_naming_hiddens(width):
    with pytest.raises(ConfigError) as error:
        new_net(compose_cfg(f"hiddens={width}"), torch.device("cpu"))
    assert str(error.value) == (
        f"hiddens={width} is not allowed here: its weights do not fit in this machine's cpu memory; "
        "use smaller hidden widths"
    )


def test_more_threads_than_cores_are_warned_about(tiny_root, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr("joblib.cpu_count", lambda: 2)
    default = torch.get_num_threads()
    try:
        torch.set_num_threads(4)  # torch's default where a CPU quota allows 2 of the 4 cores it sees
        with caplog.at_level(logging.WARNING, logger="mlp_exp"):
            train(tiny_cfg(tiny_root, "threads=2", "epochs=1"), tmp_path / "fits")
            assert not caplog.records
            train(tiny_cfg(tiny_root, "threads=3", "epochs=1"), tmp_path / "too_many")
            train(tiny_cfg(tiny_root, "epochs=1"), tmp_path / "default")
    finally:
        torch.set_num_threads(default)
    slower = "more than the 2 cores this process may use: the threads take turns on them, which makes each step slower"
    fits = "threads=2 fits them"  # a new run's fix: no resume to speak of
    assert [r.getMessage() for r in caplog.records] == [
        f"threads=3 is {slower}; {fits}",
        f"torch's default of 4 threads (one per core it sees) is {slower}; {fits}",
    ]


def test_adam_with_sgds_step_is_warned_about_before_the_first_step(tiny_root, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="mlp_exp"):
        train(tiny_cfg(tiny_root, "optimizer=adam", "lr=0.001", "epochs=1"), tmp_path / "fits")
        assert not [r for r in caplog.records if "adaptive" in r.getMessage()]
        train(tiny_cfg(tiny_root, "optimizer=adamw", "epochs=1"), tmp_path / "too_big")  # lr=0.5
    assert caplog.records[0].getMessage() == (
        "optimizer=adamw with lr=0.5: an adaptive optimizer (Adam's kind) moves each weight by about lr every step, "
        "whatever its gradient, so this step is likely too big; try lr=0.001"
    )


@pytest.mark.parametrize(
    "activation, happens",
    [
        ("relu", "with relu(0) = 0 no weight gets a gradient, and only the output bias learns"),
        ("tanh", "with tanh(0) = 0 no weight gets a gradient, and only the output bias learns"),
        ("sigmoid", "every hidden unit computes the same and gets the same update, so each layer stays one unit"),
    ],
)
def test_weights_that_start_at_zero_are_warned_about_as_they_will_train(
    tiny_root, tmp_path, caplog, activation, happens
):
    with caplog.at_level(logging.WARNING, logger="mlp_exp"):
        metrics = train(tiny_cfg(tiny_root, "init_scale=0", f"activation={activation}", "epochs=2"), tmp_path / "run")
    assert (
        caplog.messages[0]
        == f"init_scale=0 starts every weight at zero: {happens}; init_scale=0.01 draws them at random"
    )
    W1 = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]["W1"]  # (784, hiddens)
    assert torch.equal(W1, W1[:, :1].expand_as(W1))  # every unit's weights alike, as warned
    assert metrics["history"][-1]["train_loss"] == pytest.approx(metrics["history"][0]["train_loss"], abs=0.05)


def test_the_first_line_names_the_copy_of_the_dataset_the_run_trains_on(tiny_root, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="mlp_exp"):
        train(tiny_cfg(tiny_root, "epochs=1"), tmp_path / "run")
    assert f"MLP (relu) on fashion_mnist from {tiny_root / 'FashionMNIST'}: 600 train / 100 test images" in caplog.text


@pytest.mark.parametrize("batch_size, warned", [(TINY_TRAIN, False), (TINY_TRAIN + 1, True)])
def test_a_batch_beyond_the_training_set_is_warned_to_take_one_step_an_epoch(
    tiny_root, tmp_path, caplog, batch_size, warned
):
    with caplog.at_level(logging.WARNING, logger="mlp_exp"):
        train(tiny_cfg(tiny_root, f"batch_size={batch_size}", "epochs=1"), tmp_path / "run")
    warning = (
        f"batch_size={batch_size} is more than the {TINY_TRAIN} training images: each epoch takes one step, on all of "
        f"them (full-batch gradient descent, as batch_size={TINY_TRAIN} does); a smaller one takes more steps an epoch"
    )
    assert (warning in caplog.messages) == warned


def test_threads_that_wait_for_busy_cores_are_told_once_to_be_fewer(tiny_root, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr("mlp_exp.advice.available", lambda: 2)
    clock = iter(range(0, 1000, 10))  # every epoch, its threads waited 10 s for a core: far more than it took
    monkeypatch.setattr("mlp_exp.train.waited_s", lambda: next(clock))
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "multirun.yaml").write_text("hydra: {}")
    with caplog.at_level(logging.WARNING, logger="mlp_exp"):
        train(tiny_cfg(tiny_root, "threads=2"), tmp_path / "busy")
        train(tiny_cfg(tiny_root, "threads=1"), tmp_path / "one_thread")  # waits too, but stalls no other thread
        train(tiny_cfg(tiny_root, "threads=2", "epochs=1"), tmp_path / "last_epoch")  # nothing left to go on with
        train(tiny_cfg(tiny_root, "threads=2"), tmp_path / "sweep" / "0_job")  # its sweep goes on, not it
    told = [r.getMessage() for r in caplog.records]
    waited = (
        " this run's 2 threads waited 10.00 s between them for a core: other processes are busy on the 2 cores, and "
        "each step waits for its slowest thread; threads=1 waits less"
    )
    go_on = f" (to go on with 1 thread, press Ctrl-C, then: {resume_command('--threads', '1', tmp_path / 'busy')})"
    assert [line.startswith("Epoch 1 took ") for line in told] == [True, True, True], told
    assert [line.split(" s, and", 1)[1] for line in told] == [waited + go_on, waited, waited]
    caplog.clear()
    monkeypatch.setattr("mlp_exp.train.waited_s", lambda: 0.0)  # alone on its cores
    with caplog.at_level(logging.WARNING, logger="mlp_exp"):
        train(tiny_cfg(tiny_root, "threads=2"), tmp_path / "alone")
    assert not caplog.records


def test_every_scalar_of_an_epochs_record_reaches_tensorboard(tmp_path):
    tracker = Tracker(tmp_path, {"lr": 0.1})
    tracker.log_epoch({"epoch": 1, "train_loss": 0.5, "test_loss": 0.6})  # test_loss: a metric someone adds
    tracker.close(Status.completed)
    scalars = read_events(tmp_path).Tags()["scalars"]
    assert {"train/loss", "test_loss"} <= set(scalars) and "epoch" not in scalars


def test_each_epoch_takes_every_example_once_in_an_order_of_its_own():
    n = 1000
    split = Split(torch.arange(n).remainder(256).to(torch.uint8).repeat(784, 1).T.contiguous(), torch.arange(n))
    shuffle = torch.Generator().manual_seed(1)
    orders = []
    for _ in range(2):
        epoch = list(batches(split, 300, shuffle))
        assert [len(y) for _, y in epoch] == [300, 300, 300, 100]
        for X, y in epoch:  # each image beside its own label, scaled to [0, 1]
            assert torch.equal(X, (y.remainder(256).float() / 255)[:, None].expand(-1, 784))
        orders.append(torch.cat([y for _, y in epoch]))
    for order in orders:
        assert sorted(order.tolist()) == list(range(n))
    assert not torch.equal(orders[0], torch.arange(n)) and not torch.equal(orders[0], orders[1])


def test_an_epochs_loss_and_accuracy_are_over_all_its_examples(tiny_root):
    cfg = tiny_cfg(tiny_root)
    train_set, _ = load(cfg.dataset)
    net, optimizer = new_net(cfg, torch.device("cpu"))
    seen = []

    def loss(y_hat, y):  # mlp_exp's, noting what each step saw
        seen.append((y_hat.detach(), y))
        return cross_entropy(y_hat, y)

    with tqdm(disable=True) as progress:
        train_loss, train_acc = train_epoch(
            net, loss, optimizer, train_set, cfg.batch_size, torch.Generator().manual_seed(0), progress
        )
    steps = seen[:-1]  # the last call is the epoch's own, over all its outputs
    assert len(steps) == math.ceil(TINY_TRAIN / cfg.batch_size)
    y_hat, y = torch.cat([o for o, _ in steps]), torch.cat([t for _, t in steps])
    per_example = torch.nn.functional.cross_entropy(y_hat, y, reduction="none")
    assert train_loss == pytest.approx(per_example.mean().item(), rel=1e-6)
    assert train_acc == (y_hat.argmax(dim=1) == y).sum().item() / TINY_TRAIN


def test_a_full_disk_ends_the_run_in_one_error_that_names_the_resume_which_then_finishes_it(
    tiny_root, tmp_path, monkeypatch
):
    cfg = tiny_cfg(tiny_root)
    reference = train(cfg, tmp_path / "reference")
    log_epoch = Tracker.log_epoch

    def disk_full_in_epoch_2(tracker, record):
        if record["epoch"] == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "metrics.json")
        log_epoch(tracker, record)

    monkeypatch.setattr(Tracker, "log_epoch", disk_full_in_epoch_2)
    run_dir = tmp_path / "run"
    with pytest.raises(RecordsNotWritten) as error:
        train(cfg, run_dir)
    assert str(error.value) == (
        f"cannot write the run's records in {run_dir} (No space left on device); free space there, then go on "
        f"with: {resume_command(run_dir)}"
    )
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "interrupted"
    monkeypatch.setattr(Tracker, "log_epoch", log_epoch)  # space freed
    assert without_times(train(cfg, run_dir, resume=True)) == without_times(reference)
