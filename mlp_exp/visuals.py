"""What a run shows people: pictures in TensorBoard and PNGs in the run dir.

Every epoch, cheaply (numpy and TensorBoard only, nothing per batch):
  - the test accuracy of each class, as scalars `test_acc_by_class/<class>`;
  - a histogram of every parameter and of its gradient at the epoch's last step (`params/W1`, `grads/W1`, ...).
At the end of the run, and every `visuals.every` epochs if set, matplotlib figures (imported only then), each a
PNG in the run dir (holding the latest) and, but for the learning curves, a TensorBoard image (keeping each):
  - predictions.png (`test/predictions`): d2l's `predict_ch3`, the first test images titled "true\\npredicted";
  - confusion_matrix.png (`test/confusion_matrix`), with the counts in confusion_matrix.csv;
  - first_layer_weights.png (`params/W1_units`): each hidden unit's input weights as a 28x28 image, i.e.
    what the unit looks at;
  - learning_curves.png: d2l's plot of train loss, train accuracy and test accuracy per epoch (TensorBoard
    has them as scalars).
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

SIDE = 28  # images are SIDE x SIDE
HISTOGRAM_BINS = 64
# Enough units to see the patterns; more would make the image (and its PNG encoding) grow without bound.
MAX_UNITS = 256
DPI = 100
RED = (0.85, 0.1, 0.1)
# The predictions grid is one image (a mosaic), not one Axes per test image: 24 Axes cost matplotlib ~0.4 s.
GRID_COLS = 8
FRAME = 2  # the red frame around a mistake, in image pixels
TITLE_BAND = 10  # room above each image for its two-line title, in image pixels
HEADER_BAND = 10
GRID_SCALE = 3  # screen pixels per image pixel
MIN_WIDTH_IN = 6  # room for a figure's title, however few images it shows


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
            n = min(self.cfg.predictions, len(test_set))
            images = test_set.images[:n].cpu().numpy()  # (n, 784) uint8
            labels, predicted = test_set.labels[:n].cpu().numpy(), y_pred[:n].cpu().numpy()  # (n,) each
            figure = predictions_figure(images, labels, predicted, self.classes, epoch)
            self._save(figure, "predictions", "test/predictions", epoch)
            self._save(
                confusion_figure(confusion, self.classes, epoch), "confusion_matrix", "test/confusion_matrix", epoch
            )
            write_confusion_csv(self.run_dir / "confusion_matrix.csv", confusion, self.classes)
            self._save(units_figure(net.W1, epoch), "first_layer_weights", "params/W1_units", epoch)
            self._save(learning_curves_figure(history), "learning_curves")
        self.writer.flush()

    def _save(self, fig: Figure, name: str, tag: str | None = None, epoch: int | None = None) -> None:
        """`<run dir>/<name>.png`, and, given a tag, the same PNG as a TensorBoard image at step `epoch`."""
        buffer = io.BytesIO()
        # zlib level 1 instead of 6: encodes the noisy weight images twice as fast, for files ~5% larger.
        fig.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
        png = buffer.getvalue()
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
    flat = flat[np.isfinite(flat)].astype(np.float64)
    if not flat.size:
        return
    counts, edges = np.histogram(flat, bins=HISTOGRAM_BINS)
    # TensorBoard reads each bucket's right edge; the first bucket's left edge is the min.
    writer.add_histogram_raw(
        tag, flat.min(), flat.max(), flat.size, flat.sum(), np.square(flat).sum(), edges[1:], counts, step
    )


def log_png(writer: SummaryWriter, tag: str, png: bytes, step: int) -> None:
    """Log an encoded PNG as a TensorBoard image as it is (`add_image` would decode and re-encode it)."""
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk, always first
    image = Summary.Image(height=height, width=width, colorspace=4, encoded_image_string=png)  # 4: RGBA
    writer.file_writer.add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)


def tile(images: np.ndarray, cols: int, gap: int, gap_above: int, background: float) -> np.ndarray:
    """(N, h, w, 3) images -> one (rows * (h + gap_above + gap), cols * (w + 2 gap), 3) mosaic, row-major."""
    n, h, w, _ = images.shape
    rows = math.ceil(n / cols)
    cell_h, cell_w = gap_above + h + gap, w + 2 * gap
    mosaic = np.full((rows * cell_h, cols * cell_w, 3), background, dtype=np.float32)
    for i, image in enumerate(images):
        top, left = (i // cols) * cell_h + gap_above, (i % cols) * cell_w + gap
        mosaic[top : top + h, left : left + w] = image
    return mosaic


def first_layer_units(W1: torch.Tensor) -> np.ndarray:
    """W1 (784, hiddens[0]) -> (H, W, 3) in [0, 1]: each unit's input weights as a 28x28 tile, white at zero,
    red where positive, blue where negative, each unit scaled to its own largest weight (their scales differ)."""
    W = np.nan_to_num(W1.detach().cpu().numpy()[:, :MAX_UNITS].T)  # (units, 784)
    scale = np.abs(W).max(axis=1, keepdims=True)  # (units, 1)
    V = (W / np.where(scale > 0, scale, 1)).reshape(-1, SIDE, SIDE)  # (units, 28, 28) in [-1, 1]
    rgb = np.stack([1 - np.clip(-V, 0, 1), 1 - np.abs(V), 1 - np.clip(V, 0, 1)], axis=-1)  # (units, 28, 28, 3)
    return tile(rgb, cols=math.ceil(math.sqrt(len(rgb))), gap=1, gap_above=1, background=0.5)


def _figure(width_in: float, height_in: float, left=0.0, bottom=0.0, right=0.0, top=0.0) -> tuple[Figure, Axes]:
    """A figure and its one Axes, inset by fixed margins in inches: a layout engine would draw each figure twice."""
    # Imported here, not at the top: matplotlib costs ~0.3 s, paid only when a figure is drawn. A bare Figure
    # renders PNGs with Agg and touches no pyplot state or GUI backend.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=DPI)
    rect = (left / width_in, bottom / height_in, 1 - (left + right) / width_in, 1 - (bottom + top) / height_in)
    return fig, fig.add_axes(rect)


def predictions_figure(
    images: np.ndarray, labels: np.ndarray, y_pred: np.ndarray, classes: Sequence[str], epoch: int
) -> Figure:
    """images uint8 (n, 784), labels and y_pred (n,): each image titled "true\\npredicted", mistakes in red."""
    wrong = labels != y_pred  # (n,)
    framed = np.ones((len(images), SIDE + 2 * FRAME, SIDE + 2 * FRAME, 3), dtype=np.float32)  # white frames
    framed[wrong] = RED
    framed[:, FRAME:-FRAME, FRAME:-FRAME] = images.reshape(-1, SIDE, SIDE, 1) / 255
    cols = min(GRID_COLS, len(images))
    mosaic = tile(framed, cols, gap=1, gap_above=TITLE_BAND, background=1.0)
    mosaic = np.concatenate([np.ones((HEADER_BAND, mosaic.shape[1], 3), np.float32), mosaic])
    height, width = mosaic.shape[:2]

    fig, ax = _figure(max(width * GRID_SCALE / DPI, MIN_WIDTH_IN), height * GRID_SCALE / DPI)
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_axis_off()
    cell_h, cell_w = TITLE_BAND + SIDE + 2 * FRAME + 1, SIDE + 2 * FRAME + 2
    for i, (true, predicted) in enumerate(zip(labels, y_pred)):
        x = (i % cols + 0.5) * cell_w
        y = HEADER_BAND + (i // cols) * cell_h + TITLE_BAND - 0.5
        color = RED if wrong[i] else "black"
        ax.text(x, y, f"{classes[true]}\n{classes[predicted]}", ha="center", va="bottom", fontsize=8, color=color)
    ax.text(
        width / 2,
        HEADER_BAND / 2,
        f"After epoch {epoch}: true label over predicted; {wrong.sum()} of {len(images)} wrong (red)",
        ha="center",
        va="center",
        fontsize=10,
        weight="bold",
    )
    return fig


def confusion_figure(confusion: np.ndarray, classes: Sequence[str], epoch: int) -> Figure:
    """confusion (C, C): rows true, columns predicted; cells coloured by the share of their row."""
    C = len(classes)
    totals = confusion.sum(axis=1)  # (C,)
    shares = confusion / np.maximum(totals, 1)[:, None]  # (C, C)
    accuracy = confusion.trace() / max(confusion.sum(), 1)

    cells_in = 0.55 * C  # a square matrix, with room for the class names left and below it
    fig, ax = _figure(cells_in + 2.0, cells_in + 1.7, left=1.7, bottom=1.1, right=0.3, top=0.6)
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
    fig, ax = _figure(6, 4, left=0.6, bottom=0.5, right=0.15, top=0.35)
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


def units_figure(W1: torch.Tensor, epoch: int) -> Figure:
    """W1 (784, hiddens[0]): `first_layer_units`, titled."""
    units = first_layer_units(W1)  # (H, W, 3)
    shown, total = min(W1.shape[1], MAX_UNITS), W1.shape[1]
    height, width = units.shape[:2]
    title_in = 0.6
    fig, ax = _figure(max(width * 2 / DPI, MIN_WIDTH_IN), height * 2 / DPI + title_in, top=title_in)
    ax.imshow(units, interpolation="nearest")
    ax.set_axis_off()
    which = f"all {total}" if shown == total else f"the first {shown} of {total}"
    fig.suptitle(
        f"First layer after epoch {epoch}: {which} hidden units' input weights as 28x28 images\n"
        "red positive, blue negative, white zero; each unit scaled to its largest weight",
        fontsize=10,
    )
    return fig
