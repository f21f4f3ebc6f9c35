"""What a run shows people: pictures in TensorBoard and PNGs in the run dir.

Every epoch, cheaply (numpy and TensorBoard only, nothing per batch):
  - the test accuracy of each class, as scalars `test_acc_by_class/<class>`;
  - a histogram of every parameter and of its gradient at the epoch's last step (`params/W1`, `grads/W1`, ...).
At the end of the run, and every `visuals.every` epochs if set, pictures, each a PNG in the run dir (holding the
latest) and, but for the learning curves, a TensorBoard image (keeping each):
  - predictions.png (`test/predictions`): d2l's `predict_ch3`, the first test images titled "true\\npredicted";
  - confusion_matrix.png (`test/confusion_matrix`), with the counts in confusion_matrix.csv;
  - first_layer_weights.png (`params/W1_units`): each hidden unit's input weights as a 28x28 image, i.e.
    what the unit looks at;
  - learning_curves.png: d2l's plot of train loss, train accuracy and test accuracy per epoch (TensorBoard
    has them as scalars).
Pictures made of images (the predictions, the units) are pixels put together with numpy and PIL; plots (the
confusion matrix, the learning curves) are matplotlib figures. Both libraries are imported only to draw:
matplotlib alone costs ~0.35 s, and drawing the mosaics with it would cost ~0.1 s more each.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter

from mlp_exp.config import VisualsConfig
from mlp_exp.data import Split
from mlp_exp.model import MLP

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from PIL import Image

SIDE = 28  # images are SIDE x SIDE
HISTOGRAM_BINS = 64
# Enough units to see the patterns; more would make the picture (and its PNG encoding) grow without bound.
MAX_UNITS = 256
RED = (220, 30, 30)
# The predictions grid, in image pixels, then magnified GRID_SCALE times.
GRID_COLS = 8
FRAME = 2  # the red frame around a mistake
TITLE_BAND = 10  # room above each image for its two-line title
GRID_SCALE = 3
# Screen pixels.
MIN_WIDTH = 600  # room for a picture's heading, however few images it shows
HEADING_LINE_H = 20
CAPTION_SIZE = 12
DPI = 100
# zlib level 1 instead of the default 6: the noisy weight pictures encode twice as fast, for files ~5% larger.
PNG_COMPRESS_LEVEL = 1


class Visuals:
    """Draws one run's pictures into its TensorBoard writer and its run dir."""

    def __init__(self, cfg: VisualsConfig, classes: Sequence[str], writer: SummaryWriter, run_dir: Path) -> None:
        self.cfg = cfg
        self.classes = list(classes)
        self.writer = writer
        self.run_dir = run_dir

    def log_epoch(
        self,
        epoch: int,
        net: MLP,
        test_set: Split,
        y_pred: torch.Tensor,
        history: list[dict[str, float]],
        final: bool,
    ) -> None:
        """`y_pred`: the predicted class of every test image (N_test,); `history`: metrics.json's, up to `epoch`."""
        confusion = confusion_matrix(test_set.labels.cpu(), y_pred.cpu(), len(self.classes)).numpy()  # (C, C)
        totals = confusion.sum(axis=1)  # (C,) test images per true class
        for name, right, total in zip(self.classes, confusion.diagonal(), totals):
            if total:  # a class missing from the test set has no accuracy
                self.writer.add_scalar(f"test_acc_by_class/{name.replace(' ', '_')}", right / total, epoch)
        for name, param in net.named_parameters():
            log_histogram(self.writer, f"params/{name}", param, epoch)
            if param.grad is not None:
                log_histogram(self.writer, f"grads/{name}", param.grad, epoch)
        if final or (self.cfg.every and epoch % self.cfg.every == 0):
            self._draw(epoch, net, test_set, y_pred, confusion, history)
        self.writer.flush()

    def _draw(
        self,
        epoch: int,
        net: MLP,
        test_set: Split,
        y_pred: torch.Tensor,
        confusion: np.ndarray,
        history: list[dict[str, float]],
    ) -> None:
        n = min(self.cfg.predictions, len(test_set))
        images = test_set.images[:n].cpu().numpy()  # (n, 784) uint8
        labels, predicted = test_set.labels[:n].cpu().numpy(), y_pred[:n].cpu().numpy()  # (n,) each
        predictions = predictions_picture(images, labels, predicted, self.classes, epoch)
        self._save(picture_png(predictions), "predictions", "test/predictions", epoch)
        confusion_png = figure_png(confusion_figure(confusion, self.classes, epoch))
        self._save(confusion_png, "confusion_matrix", "test/confusion_matrix", epoch)
        write_confusion_csv(self.run_dir / "confusion_matrix.csv", confusion, self.classes)
        self._save(picture_png(units_picture(net.W1, epoch)), "first_layer_weights", "params/W1_units", epoch)
        self._save(figure_png(learning_curves_figure(history)), "learning_curves")

    def _save(self, png: bytes, name: str, tag: str | None = None, epoch: int | None = None) -> None:
        """`<run dir>/<name>.png`, and, given a tag, the same PNG as a TensorBoard image at step `epoch`."""
        (self.run_dir / f"{name}.png").write_bytes(png)
        if tag:
            log_png(self.writer, tag, png, epoch)


