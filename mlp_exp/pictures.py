"""The pictures a run draws, made with numpy and PIL: arrays and numbers in, PIL images (or PNG bytes) out.

Pictures made of images (the predictions grid, the first layer's units) are pixels put together with numpy;
plots (the confusion matrix, the learning curves) are laid out as a chart (what is shown, and where: easy to
test) and then drawn. All in the font Pillow carries; PIL is imported only to draw. Not with matplotlib:
importing it alone costs 0.5-0.75 s and drawing the confusion matrix 0.3 s, more than the pictures' budget of
10% of a run; drawn here, each picture takes 10-60 ms.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from PIL import Image, ImageDraw
    from PIL.ImageFont import FreeTypeFont

SIDE = 28  # images are SIDE x SIDE
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
TEXT_SIZE = 13  # the plots' class names, axis labels and tick labels
MARGIN = 8
TICK = 4  # an axis tick's length
AXES_GRAY = (80, 80, 80)
CELL = 50  # a confusion matrix cell: room for a four-digit count
# matplotlib's "Blues" (ColorBrewer's nine), evenly spaced from share 0 to share 1.
BLUES = np.array(
    [(247, 251, 255), (222, 235, 247), (198, 219, 239), (158, 202, 225), (107, 174, 214),
     (66, 146, 198), (33, 113, 181), (8, 81, 156), (8, 48, 107)]
)  # fmt: skip
CURVES_SIZE = (640, 440)
LEGEND_H = 24  # the legend's row, between the title and the plot
LEGEND_SAMPLE = 32  # the length of a series' line in the legend
LINE_WIDTH, MARKER_RADIUS = 2, 2.5
GRID = (225, 225, 225)
SUPERSAMPLE = 2  # the curves are drawn this much larger and shrunk back, for smooth slanted lines
# zlib level 1 instead of the default 6: the noisy weight pictures encode twice as fast, for files ~5% larger.
PNG_COMPRESS_LEVEL = 1


def class_accuracies(confusion: np.ndarray) -> list[float | None]:
    """confusion (C, C), rows true: each class's test accuracy; None for a class missing from the test set."""
    return [right / total if total else None for right, total in zip(confusion.diagonal(), confusion.sum(axis=1))]


def picture_png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="png", compress_level=PNG_COMPRESS_LEVEL)
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
    cell_h, cell_w = mosaic.shape[0] // math.ceil(len(images) / cols), mosaic.shape[1] // cols
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
    from PIL import Image, ImageDraw

    height, width = mosaic.shape[:2]
    scaled = Image.fromarray(mosaic).resize((width * scale, height * scale), Image.Resampling.NEAREST)
    heading_h = _heading_height(heading)
    picture = Image.new("RGB", (max(scaled.width, MIN_WIDTH), heading_h + scaled.height), "white")
    left = (picture.width - scaled.width) // 2
    picture.paste(scaled, (left, heading_h))
    draw = ImageDraw.Draw(picture)
    _draw_heading(draw, picture.width, heading)
    font = _font(CAPTION_SIZE)
    for x, y, text, red in captions:
        xy = (left + x * scale, heading_h + y * scale - 2)
        draw.multiline_text(xy, text, RED if red else "black", font, anchor="md", align="center")
    return picture


