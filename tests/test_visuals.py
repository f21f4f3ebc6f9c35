"""The pictures a run leaves in its run dir and in TensorBoard, what they show, and the switch that turns them off."""

import csv
import io

import numpy as np
import pytest
import torch
from conftest import TINY_TEST, compose_cfg, write_tiny_dataset
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font
from matplotlib.image import imread
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from test_train import tiny_cfg, without_times

from mlp_exp.train import train
from mlp_exp.visuals import (
    FRAME,
    GRID_SCALE,
    SIDE,
    TITLE_BAND,
    confusion_figure,
    confusion_matrix,
    first_layer_units,
    learning_curves_figure,
    predictions_picture,
)

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
        height, width, _ = imread(run_dir / f"{name}.png").shape
        assert height > 200 and width > 200
    assert set(events.Tags()["images"]) == IMAGE_TAGS
    for tag in IMAGE_TAGS:
        assert [image.step for image in events.Images(tag)] == [3]  # by default, at the end only
    (image,) = events.Images("test/predictions")
    assert image.encoded_image_string == (run_dir / "predictions.png").read_bytes()
    height, width, _ = imread(io.BytesIO(image.encoded_image_string)).shape
    assert (width, height) == (image.width, image.height)  # the size TensorBoard is told
    assert [p for p in run_dir.iterdir() if p.is_dir()] == []  # pictures sit in the run dir, not in a sub-run


def test_every_parameter_and_its_gradient_gets_a_histogram_each_epoch(tiny_run):
    _, _, events = tiny_run
    assert set(events.Tags()["histograms"]) == {f"{kind}/{p}" for kind in ("params", "grads") for p in PARAMS}
    for kind in ("params", "grads"):
        for p in PARAMS:
            assert [h.step for h in events.Histograms(f"{kind}/{p}")] == [1, 2, 3]
    W1 = events.Histograms("params/W1")[-1].histogram_value
    assert W1.num == 784 * 32 and sum(W1.bucket) == W1.num  # tiny_cfg: hiddens=32
    assert W1.min < 0 < W1.max


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

    fig = confusion_figure(confusion.numpy(), ["a", "b", "c"], epoch=4)
    (ax, *_) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a (67%)", "b (100%)", "c (0%)"]
    assert sorted(t.get_text() for t in ax.texts) == ["1", "1", "2", "2"]  # non-zero cells only
    assert "test accuracy 0.667 on 6 images" in ax.get_title()


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
    (ax,) = learning_curves_figure(history).axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"train loss", "train acc", "test acc"}
    for label, key in (("train loss", "train_loss"), ("train acc", "train_acc"), ("test acc", "test_acc")):
        assert list(lines[label].get_xdata()) == [1, 2]
        assert list(lines[label].get_ydata()) == [h[key] for h in history]


@pytest.mark.parametrize("dataset", ["fashion_mnist", "mnist", "kmnist"])
def test_class_names_draw_in_matplotlibs_default_font(dataset):
    font = FT2Font(font_manager.findfont(font_manager.FontProperties()))
    glyphs = font.get_charmap()
    for name in compose_cfg(f"dataset={dataset}").dataset.classes:
        assert all(ord(char) in glyphs for char in name), f"{name!r} would draw as empty boxes"