def confusion_matrix(labels: torch.Tensor, y_pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(C, C) counts: row i, column j = images of class i predicted as class j."""
    return torch.bincount(labels * num_classes + y_pred, minlength=num_classes**2).reshape(num_classes, num_classes)


def write_confusion_csv(path: Path, confusion: np.ndarray, classes: Sequence[str]) -> None:
    rows = [["true \\ predicted", *classes]] + [[name, *map(str, row)] for name, row in zip(classes, confusion)]
    path.write_text("".join(",".join(row) + "\n" for row in rows))


def log_histogram(writer: SummaryWriter, tag: str, values: torch.Tensor, step: int) -> None:
    """A TensorBoard histogram of `values`' finite entries in equal-width bins.

    Computed here with numpy instead of `add_histogram`, whose ~1500 fixed bins and BLAS dot product cost ~15 ms
    for W1 per call on a busy CPU. Non-finite values are left out: a step that blew the weights up is reported as
    divergence by the next epoch, not by a histogram error.
    """
    flat = values.detach().cpu().numpy().ravel()
    flat = flat[np.isfinite(flat)]
    if not flat.size:
        return
    counts, edges = np.histogram(flat, bins=HISTOGRAM_BINS)
    sum_squares = np.square(flat, dtype=np.float64).sum()  # float32 squares of blown-up weights overflow
    # TensorBoard reads each bucket's right edge; the first bucket's left edge is the min.
    writer.add_histogram_raw(
        tag, flat.min(), flat.max(), flat.size, flat.sum(dtype=np.float64), sum_squares, edges[1:], counts, step
    )


def log_png(writer: SummaryWriter, tag: str, png: bytes, step: int) -> None:
    """Log an encoded PNG as a TensorBoard image as it is (`add_image` would decode and re-encode it)."""
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk, always first
    image = Summary.Image(height=height, width=width, encoded_image_string=png)
    writer.file_writer.add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)


def picture_png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="png", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def figure_png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
    return buffer.getvalue()


def tile(images: np.ndarray, cols: int, gap: int, gap_above: int, background: int) -> np.ndarray:
    """(N, h, w, 3) uint8 images -> one (rows * (gap_above + h + gap), cols * (w + 2 gap), 3) mosaic, row-major."""
    n, h, w, _ = images.shape
    rows = math.ceil(n / cols)
    cell_h, cell_w = gap_above + h + gap, w + 2 * gap
    mosaic = np.full((rows * cell_h, cols * cell_w, 3), background, dtype=np.uint8)
    for i, image in enumerate(images):
        top, left = (i // cols) * cell_h + gap_above, (i % cols) * cell_w + gap
        mosaic[top : top + h, left : left + w] = image
    return mosaic


def predictions_picture(
    images: np.ndarray, labels: np.ndarray, y_pred: np.ndarray, classes: Sequence[str], epoch: int
) -> Image.Image:
    """images uint8 (n, 784), labels and y_pred (n,): d2l's grid, each image titled "true\\npredicted",
    mistakes framed and titled in red."""
    wrong = labels != y_pred  # (n,)
    framed = np.full((len(images), SIDE + 2 * FRAME, SIDE + 2 * FRAME, 3), 255, dtype=np.uint8)  # white frames
    framed[wrong] = RED
    framed[:, FRAME:-FRAME, FRAME:-FRAME] = images.reshape(-1, SIDE, SIDE, 1)  # gray into all three channels
    cols = min(GRID_COLS, len(images))
    mosaic = tile(framed, cols, gap=1, gap_above=TITLE_BAND, background=255)
    cell_h, cell_w = TITLE_BAND + SIDE + 2 * FRAME + 1, SIDE + 2 * FRAME + 2
    titles = [
        ((i % cols + 0.5) * cell_w, (i // cols) * cell_h + TITLE_BAND, f"{classes[true]}\n{classes[predicted]}", bad)
        for i, (true, predicted, bad) in enumerate(zip(labels, y_pred, wrong))
    ]
    heading = f"After epoch {epoch}: true label over predicted; {wrong.sum()} of {len(images)} wrong (red)"
    return _picture(mosaic, GRID_SCALE, heading, titles)


def first_layer_units(W1: torch.Tensor) -> np.ndarray:
    """W1 (784, hiddens[0]) -> a uint8 RGB mosaic (H, W, 3) of each unit's input weights as a 28x28 tile: white at
    zero, red where positive, blue where negative, each unit scaled to its own largest weight (their scales differ)."""
    W = np.nan_to_num(W1.detach().cpu().numpy()[:, :MAX_UNITS].T)  # (units, 784)
    scale = np.abs(W).max(axis=1, keepdims=True)  # (units, 1)
    V = (W / np.where(scale > 0, scale, 1)).reshape(-1, SIDE, SIDE)  # (units, 28, 28) in [-1, 1]
    rgb = np.stack([1 - np.clip(-V, 0, 1), 1 - np.abs(V), 1 - np.clip(V, 0, 1)], axis=-1)  # (units, 28, 28, 3)
    tiles = np.round(rgb * 255).astype(np.uint8)
    return tile(tiles, cols=math.ceil(math.sqrt(len(tiles))), gap=1, gap_above=1, background=128)


def units_picture(W1: torch.Tensor, epoch: int) -> Image.Image:
    """W1 (784, hiddens[0]): `first_layer_units`, twice as large, under a heading that says how to read it."""
    shown, total = min(W1.shape[1], MAX_UNITS), W1.shape[1]
    which = f"all {total}" if shown == total else f"the first {shown} of {total}"
    heading = (
        f"First layer after epoch {epoch}: {which} hidden units' input weights as 28x28 images\n"
        "red positive, blue negative, white zero; each unit scaled to its largest weight"
    )
    return _picture(first_layer_units(W1), 2, heading)


def _picture(
    mosaic: np.ndarray, scale: int, heading: str, captions: Sequence[tuple[float, float, str, bool]] = ()
) -> Image.Image:
    """A uint8 RGB mosaic (H, W, 3), `scale` times larger with crisp pixels, centred under `heading`.

    captions: (x, y, text, in red), (x, y) in mosaic pixels where the text's bottom centre goes.
    """
    from PIL import Image, ImageDraw, ImageFont

    height, width = mosaic.shape[:2]
    scaled = Image.fromarray(mosaic).resize((width * scale, height * scale), Image.Resampling.NEAREST)
    heading_h = HEADING_LINE_H * (heading.count("\n") + 1) + 12
    picture = Image.new("RGB", (max(scaled.width, MIN_WIDTH), heading_h + scaled.height), "white")
    left = (picture.width - scaled.width) // 2
    picture.paste(scaled, (left, heading_h))
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=HEADING_LINE_H - 5)
    draw.multiline_text((picture.width / 2, 6), heading, "black", font, anchor="ma", align="center")
    font = ImageFont.load_default(size=CAPTION_SIZE)
    for x, y, text, red in captions:
        xy = (left + x * scale, heading_h + y * scale - 2)
        draw.multiline_text(xy, text, RED if red else "black", font, anchor="md", align="center")
    return picture


def _figure(width: float, height: float, margins: tuple[float, float, float, float]) -> tuple[Figure, Axes]:
    """A figure and its one Axes, inset by fixed (left, bottom, right, top) margins, all in inches: a layout
    engine would draw each figure twice to place the Axes."""
    # A bare Figure renders PNGs with Agg and touches no pyplot state or GUI backend.
    from matplotlib.figure import Figure

    left, bottom, right, top = margins
    fig = Figure(figsize=(width, height), dpi=DPI)
    return fig, fig.add_axes((left / width, bottom / height, 1 - (left + right) / width, 1 - (bottom + top) / height))


def confusion_figure(confusion: np.ndarray, classes: Sequence[str], epoch: int) -> Figure:
    """confusion (C, C): rows true, columns predicted; cells coloured by the share of their row."""
    C = len(classes)
    totals = confusion.sum(axis=1)  # (C,)
    shares = confusion / np.maximum(totals, 1)[:, None]  # (C, C)
    accuracy = confusion.trace() / max(confusion.sum(), 1)

    cells_in = 0.55 * C  # a square matrix, with room for the class names left and below it
    fig, ax = _figure(cells_in + 2.0, cells_in + 1.7, margins=(1.7, 1.1, 0.3, 0.6))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(C):
        for j in range(C):
            if confusion[i, j]:
                color = "white" if shares[i, j] > 0.5 else "black"
                ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(C), classes, rotation=45, ha="right", rotation_mode="anchor")
    row_labels = [f"{name} ({right / total:.0%})" if total else name for name, right, total in
                  zip(classes, confusion.diagonal(), totals)]  # fmt: skip
    ax.set_yticks(range(C), row_labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (accuracy of the class)")
    ax.set_title(f"Confusion matrix after epoch {epoch}\ntest accuracy {accuracy:.3f} on {confusion.sum()} images")
    return fig


def learning_curves_figure(history: list[dict[str, Any]]) -> Figure:
    """d2l's training plot: train loss, train acc and test acc per epoch on one axis."""
    epochs = [record["epoch"] for record in history]
    fig, ax = _figure(6, 4, margins=(0.6, 0.5, 0.15, 0.35))
    for key, label, style in (
        ("train_loss", "train loss", "-"),
        ("train_acc", "train acc", "m--"),
        ("test_acc", "test acc", "g-."),
    ):
        ax.plot(epochs, [record[key] for record in history], style, marker=".", label=label)
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, alpha=0.4)
    ax.legend()
    ax.set_title(f"Learning curves: test acc {history[-1]['test_acc']:.3f} after epoch {epochs[-1]}")
    return fig