@functools.cache  # each call would decode the font embedded in Pillow again
def _font(size: int) -> FreeTypeFont:
    """Pillow's own scalable font: the same on every machine, with no font files to find."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _heading_height(heading: str) -> int:
    return HEADING_LINE_H * (heading.count("\n") + 1) + 12


def _draw_heading(draw: ImageDraw.ImageDraw, width: int, heading: str) -> None:
    """`heading` centred at the top of a picture `width` wide, in the band `_heading_height` leaves for it."""
    draw.multiline_text((width / 2, 6), heading, "black", _font(HEADING_LINE_H - 5), anchor="ma", align="center")


def _draw_turned(picture: Image.Image, xy: tuple[float, float], text: str, angle: float, anchor: str) -> None:
    """`text` in black, turned `angle` degrees anticlockwise about its `anchor` point (PIL's anchors), put at `xy`.

    PIL draws text level only: this draws it level on a mask, turns the mask and pastes black through it.
    """
    from PIL import Image, ImageDraw

    font = _font(TEXT_SIZE)
    left, top, right, bottom = font.getbbox(text, anchor=anchor)  # around the anchor point at (0, 0)
    mask = Image.new("L", (right - left, bottom - top))
    ImageDraw.Draw(mask).text((-left, -top), text, 255, font, anchor=anchor)
    turned = mask.rotate(angle, Image.Resampling.BICUBIC, expand=True)  # about its centre
    # Where the anchor point went, from the centre: y grows downwards, so anticlockwise is (x, y) -> (x', y') with
    # x' = x cos + y sin, y' = y cos - x sin.
    dx, dy = -left - mask.width / 2, -top - mask.height / 2
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    anchor_x, anchor_y = turned.width / 2 + dx * cos + dy * sin, turned.height / 2 + dy * cos - dx * sin
    picture.paste("black", (round(xy[0] - anchor_x), round(xy[1] - anchor_y)), turned)


@dataclass(frozen=True)
class ConfusionChart:
    """What `confusion_picture` draws, and where: C x C cells of CELL pixels, rows true, columns predicted."""

    title: str
    row_labels: list[str]  # the true classes, top to bottom, each with its accuracy
    column_labels: list[str]  # the predicted classes, left to right
    shares: np.ndarray  # (C, C) float: each cell's share of its row, which colours it
    counts: list[list[str]]  # (C, C): each cell's count, "" where it is zero
    x_label: str
    y_label: str
    origin: tuple[int, int]  # the matrix's top-left corner in the picture
    x_label_at: tuple[int, int]  # the middle of the x label's bottom edge
    y_label_at: tuple[int, int]  # the middle of the upright y label's left edge
    size: tuple[int, int]  # the picture's (width, height)


def confusion_chart(confusion: np.ndarray, classes: Sequence[str], epoch: int) -> ConfusionChart:
    """confusion (C, C) counts, rows true: the chart, laid out around its labels' measured lengths."""
    row_labels = [name if accuracy is None else f"{name} ({accuracy:.0%})"
                  for name, accuracy in zip(classes, class_accuracies(confusion))]  # fmt: skip
    accuracy = confusion.trace() / max(confusion.sum(), 1)
    title = f"Confusion matrix after epoch {epoch}\ntest accuracy {accuracy:.3f} on {confusion.sum()} images"
    y_label = "true (accuracy of the class)"
    font = _font(TEXT_SIZE)
    side = len(classes) * CELL
    # Left of the matrix: the y label turned upright, then the row labels and their ticks. Below it: the ticks, the
    # column labels turned 45 degrees (as deep as the longest is long over the square root of 2, plus its height),
    # then the x label.
    left = round(TEXT_SIZE + MARGIN + max(map(font.getlength, row_labels)) + TICK + 4)
    below = round(TICK + 4 + max(map(font.getlength, classes)) / math.sqrt(2) + 2 * TEXT_SIZE + 2 * MARGIN)
    content_w, y_label_h = left + side + MARGIN, round(font.getlength(y_label))
    width = max(content_w + 2 * MARGIN, MIN_WIDTH)
    heading_h = _heading_height(title)
    content_x = (width - content_w) // 2  # centred
    x0 = content_x + left  # the matrix's left edge
    return ConfusionChart(
        title=title,
        row_labels=row_labels,
        column_labels=list(classes),
        shares=confusion / np.maximum(confusion.sum(axis=1), 1)[:, None],
        counts=[[str(n) if n else "" for n in row] for row in confusion.tolist()],
        x_label="predicted",
        y_label=y_label,
        origin=(x0, heading_h),
        x_label_at=(x0 + side // 2, heading_h + side + below - MARGIN),
        # Beside the matrix's middle, or, where the matrix is shorter, from its top down: clear of the title.
        y_label_at=(content_x, heading_h + max(side, y_label_h) // 2),
        size=(width, heading_h + max(side + below, y_label_h + MARGIN)),
    )


def blues(shares: np.ndarray) -> np.ndarray:
    """shares (...) in [0, 1] -> uint8 RGB (..., 3) on matplotlib's "Blues" ramp, near-white to dark blue."""
    stops = np.linspace(0, 1, len(BLUES))
    return np.stack([np.interp(shares, stops, BLUES[:, c]) for c in range(3)], axis=-1).round().astype(np.uint8)


def confusion_picture(chart: ConfusionChart) -> Image.Image:
    """The cells coloured by their shares, with their counts; the class names left and, turned, below."""
    from PIL import Image, ImageDraw

    C = len(chart.row_labels)
    x0, y0 = chart.origin
    side = C * CELL
    picture = Image.new("RGB", chart.size, "white")
    cells = Image.fromarray(blues(chart.shares)).resize((side, side), Image.Resampling.NEAREST)
    picture.paste(cells, chart.origin)
    draw = ImageDraw.Draw(picture)
    draw.rectangle((x0 - 1, y0 - 1, x0 + side, y0 + side), outline=AXES_GRAY)
    count_font, label_font = _font(CAPTION_SIZE), _font(TEXT_SIZE)
    for i, (row_label, counts, shares) in enumerate(zip(chart.row_labels, chart.counts, chart.shares)):
        y = y0 + (i + 0.5) * CELL
        draw.line((x0 - TICK - 1, y, x0 - 1, y), AXES_GRAY)
        draw.text((x0 - TICK - 4, y), row_label, "black", label_font, anchor="rm")
        for j, (count, share) in enumerate(zip(counts, shares)):
            # The upper half of the ramp is too dark for black text.
            draw.text((x0 + (j + 0.5) * CELL, y), count, "white" if share > 0.5 else "black", count_font, anchor="mm")
    for j, name in enumerate(chart.column_labels):
        x = x0 + (j + 0.5) * CELL
        draw.line((x, y0 + side, x, y0 + side + TICK), AXES_GRAY)
        _draw_turned(picture, (x, y0 + side + TICK + 4), name, 45, anchor="ra")
    draw.text(chart.x_label_at, chart.x_label, "black", label_font, anchor="md")
    _draw_turned(picture, chart.y_label_at, chart.y_label, 90, anchor="mt")
    _draw_heading(draw, picture.width, chart.title)
    return picture


@dataclass(frozen=True)
class Axis:
    """Values `lo` to `hi` onto picture pixels `start` to `end` (a y axis runs upwards: end < start)."""

    lo: float
    hi: float
    start: int
    end: int
    ticks: list[tuple[float, str]]  # (value, label)

    def pixel(self, value: float) -> float:
        return self.start + (value - self.lo) / (self.hi - self.lo) * (self.end - self.start)


@dataclass(frozen=True)
class Series:
    label: str
    color: tuple[int, int, int]
    dashes: tuple[int, ...]  # lengths in pixels, drawn and skipped in turn; () for a solid line
    epochs: list[int]
    values: list[float]


@dataclass(frozen=True)
class CurvesChart:
    """What `curves_picture` draws, and where."""

    title: str
    series: list[Series]
    x: Axis  # epochs
    y: Axis
    markers: bool  # a dot on each epoch's values: not where so many would hide the lines and their dashes
    size: tuple[int, int]  # the picture's (width, height)

    def point(self, epoch: float, value: float) -> tuple[float, float]:
        return self.x.pixel(epoch), self.y.pixel(value)


def learning_curves_chart(history: list[dict[str, Any]]) -> CurvesChart:
    """d2l's training plot: train loss, train acc and test acc per epoch, on one y axis from 0 up; and the validation
    accuracy, where the run held out a validation set."""
    epochs = [record["epoch"] for record in history]
    series = [
        Series(label, color, dashes, epochs, [record[key] for record in history])
        for key, label, color, dashes in (
            ("train_loss", "train loss", (31, 119, 180), ()),
            ("train_acc", "train acc", (191, 0, 191), (8, 4)),
            ("val_acc", "val acc", (230, 120, 0), (3, 3)),
            ("test_acc", "test acc", (0, 128, 0), (12, 4, 2, 4)),
        )
        if all(key in record for record in history)
    ]
    # Accuracies reach 1; a loss can go higher (2.3 at chance for 10 classes).
    top = max(1.0, *(value for s in series for value in s.values))
    y_step = _nice_step(top, most=6, multiples=(1, 2, 2.5, 5))
    steps = math.ceil(top / y_step - 1e-9)  # the tolerance keeps a top of exactly 1.0 from growing a step
    decimals = next(d for d in range(4) if abs(round(y_step, d) - y_step) < 1e-9)
    # A run on its way to diverge (lr=50) can reach a loss of millions: 2e+06, not 2000000, and 7.5e+05 beside 1e+06.
    y_ticks = [
        (k * y_step, f"{k * y_step:.{decimals}f}" if top < 1e4 else f"{k * y_step:.3g}") for k in range(steps + 1)
    ]
    # A margin either side of the first and last epochs, so that their markers are whole.
    pad = max(0.5, 0.05 * (epochs[-1] - epochs[0]))
    lo, hi = epochs[0] - pad, epochs[-1] + pad
    x_step = max(1, round(_nice_step(hi - lo, most=10, multiples=(1, 2, 5))))
    x_ticks = [(e, str(e)) for e in range(math.ceil(lo / x_step) * x_step, math.floor(hi) + 1, x_step)]
    width, height = CURVES_SIZE
    title = f"Learning curves: test acc {history[-1]['test_acc']:.3f} after epoch {epochs[-1]}"
    plot_top = _heading_height(title) + LEGEND_H
    widest_y_label = max(_font(TEXT_SIZE).getlength(label) for _, label in y_ticks)
    plot_left = MARGIN + max(4 * TEXT_SIZE, round(widest_y_label) + TICK + 3)
    plot_bottom = height - MARGIN - 2 * TEXT_SIZE - TICK - 8
    x = Axis(lo, hi, plot_left, width - 2 * MARGIN, x_ticks)
    return CurvesChart(
        title=title,
        series=series,
        x=x,
        y=Axis(0, steps * y_step, plot_bottom, plot_top, y_ticks),
        markers=x.pixel(lo + 1) - x.pixel(lo) >= 6 * MARKER_RADIUS,
        size=CURVES_SIZE,
    )


def _nice_step(span: float, most: int, multiples: Sequence[float]) -> float:
    """The smallest of `multiples` times a power of ten that cuts `span` in at most `most` steps."""
    power = 10 ** math.floor(math.log10(span / most))
    return next(m * power for m in (*multiples, 10) if span / (m * power) <= most)


def curves_picture(chart: CurvesChart) -> Image.Image:
    """Lines and markers drawn SUPERSAMPLE times larger and shrunk back, for smooth edges; text and axes at size."""
    from PIL import Image, ImageDraw

    S = SUPERSAMPLE
    left, right, top, bottom = chart.x.start, chart.x.end, chart.y.end, chart.y.start
    big = Image.new("RGB", (chart.size[0] * S, chart.size[1] * S), "white")
    draw = ImageDraw.Draw(big)
    # Grid lines under the curves, each S big pixels wide: one whole pixel once shrunk.
    for x in (round(chart.x.pixel(x)) * S for x, _ in chart.x.ticks):
        draw.rectangle((x, top * S, x + S - 1, bottom * S), GRID)
    for y in (round(chart.y.pixel(y)) * S for y, _ in chart.y.ticks):
        draw.rectangle((left * S, y, right * S, y + S - 1), GRID)
    legend = _legend_entries(chart)
    for series, (x, y) in zip(chart.series, legend):
        _draw_line(draw, np.array([[x, y], [x + LEGEND_SAMPLE, y]]) * S, series)
        if chart.markers:
            _draw_dots(draw, np.array([[x + LEGEND_SAMPLE / 2, y]]) * S, series.color)
    for series in chart.series:
        points = np.array([chart.point(e, v) for e, v in zip(series.epochs, series.values)]) * S  # (epochs, 2)
        _draw_line(draw, points, series)
        if chart.markers:
            _draw_dots(draw, points, series.color)
    picture = big.reduce(S)  # each pixel the mean of S x S: a box filter, ten times cheaper than LANCZOS here

    draw = ImageDraw.Draw(picture)
    font = _font(TEXT_SIZE)
    draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), outline=AXES_GRAY)
    for x, label in chart.x.ticks:
        x = round(chart.x.pixel(x))
        draw.line((x, bottom + 1, x, bottom + TICK), AXES_GRAY)
        draw.text((x, bottom + TICK + 3), label, "black", font, anchor="ma")
    for y, label in chart.y.ticks:
        y = round(chart.y.pixel(y))
        draw.line((left - TICK, y, left - 1, y), AXES_GRAY)
        draw.text((left - TICK - 3, y), label, "black", font, anchor="rm")
    draw.text(((left + right) / 2, chart.size[1] - MARGIN), "epoch", "black", font, anchor="md")
    for series, (x, y) in zip(chart.series, legend):
        draw.text((x + LEGEND_SAMPLE + 6, y), series.label, "black", font, anchor="lm")
    _draw_heading(draw, picture.width, chart.title)
    return picture


def _legend_entries(chart: CurvesChart) -> list[tuple[float, float]]:
    """Where each series' legend entry starts, in one centred row between the title and the plot."""
    font = _font(TEXT_SIZE)
    widths = [LEGEND_SAMPLE + 6 + font.getlength(series.label) for series in chart.series]
    gap = 3 * TEXT_SIZE
    x = (chart.x.start + chart.x.end - sum(widths) - gap * (len(widths) - 1)) / 2
    entries = []
    for width in widths:
        entries.append((x, chart.y.end - LEGEND_H / 2))
        x += width + gap
    return entries


def _draw_line(draw: ImageDraw.ImageDraw, points: np.ndarray, series: Series) -> None:
    """The polyline through `points` (n, 2), in supersampled pixels, in the series' colour and dashes."""
    dashes = [length * SUPERSAMPLE for length in series.dashes]
    for piece in _dashed(points, dashes) if dashes else [points]:
        draw.line([tuple(point) for point in piece], series.color, LINE_WIDTH * SUPERSAMPLE, joint="curve")


def _draw_dots(draw: ImageDraw.ImageDraw, points: np.ndarray, color: tuple[int, int, int]) -> None:
    radius = MARKER_RADIUS * SUPERSAMPLE
    for x, y in points:
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), color)


def _dashed(points: np.ndarray, dashes: Sequence[float]) -> list[np.ndarray]:
    """The pieces of the polyline `points` (n, 2) that `dashes` (on, off, on, off, ... lengths) leave drawn."""
    along = np.concatenate([[0], np.cumsum(np.hypot(*np.diff(points, axis=0).T))])  # (n,) distance from the start
    bounds = np.cumsum([0, *dashes])  # where each dash and gap starts within a period, and the period
    pieces = []
    for period_start in np.arange(0, along[-1], bounds[-1]):
        for dash_start, dash_end in zip(bounds[0:-1:2], bounds[1::2]):
            start, end = period_start + dash_start, min(period_start + dash_end, along[-1])
            if start < end:
                distances = np.concatenate([[start], along[(along > start) & (along < end)], [end]])  # its corners
                pieces.append(np.stack([np.interp(distances, along, points[:, c]) for c in range(2)], axis=-1))
    return pieces
