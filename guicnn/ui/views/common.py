"""Pieces the views share: the empty-state hint, colour maps, tile mosaics, image conversion, labels."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QImage
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from guicnn.core.layers.common import fmt_shape
from guicnn.ui.style import MUTED, TEXT

# Plot colours: one per series, readable on white and for the common colour-vision deficiencies.
TRAIN_COLOUR = "#2f6fb3"
VAL_COLOUR = "#d9711c"
BEST_COLOUR = "#2e7d32"
BAR_COLOUR = "#5b8fc7"
HIGHLIGHT_COLOUR = "#d9711c"
GRID_COLOUR = "#dfe4e9"
REFERENCE_COLOUR = "#7b4fb0"  # a pinned model "A" in A/B comparisons

VIRIDIS = pg.colormap.get("viridis")
# Weights: negative blue, zero white, positive red (ColorBrewer RdBu), always centred at 0.
DIVERGING = pg.ColorMap([0.0, 0.5, 1.0], [(33, 102, 172), (247, 247, 247), (178, 24, 43)], name="blue-white-red")
GREYS = pg.ColorMap([0.0, 1.0], [(0, 0, 0), (255, 255, 255)], name="greys")
BLUES = pg.ColorMap([0.0, 1.0], [(247, 251, 255), (8, 69, 148)], name="blues")


def lookup_table(cmap: pg.ColorMap) -> np.ndarray:
    """A 256-entry uint8 RGB(A) lookup table for ``ImageItem.setLookupTable``."""
    return cmap.getLookupTable(nPts=256)


# ---- the empty state ------------------------------------------------------------------------

class HintStack(QStackedWidget):
    """Either the view's content or a short centred hint (the empty state): never a blank panel."""

    def __init__(self, content: QWidget, hint: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hint_label = QLabel(hint)
        self.hint_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint_label.setWordWrap(True)
        self.hint_label.setMargin(24)
        self.hint_label.setStyleSheet(f"color: {MUTED}; font-size: 11pt;")
        self.hint_label.setObjectName("hint")
        self.addWidget(self.hint_label)
        self.addWidget(content)
        self.setCurrentIndex(0)

    def show_hint(self, text: str | None = None) -> None:
        if text is not None:
            self.hint_label.setText(text)
        self.setCurrentIndex(0)

    def show_content(self) -> None:
        self.setCurrentIndex(1)

    @property
    def showing_hint(self) -> bool:
        return self.currentIndex() == 0

    @classmethod
    def fill(cls, view: QWidget, content: QWidget, hint: str) -> HintStack:
        """The usual page of a view: ``content`` (or the hint) filling ``view`` with a 6 px margin."""
        stack = cls(content, hint)
        layout = QVBoxLayout(view)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(stack)
        return stack


def caption_label(text: str = "", *, bold: bool = False, muted: bool = False) -> QLabel:
    """A wrapped label for titles (bold) or explanations (muted)."""
    label = QLabel(text)
    label.setWordWrap(True)
    style = []
    if bold:
        style.append("font-weight: bold;")
    if muted:
        style.append(f"color: {MUTED};")
    label.setStyleSheet(" ".join(style))
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def set_plot_title(plot: pg.PlotItem, html: str, size: str = "10pt") -> None:
    """Set a plot's title without letting it set the plot's minimum width (pyqtgraph does: a long
    title pushed the neighbouring plot out of a narrow window). Keep titles short."""
    plot.setTitle(html, color=TEXT, size=size)
    plot.titleLabel.setMinimumWidth(0)


def style_plot(plot: pg.PlotItem, title: str = "", x_label: str = "", y_label: str = "", grid: bool = True) -> None:
    """Titles and axis labels in the application's text colour, a faint grid, no context-menu clutter."""
    if title:
        plot.setTitle(title, color=TEXT, size="10pt")
    if x_label:
        plot.setLabel("bottom", x_label, color=TEXT)
    if y_label:
        plot.setLabel("left", y_label, color=TEXT)
    if grid:
        show_grid(plot, "left", "bottom")
    for name in ("left", "bottom"):  # plain numbers (0.002), not "2 (x0.001)" in the label
        plot.getAxis(name).enableAutoSIPrefix(False)
    plot.hideButtons()
    plot.setMenuEnabled(False)


def show_grid(plot: pg.PlotItem, *axes: str) -> None:
    """Light, opaque grid lines at the major ticks of ``axes``.

    pyqtgraph's ``showGrid(alpha=…)`` blends every major and minor line and costs ~15 ms per
    plot and repaint; opaque lines at major ticks only cost well under 1 ms.
    """
    for name in axes:
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(GRID_COLOUR))
        axis.setTextPen(pg.mkPen(TEXT))
        axis.setGrid(255)
        axis.setStyle(maxTickLevel=0)
        axis.setZValue(-200)  # below the ViewBox (-100), so grid lines pass behind the data


