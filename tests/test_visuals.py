"""The pictures a run leaves in its run dir and in TensorBoard, what they show, and the switch that turns them off."""

import csv
import io

import numpy as np
import pytest
import torch
from conftest import TINY_TEST, compose_cfg, run_cli, tiny_overrides, write_tiny_dataset
from PIL import Image, ImageDraw, ImageFont
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from test_train import tiny_cfg, without_times

from mlp_exp.pictures import (
    CELL,
    FRAME,
    GRID_SCALE,
    SIDE,
    TEXT_SIZE,
    TICK,
    TITLE_BAND,
    confusion_chart,
    confusion_picture,
    curves_picture,
    first_layer_units,
    learning_curves_chart,
    predictions_picture,
)
from mlp_exp.records import CHECKPOINT_FILE, METRICS_FILE, PICTURE_FILES
from mlp_exp.train import train
from mlp_exp.visuals import confusion_matrix, write_confusion_csv

PNGS = ("predictions", "confusion_matrix", "first_layer_weights", "learning_curves")
IMAGE_TAGS = {"test/predictions", "test/confusion_matrix", "params/W1_units"}
PARAMS = ("W1", "b1", "W2", "b2")
CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]


def read_all_events(run_dir):
    events = EventAccumulator(str(run_dir), size_guidance={"images": 0, "histograms": 0, "scalars": 0})
    events.Reload()
    return events


