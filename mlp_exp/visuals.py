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
  - learning_curves.png: d2l's plot of train loss, train accuracy and test accuracy per epoch, and the validation
    accuracy where the run held out a validation set (TensorBoard has them as scalars).
The pictures themselves are drawn in mlp_exp/pictures.py; this module decides when, and where they go.
"""

from __future__ import annotations

import csv
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter

from mlp_exp.config import VisualsConfig
from mlp_exp.data import Split
from mlp_exp.files import atomic_write
from mlp_exp.model import MLP
from mlp_exp.pictures import (
    class_accuracies,
    confusion_chart,
    confusion_picture,
    curves_picture,
    learning_curves_chart,
    picture_png,
    predictions_picture,
    units_picture,
)

HISTOGRAM_BINS = 64


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
        for name, accuracy in zip(self.classes, class_accuracies(confusion)):
            if accuracy is not None:
                self.writer.add_scalar(f"test_acc_by_class/{name.replace(' ', '_')}", accuracy, epoch)
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
        confusion_png = picture_png(confusion_picture(confusion_chart(confusion, self.classes, epoch)))
        self._save(confusion_png, "confusion_matrix", "test/confusion_matrix", epoch)
        write_confusion_csv(self.run_dir / "confusion_matrix.csv", confusion, self.classes)
        self._save(picture_png(units_picture(net.W1, epoch)), "first_layer_weights", "params/W1_units", epoch)
        self._save(picture_png(curves_picture(learning_curves_chart(history))), "learning_curves")

    def _save(self, png: bytes, name: str, tag: str | None = None, epoch: int | None = None) -> None:
        """`<run dir>/<name>.png`, and, given a tag, the same PNG as a TensorBoard image at step `epoch`."""
        with atomic_write(self.run_dir / f"{name}.png") as tmp:  # a picture drawn every k epochs is read meanwhile
            tmp.write_bytes(png)
        if tag:
            log_png(self.writer, tag, png, epoch)


def confusion_matrix(labels: torch.Tensor, y_pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(C, C) counts: row i, column j = images of class i predicted as class j."""
    return torch.bincount(labels * num_classes + y_pred, minlength=num_classes**2).reshape(num_classes, num_classes)


def write_confusion_csv(path: Path, confusion: np.ndarray, classes: Sequence[str]) -> None:
    # csv quotes a class name with a comma in it (a dataset of one's own)
    with atomic_write(path) as tmp, tmp.open("w", newline="") as file:
        table = csv.writer(file, lineterminator="\n")
        table.writerow(["true \\ predicted", *classes])
        table.writerows([name, *row] for name, row in zip(classes, confusion.tolist()))


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