def set_category_ticks(axis: pg.AxisItem, names: Sequence[str], max_chars: int = 12, offset: float = 0.0) -> None:
    """Put one tick per category at offset + 0, 1, 2, … labelled with its (shortened) name."""
    axis.setTicks([[(i + offset, shorten(name, max_chars)) for i, name in enumerate(names)], []])


def shorten(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


# ---- mosaics ---------------------------------------------------------------------------------

def grid_shape(n: int, tile_h: int = 1, tile_w: int = 1, aspect: float = 1.0) -> tuple[int, int]:
    """(rows, cols) of a grid for ``n`` tiles whose overall width/height is close to ``aspect``."""
    if n <= 0:
        return 0, 0
    cols = max(1, min(n, math.ceil(math.sqrt(n * aspect * tile_h / max(tile_w, 1)))))
    return math.ceil(n / cols), cols


def tile_mosaic(tiles: np.ndarray, cols: int, gap: int = 1, fill: float = np.nan) -> np.ndarray:
    """Arrange ``tiles`` (N, H, W[, K]) row by row in a grid ``cols`` wide with ``gap`` pixels of ``fill``.

    Fully vectorised: pad, reshape to (rows, cols, H+gap, W+gap), swap axes, reshape.
    """
    tiles = np.asarray(tiles)
    n, h, w = tiles.shape[:3]
    rest = tiles.shape[3:]
    rows = math.ceil(n / cols) if n else 0
    dtype = np.result_type(tiles.dtype, np.float32) if isinstance(fill, float) and math.isnan(fill) else tiles.dtype
    padded = np.full((rows * cols, h + gap, w + gap) + rest, fill, dtype=dtype)
    padded[:n, :h, :w] = tiles
    grid = padded.reshape((rows, cols, h + gap, w + gap) + rest).swapaxes(1, 2)
    image = grid.reshape((rows * (h + gap), cols * (w + gap)) + rest)
    return image[: image.shape[0] - gap, : image.shape[1] - gap] if gap else image


def tile_index(row: float, col: float, tile_h: int, tile_w: int, cols: int, count: int,
               gap: int = 1) -> tuple[int, int, int] | None:
    """Which tile (index, y, x inside it) covers mosaic pixel (row, col); None for gaps and outside."""
    if row < 0 or col < 0:
        return None
    r, c = int(row), int(col)
    grid_r, y = divmod(r, tile_h + gap)
    grid_c, x = divmod(c, tile_w + gap)
    if y >= tile_h or x >= tile_w or grid_c >= cols:
        return None
    index = grid_r * cols + grid_c
    return (index, y, x) if index < count else None


@dataclass
class MosaicLayout:
    """Where the tiles of a mosaic are: ``count`` tiles of ``tile_h`` × ``tile_w`` mosaic pixels,
    ``cols`` per row, ``gap`` pixels apart; each data pixel is drawn ``scale`` × ``scale``."""

    count: int = 0
    tile_h: int = 0
    tile_w: int = 0
    cols: int = 1
    gap: int = 1
    scale: int = 1

    def tile_at(self, x: float, y: float) -> tuple[int, int, int] | None:
        """(tile, row, column in the tile's data) under mosaic point (x, y); None over gaps."""
        hit = tile_index(y, x, self.tile_h, self.tile_w, self.cols, self.count, self.gap)
        return None if hit is None else (hit[0], hit[1] // self.scale, hit[2] // self.scale)

    def rect(self, index: int) -> tuple[int, int, int, int]:
        """(x, y, width, height) of tile ``index`` in mosaic pixels."""
        r, c = divmod(index, self.cols)
        return c * (self.tile_w + self.gap), r * (self.tile_h + self.gap), self.tile_w, self.tile_h


MIN_TILE_PIXELS = 12  # small maps and kernels are blown up so the 1-pixel gaps stay thin


def tile_scale(h: int, w: int) -> int:
    """Whole blow-up factor that makes an h × w tile at least MIN_TILE_PIXELS on its long side."""
    return max(1, math.ceil(MIN_TILE_PIXELS / max(h, w, 1)))


def build_mosaic(tiles: np.ndarray, cols: int) -> tuple[np.ndarray, MosaicLayout]:
    """Blow small tiles up (nearest neighbour), lay them out with 1-pixel gaps; (mosaic, layout)."""
    n, h, w = tiles.shape[:3]
    scale = tile_scale(h, w)
    tiles = upscale_nearest(tiles, scale)
    return tile_mosaic(tiles, cols), MosaicLayout(n, h * scale, w * scale, cols, 1, scale)


class TileLabels:
    """Small index labels in the top-left corner of mosaic tiles (a fixed pool of TextItems, made once)."""

    def __init__(self, parent: Any, capacity: int = 64) -> None:
        font = QFont()
        font.setPointSizeF(7.5)
        self.items = []
        for _ in range(capacity):
            item = pg.TextItem("", color=TEXT, fill=pg.mkBrush(255, 255, 255, 190), anchor=(0.0, 0.0))
            item.setFont(font)
            item.setZValue(5)
            item.setVisible(False)
            parent.addItem(item, ignoreBounds=True)
            self.items.append(item)

    def show(self, layout: MosaicLayout, texts: Sequence[str] | None = None) -> None:
        """Label every tile of ``layout`` (with its index, or ``texts``); none when there are too many."""
        count = layout.count if layout.count <= len(self.items) else 0
        for i, item in enumerate(self.items):
            item.setVisible(i < count)
            if i < count:
                x, y, _, _ = layout.rect(i)
                item.setText(texts[i] if texts is not None else str(i))
                item.setPos(x, y)

    def hide(self) -> None:
        for item in self.items:
            item.setVisible(False)


def scale_per_tile(tiles: np.ndarray) -> np.ndarray:
    """Each tile of (N, …) rescaled to [0, 1] on its own; constant tiles become 0."""
    flat = tiles.reshape(len(tiles), -1)
    lo = flat.min(axis=1)
    span = flat.max(axis=1) - lo
    span[span == 0] = 1.0
    shape = (len(tiles),) + (1,) * (tiles.ndim - 1)
    return (tiles - lo.reshape(shape)) / span.reshape(shape)


# ---- images ----------------------------------------------------------------------------------

def display_image(image: np.ndarray) -> np.ndarray:
    """One (C, H, W) input as ImageItem data in [0, 1]: (H, W) grey or (H, W, 3) RGB.

    Data in [0, 1] is shown as is; normalised data (mean 0, std 1) is stretched to its range.
    Inputs with neither 1 nor 3 channels show their first channel.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[None]
    picture = image.transpose(1, 2, 0) if image.shape[0] == 3 else image[0]
    lo, hi = float(np.nanmin(picture)), float(np.nanmax(picture))
    if lo < 0.0 or hi > 1.0:
        picture = (picture - lo) / (hi - lo if hi > lo else 1.0)
    return picture


def images_to_uint8(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) floats to uint8 (N, H, W) grey or (N, H, W, 3) RGB for thumbnails.

    Values already in [0, 1] map linearly; otherwise every image is stretched to its own range.
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[:, None]
    x = x.transpose(0, 2, 3, 1) if x.shape[1] == 3 else x[:, 0]
    if x.size and (x.min() < 0.0 or x.max() > 1.0):
        x = scale_per_tile(x)
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def upscale_nearest(images: np.ndarray, factor: int) -> np.ndarray:
    """Blow (N, H, W[, 3]) up by an integer factor with nearest-neighbour (pixels stay crisp)."""
    if factor <= 1:
        return images
    return np.repeat(np.repeat(images, factor, axis=1), factor, axis=2)


def qimage_from_array(pixels: np.ndarray) -> QImage:
    """A QImage owning a copy of uint8 (H, W) grey or (H, W, 3) RGB pixels."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    h, w = pixels.shape[:2]
    fmt = QImage.Format.Format_RGB888 if pixels.ndim == 3 else QImage.Format.Format_Grayscale8
    return QImage(pixels.data, w, h, pixels.strides[0], fmt).copy()


# ---- labels ----------------------------------------------------------------------------------

def fmt_value(value: float) -> str:
    """Three significant digits: 0.000123 -> '0.000123', 2.4 -> '2.4', nan -> '–'."""
    value = float(value)
    if not math.isfinite(value):
        return "–" if math.isnan(value) else ("∞" if value > 0 else "-∞")
    return f"{value:.3g}"


def fmt_percent(fraction: float, digits: int = 1) -> str:
    return "–" if fraction is None or not math.isfinite(fraction) else f"{100.0 * fraction:.{digits}f}%"


def layer_labels(model: Any) -> list[str]:
    """Chooser labels for a built model: ``"3 · Conv2D 16@3x3 s1 p1 → 16×14×14"`` (0-based, as in the summary)."""
    return [f"{i} · {layer.describe()} → {fmt_shape(layer.output_shape)}" for i, layer in enumerate(model.layers)]


def matching_names(names: Sequence[str] | None, count: int) -> list[str] | None:
    """The class names if there is one per value, else None."""
    if names is not None and len(names) == count:
        return [str(n) for n in names]
    return None