def read_confusion_csv(path):
    header, *rows = list(csv.reader(path.open()))
    return header[1:], [row[0] for row in rows], np.array([[int(n) for n in row[1:]] for row in rows])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One default run on the tiny data set (3 epochs, 100 test images), shared by the checks that only read it."""
    root = tmp_path_factory.mktemp("data")
    write_tiny_dataset(root / "FashionMNIST" / "raw")
    run_dir = root / "run"
    metrics = train(tiny_cfg(root), run_dir)
    return run_dir, metrics, read_all_events(run_dir)


def test_a_run_leaves_its_pictures_as_pngs_and_the_same_pngs_in_tensorboard_at_its_end(tiny_run):
    run_dir, _, events = tiny_run
    for name in PNGS:
        width, height = Image.open(run_dir / f"{name}.png").size
        assert height > 200 and width > 200
    assert set(events.Tags()["images"]) == IMAGE_TAGS
    for tag in IMAGE_TAGS:
        assert [image.step for image in events.Images(tag)] == [3]  # by default, at the end only
    (image,) = events.Images("test/predictions")
    assert image.encoded_image_string == (run_dir / "predictions.png").read_bytes()
    shown = Image.open(io.BytesIO(image.encoded_image_string))
    assert shown.size == (image.width, image.height)  # the size TensorBoard is told
    assert [p for p in run_dir.iterdir() if p.is_dir()] == []  # pictures sit in the run dir, not in a sub-run
    # The files a new run refuses to write over in a dir of other files: every picture's, and no more.
    records = {METRICS_FILE, CHECKPOINT_FILE, "mlp_exp.log"}
    files = {p.name for p in run_dir.iterdir() if not p.name.startswith("events.out.tfevents.")} - records
    assert files == set(PICTURE_FILES)


def test_every_parameter_and_its_gradient_gets_a_histogram_each_epoch(tiny_run):
    _, _, events = tiny_run
    assert set(events.Tags()["histograms"]) == {f"{kind}/{p}" for kind in ("params", "grads") for p in PARAMS}
    for kind in ("params", "grads"):
        for p in PARAMS:
            assert [h.step for h in events.Histograms(f"{kind}/{p}")] == [1, 2, 3]
    W1 = events.Histograms("params/W1")[-1].histogram_value
    assert W1.num == 784 * 32 and sum(W1.bucket) == W1.num  # tiny_cfg: hiddens=32
    assert W1.min < 0 < W1.max
    # Each bucket by its right edge: the last ends at the max, the first's left edge is the min.
    assert W1.bucket_limit[-1] == pytest.approx(W1.max) and W1.bucket_limit[0] > W1.min


def test_confusion_matrix_counts_every_test_image_and_agrees_with_the_accuracies(tiny_run):
    run_dir, metrics, events = tiny_run
    columns, rows, confusion = read_confusion_csv(run_dir / "confusion_matrix.csv")
    assert columns == rows == CLASSES
    assert confusion.sum() == TINY_TEST
    assert confusion.trace() / TINY_TEST == pytest.approx(metrics["test_acc"])
    for name, right, total in zip(CLASSES, confusion.diagonal(), confusion.sum(axis=1)):
        tag = f"test_acc_by_class/{name.replace(' ', '_')}"
        if total:
            assert [s.step for s in events.Scalars(tag)] == [1, 2, 3]
            assert events.Scalars(tag)[-1].value == pytest.approx(right / total)


def test_a_class_name_with_a_comma_stays_one_column_of_the_confusion_csv(tmp_path):
    classes = ["boot, ankle", 'the "top"']
    write_confusion_csv(tmp_path / "c.csv", np.array([[3, 1], [0, 4]]), classes)
    columns, rows, confusion = read_confusion_csv(tmp_path / "c.csv")
    assert columns == rows == classes and confusion.tolist() == [[3, 1], [0, 4]]


def test_a_run_draws_its_pictures_without_importing_matplotlib(tiny_root, tmp_path):
    # matplotlib alone takes 0.5-0.75 s to import: more than the pictures' share of a run's time.
    run_dir = tmp_path / "run"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTHONPROFILEIMPORTTIME", "1")  # every module imported, on stderr
        result = run_cli(*tiny_overrides(tiny_root, "epochs=1", "device=cpu"), f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert all((run_dir / f"{name}.png").is_file() for name in PNGS)
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert {"torch", "PIL.Image"} <= imported
    assert not [module for module in imported if module.split(".")[0] == "matplotlib"]


def test_figures_every_k_epochs_keep_each_in_tensorboard(tiny_root, tmp_path):
    train(tiny_cfg(tiny_root, "visuals.every=2", "epochs=5"), tmp_path / "run")
    events = read_all_events(tmp_path / "run")
    for tag in IMAGE_TAGS:
        assert [image.step for image in events.Images(tag)] == [2, 4, 5]


def test_the_switch_turns_the_pictures_off_and_leaves_the_numbers_alone(tiny_run, tiny_root, tmp_path):
    _, with_pictures, _ = tiny_run
    run_dir = tmp_path / "run"
    metrics = train(tiny_cfg(tiny_root, "visuals.enabled=false"), run_dir)

    assert sorted(p.name for p in run_dir.iterdir() if not p.name.startswith("events.")) == [
        "checkpoint.pt",
        "metrics.json",
    ]
    tags = read_all_events(run_dir).Tags()
    assert tags["images"] == [] and tags["histograms"] == []
    assert not [tag for tag in tags["scalars"] if tag.startswith("test_acc_by_class/")]
    assert "test/acc" in tags["scalars"]
    assert without_times(metrics) == without_times(with_pictures)


def test_predictions_grid_shows_the_first_test_images_in_order_with_the_mistakes_in_red():
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
    y_pred = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 2])  # the last two are wrong
    images = np.random.default_rng(0).integers(0, 256, size=(12, 784), dtype=np.uint8)
    picture = np.asarray(predictions_picture(images, labels, y_pred, CLASSES, epoch=7))  # (H, W, 3)

    S = GRID_SCALE
    cell_h, cell_w = (TITLE_BAND + SIDE + 2 * FRAME + 1) * S, (SIDE + 2 * FRAME + 2) * S
    heading_h = picture.shape[0] - 2 * cell_h  # 12 images: two rows of eight
    assert picture.shape[1] == 8 * cell_w and heading_h > 0
    for i, image in enumerate(images):
        top, left = heading_h + (i // 8) * cell_h, (i % 8) * cell_w
        cell = picture[top : top + cell_h, left : left + cell_w].astype(int)  # the image and its title above it
        image_top, image_left = (TITLE_BAND + FRAME) * S, (1 + FRAME) * S
        shown = cell[image_top : image_top + SIDE * S : S, image_left : image_left + SIDE * S : S]  # (28, 28, 3)
        assert (shown == image.reshape(SIDE, SIDE, 1)).all()
        red = (cell[..., 0] > 150) & (cell[..., 1] < 100) & (cell[..., 2] < 100)
        title, framed = slice(0, TITLE_BAND * S), slice(TITLE_BAND * S, None)
        assert red[title].any() == red[framed].any() == (labels[i] != y_pred[i])  # red title, red frame
        assert (cell[title].sum(axis=-1) < 300).any()  # every image has a (dark or red) title


def test_confusion_matrix_rows_are_the_true_classes_and_show_each_class_accuracy():
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    y_pred = torch.tensor([0, 0, 1, 1, 1, 0])
    confusion = confusion_matrix(labels, y_pred, num_classes=3)
    assert confusion.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]

    chart = confusion_chart(confusion.numpy(), ["a", "b", "c"], epoch=4)
    assert chart.row_labels == ["a (67%)", "b (100%)", "c (0%)"]
    assert chart.column_labels == ["a", "b", "c"]
    assert sorted(text for row in chart.counts for text in row if text) == ["1", "1", "2", "2"]  # non-zero cells
    assert chart.counts[1] == ["", "2", ""]
    assert chart.title.startswith("Confusion matrix after epoch 4")
    assert "test accuracy 0.667 on 6 images" in chart.title

    picture = np.asarray(confusion_picture(chart)).astype(int)  # (H, W, 3)
    assert picture.shape == (chart.size[1], chart.size[0], 3)
    assert 200 < chart.size[1] < 600 and 400 < chart.size[0] < 800
    x0, y0 = chart.origin
    cells = picture[y0 : y0 + 3 * CELL, x0 : x0 + 3 * CELL].reshape(3, CELL, 3, CELL, 3).transpose(0, 2, 1, 3, 4)
    darkness = 3 * 255 - cells[:, :, 2, 2].sum(axis=-1)  # (3, 3) at each cell's corner, clear of its count
    shares = confusion.numpy() / confusion.numpy().sum(axis=1, keepdims=True)
    for share, dark in zip(shares.ravel(), darkness.ravel()):
        assert (dark > darkness.ravel()[shares.ravel() < share]).all()  # the larger the share, the darker
    assert cells[1, 1].min(axis=-1).max() > 200  # a full cell's count, in white
    assert cells[0, 1].max(axis=-1).min() < 100  # a light cell's count, in black
    assert cells[2, 2].sum(axis=-1).min() > 600  # an empty cell: no count


@pytest.mark.parametrize("classes", [["a", "b", "c"], CLASSES])
def test_the_whole_confusion_matrix_fits_in_its_picture(classes):
    rng = np.random.default_rng(0)
    confusion = rng.integers(0, 50, size=(len(classes), len(classes))) + np.eye(len(classes), dtype=int) * 900
    picture = np.asarray(confusion_picture(confusion_chart(confusion, classes, epoch=10))).astype(int)
    border = np.concatenate([picture[:3].reshape(-1, 3), picture[-3:].reshape(-1, 3),
                             picture[:, :3].reshape(-1, 3), picture[:, -3:].reshape(-1, 3)])  # fmt: skip
    assert (border == 255).all()  # nothing cut off at the edges


def test_first_layer_units_show_each_units_weights_as_a_28x28_tile_red_positive_blue_negative():
    W1 = torch.zeros(784, 32)
    W1[0, 0], W1[783, 0] = 2.0, -1.0  # unit 0: top-left pixel positive, bottom-right negative
    units = first_layer_units(W1)
    assert units.shape == (6 * 30, 6 * 30, 3)  # 32 units on a 6 x 6 grid of 28 + 2 pixel cells
    tile = units[1:29, 1:29]  # unit 0
    assert tile[0, 0].tolist() == [255, 0, 0]  # the largest weight: full red
    assert tile[27, 27].tolist() == [128, 128, 255]  # half of it, negative: half blue
    assert (tile[1:27, 1:27] == 255).all()  # zero: white
    assert first_layer_units(torch.randn(784, 1000)).shape == (16 * 30, 16 * 30, 3)  # at most 256 units


def test_learning_curves_plot_train_loss_train_acc_and_test_acc_per_epoch():
    history = [
        {"epoch": 1, "train_loss": 1.0, "train_acc": 0.6, "test_acc": 0.7},
        {"epoch": 2, "train_loss": 0.6, "train_acc": 0.8, "test_acc": 0.79},
    ]
    chart = learning_curves_chart(history)
    assert [series.label for series in chart.series] == ["train loss", "train acc", "test acc"]
    for series, key in zip(chart.series, ("train_loss", "train_acc", "test_acc")):
        assert series.epochs == [1, 2]
        assert series.values == [h[key] for h in history]
    assert len({series.color for series in chart.series}) == len({series.dashes for series in chart.series}) == 3
    assert chart.title == "Learning curves: test acc 0.790 after epoch 2"
    assert [label for _, label in chart.x.ticks] == ["1", "2"]
    assert [label for _, label in chart.y.ticks] == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
    assert chart.markers

    picture = np.asarray(curves_picture(chart)).astype(int)  # (H, W, 3)
    assert picture.shape == (chart.size[1], chart.size[0], 3) and 400 < chart.size[0] < 1000
    for series in chart.series:
        x, y = chart.point(1, series.values[0])  # epoch 1's values are far apart: one marker each
        assert np.abs(picture[round(y), round(x)] - series.color).max() < 40


def test_learning_curves_add_the_validation_accuracy_of_a_run_that_held_out_a_validation_set():
    history = [
        {"epoch": 1, "train_loss": 1.0, "train_acc": 0.6, "val_acc": 0.72, "test_acc": 0.7},
        {"epoch": 2, "train_loss": 0.6, "train_acc": 0.8, "val_acc": 0.8, "test_acc": 0.79},
    ]
    chart = learning_curves_chart(history)
    assert [series.label for series in chart.series] == ["train loss", "train acc", "val acc", "test acc"]
    assert chart.series[2].values == [0.72, 0.8]
    assert len({series.color for series in chart.series}) == len({series.dashes for series in chart.series}) == 4
    assert curves_picture(chart).size == chart.size


@pytest.mark.parametrize(
    ("epochs", "x_labels", "markers"),
    [(1, ["1"], True), (10, [str(e) for e in range(1, 11)], True), (100, [str(e) for e in range(0, 101, 20)], False)],
)
def test_learning_curves_label_a_few_epochs_and_scale_to_the_loss(epochs, x_labels, markers):
    history = [{"epoch": e, "train_loss": 2.3 / e, "train_acc": 1 - 0.9 / e, "test_acc": 1 - 0.91 / e}
               for e in range(1, epochs + 1)]  # fmt: skip
    chart = learning_curves_chart(history)
    assert [label for _, label in chart.x.ticks] == x_labels
    assert chart.markers == markers  # not where the dots would hide the lines
    assert [label for _, label in chart.y.ticks] == ["0.0", "0.5", "1.0", "1.5", "2.0", "2.5"]  # a loss of 2.3
    assert chart.x.lo < 1 and chart.x.hi > epochs  # the first and last markers whole
    assert curves_picture(chart).size == chart.size


def test_learning_curves_of_a_loss_in_the_millions_keep_their_y_labels_whole():
    history = [{"epoch": 1, "train_loss": 8.2e6, "train_acc": 0.1, "test_acc": 0.1}]  # lr=50, on its way to diverge
    chart = learning_curves_chart(history)
    labels = [label for _, label in chart.y.ticks]
    assert labels == ["0", "2e+06", "4e+06", "6e+06", "8e+06", "1e+07"]
    history[0]["train_loss"] = 1.3e6  # steps of 250000: one form for all, 7.5e+05 beside 1e+06
    assert [label for _, label in learning_curves_chart(history).y.ticks][3:5] == ["7.5e+05", "1e+06"]
    widest = max(ImageFont.load_default(size=TEXT_SIZE).getlength(label) for label in labels)
    assert chart.x.start - TICK - 3 - widest >= 0  # drawn right of the picture's left edge


def drawn(font, text):
    image = Image.new("L", (4 * TEXT_SIZE, 2 * TEXT_SIZE))
    ImageDraw.Draw(image).text((2, 2), text, 255, font)
    return np.asarray(image)


@pytest.mark.parametrize("dataset", ["fashion_mnist", "mnist", "kmnist"])
def test_class_names_draw_in_the_pictures_font(dataset):
    font = ImageFont.load_default(size=TEXT_SIZE)
    missing = drawn(font, "\uffff")  # not a character: the font's box for characters it lacks

    def has_glyph(char):
        return not np.array_equal(drawn(font, char), missing)

    assert not has_glyph("\u304a")  # hiragana "o": this check would see it drawn as a box
    for name in compose_cfg(f"dataset={dataset}").dataset.classes:
        assert all(map(has_glyph, name)), f"{name!r} would draw as boxes"
