"""Feature maps: every layer's output for one probe image, as tiled channel mosaics or bar charts."""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QScrollArea,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from guicnn.core.receptive import ReceptiveField, receptive_field
from guicnn.core.text import plural
from guicnn.ui.views.common import (
    BAR_COLOUR,
    GREYS,
    HIGHLIGHT_COLOUR,
    VIRIDIS,
    HintStack,
    MosaicLayout,
    TileLabels,
    build_mosaic,
    caption_label,
    display_image,
    fmt_shape,
    fmt_value,
    grid_shape,
    lookup_table,
    matching_names,
    set_category_ticks,
    style_plot,
)
from guicnn.ui.widgets.image_export import add_image_menu

from .receptive_overlay import MosaicOverlay, probe_pixmap

EMPTY_HINT = ("No feature maps yet.\n\nWith a model and a probe image, the output of every layer for that "
              "image appears here, refreshed while the network trains.")
OVERVIEW = -1  # selected_layer() value of the "All layers" overview
OVERVIEW_CHANNELS = 8  # channels per layer in the overview
MAX_BARS = 64  # more values than this are drawn as a filled step curve instead of separate bars
MAX_BAR_LABELS = 20  # value labels above bars up to this many values
ROW_HEIGHT = 76  # minimum height of an overview row in pixels
#: Seconds of overview rows made per event-loop turn: a row is a PlotItem (several ms each), and a
#: deep design's rows made at once would freeze the window when training starts.
ROW_BUILD_BUDGET = 0.03


OVERVIEW_LABEL_WIDTH = 185  # px; the tiles get the rest of a view that may be only ~400 px wide
PROBE_SIDE = 176  # px: the probe image, large enough to show a receptive field pixel by pixel
# In a short view (the Training tab at 1366x768 has ~360 px for the feature maps) the probe
# shrinks to this, so that the layer list above it keeps room for more than three rows.
PROBE_SIDE_SHORT = 96
SHORT_VIEW = 420  # px of view height below which the probe is drawn at PROBE_SIDE_SHORT (1366x768: ~360)
UNIT_HINT = ("Click a unit (or hold Shift and hover) to see exactly which input pixels it depends on; "
             "Esc clears.")


def _two_line_label(label: str, note: str) -> str:
    """'3 · Conv2D 16@3x3 → 16×14×14' as the layer on one line, shape and note (grey) below."""
    name, _, shape = label.partition(" → ")
    detail = f"→ {shape} · {note}" if shape else note
    return f"{name}<br><span style='color:#66707a'>{detail}</span>"


def _as_maps(activation: np.ndarray) -> np.ndarray | None:
    """(C, H, W) view of a spatial activation; None for flat (1-D) outputs."""
    a = np.asarray(activation)
    if a.ndim == 1:
        return None
    if a.ndim == 2:
        return a[None]
    return a.reshape((-1,) + a.shape[-2:])


def _looks_like_probabilities(values: np.ndarray) -> bool:
    """Non-negative values adding up to 1 (a softmax output, whatever the layer is called)."""
    return values.size > 1 and float(values.min()) >= 0.0 and abs(float(values.sum()) - 1.0) < 1e-3


def _channel_stats(maps: np.ndarray) -> np.ndarray:
    """(C, 3) min, max, mean per channel."""
    flat = maps.reshape(len(maps), -1)
    return np.stack([flat.min(axis=1), flat.max(axis=1), flat.mean(axis=1)], axis=1)


def _scaled(maps: np.ndarray, per_channel: bool, stats: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Display data and colour levels: each channel 0..1 on its own, or raw values with the layer's range."""
    if per_channel:
        lo = stats[:, 0][:, None, None]
        span = (stats[:, 1] - stats[:, 0])[:, None, None]
        return (maps - lo) / np.where(span > 0, span, 1.0), (0.0, 1.0)
    lo, hi = float(stats[:, 0].min()), float(stats[:, 1].max())
    return maps, (lo, hi if hi > lo else lo + 1.0)


class _OverviewRow:
    """One row of the overview: a label, then the first channels as tiles or the values as bars.

    Every row is a PlotItem with an equally wide left axis, so all rows start at the same x;
    picture rows keep square pixels by fitting their range to the row's size, left-aligned.
    """

    def __init__(self, layout: pg.GraphicsLayout, row: int, flat: bool) -> None:
        self.flat = flat
        self.label = layout.addLabel("", row=row, col=0, justify="right", color="#333a40", size="9pt")
        self.label.setFixedWidth(OVERVIEW_LABEL_WIDTH)
        self.plot = layout.addPlot(row=row, col=1, enableMenu=False)  # no menu: half the cost of a row
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideAxis("bottom")
        left = self.plot.getAxis("left")
        left.setWidth(40)
        self.view = self.plot.vb
        self.layout = MosaicLayout()
        self.content: tuple[int, int] = (0, 0)  # (height, width) of the picture in pixels
        self.names: list[str] = []
        self.label_text = ""
        if flat:
            left.setStyle(tickLength=-3)
            self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=BAR_COLOUR, pen=pg.mkPen(None))
            self.plot.addItem(self.bars)
            self.curve = self.plot.plot(stepMode="center", fillLevel=0, pen=pg.mkPen(BAR_COLOUR, width=1),
                                        brush=pg.mkBrush(BAR_COLOUR))
            self.image = None
        else:
            left.setStyle(showValues=False, tickLength=0)
            left.setPen(pg.mkPen(None))
            self.view.invertY(True)
            self.image = pg.ImageItem()
            self.plot.addItem(self.image)
            self.overlay = MosaicOverlay(self.view)
            self.view.sigResized.connect(self.fit)

    def layout_hw(self) -> tuple[int, int]:
        """(height, width) of one tile's data (the map's size)."""
        scale = max(self.layout.scale, 1)
        return self.layout.tile_h // scale, self.layout.tile_w // scale

    def set_label(self, text: str) -> None:
        """Relabel only on change: LabelItem.setText re-lays out HTML, the costliest part of an update."""
        if text != self.label_text:
            self.label_text = text
            self.label.setText(text)

    def show_values(self, values: np.ndarray, names: list[str] | None) -> None:
        n = values.size
        few = n <= MAX_BARS
        self.bars.setVisible(few)
        self.curve.setVisible(not few)
        if few:
            self.bars.setOpts(x=np.arange(n), height=values, width=0.8)
            self.curve.setData([], [])
        else:
            self.bars.setOpts(x=[], height=[])
            self.curve.setData(np.arange(n + 1) - 0.5, values)
        self.plot.setXRange(-0.6, n - 0.4, padding=0)
        names = names or []
        if names != self.names:
            self.names = names
            if names:
                set_category_ticks(self.plot.getAxis("bottom"), names, max_chars=10)
                self.plot.showAxis("bottom")
            else:
                self.plot.hideAxis("bottom")

    def show_picture(self, picture: np.ndarray, lut: np.ndarray | None) -> None:
        self.image.setImage(picture, autoLevels=False, levels=(0.0, 1.0), lut=lut)
        if picture.shape[:2] != self.content:
            self.content = picture.shape[:2]
            self.fit()

    def fit(self) -> None:
        """Square pixels; the picture starts at the left edge, centred vertically."""
        height, width = self.content
        vw, vh = self.view.width(), self.view.height()
        if not height or vw <= 0 or vh <= 0:
            return
        pad = 0.06 * height
        span_y = height + 2 * pad
        span_x = span_y * vw / vh
        if span_x < width + pad:  # too narrow for the full height: fit the width instead
            span_x = width + pad
            span_y = span_x * vh / vw
        self.view.setRange(xRange=(0, span_x), yRange=(height / 2 - span_y / 2, height / 2 + span_y / 2),
                           padding=0)


class FeatureMapsView(QWidget):
    """The activations of every layer for one probe image.

    * ``set_layers(labels, types)``: one label per layer, e.g. from :func:`layer_labels`
      (``"3 · Conv2D 16@3x3 s1 p1 → 16×14×14"``), and its registry type name.
    * ``set_activations(input_image, activations, class_names=None, probe_caption=None)``:
      the probe image (C, H, W) and every layer's output without the batch dimension
      (``model.activations`` of a one-image forward pass, ``[0]`` removed). Cheap enough to
      call several times a second; only what is on screen is redrawn.
    * ``selected_layer()`` -> layer index, or ``OVERVIEW`` (-1) for "All layers";
      ``set_selected_layer(index)``; signal ``layerChanged(int)``.
    * ``set_per_channel(bool)``: colour each channel on its own scale (default) or share the layer's.

    Spatial outputs are drawn as a mosaic of channels (1-px gaps, viridis, colour bar); flat
    outputs (Dense, Flatten, global pools, Softmax) as bars, labelled with class names when
    their count matches, Softmax as probabilities.
    """

    layerChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._labels: list[str] = []
        self._types: list[str] = []  # registry type names, when the caller gave them
        self._input: np.ndarray | None = None
        self._activations: list[np.ndarray] = []
        self._class_names: list[str] | None = None
        self._per_channel = True
        self._selected = OVERVIEW
        self._stats: np.ndarray | None = None  # per-channel stats of the shown layer
        self._maps: np.ndarray | None = None  # the shown layer's (C, H, W) values
        self._mosaic: np.ndarray | None = None
        self._layout = MosaicLayout()
        self._rows: list[_OverviewRow] = []
        self._row_kinds: tuple = ()
        self._bar_names: list[str] = []
        self._more_rows = QTimer(self, singleShot=True, interval=0)
        self._more_rows.timeout.connect(self._continue_overview)
        self._design: dict[str, Any] | None = None
        self._field: ReceptiveField | None = None  # the clicked unit's receptive field
        self._probe_caption_text: str | None = None
        self._build_ui()
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.clear_unit)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    # ---- construction ---------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.layer_list = QListWidget()
        self.layer_list.setMinimumWidth(190)
        self.layer_list.setMaximumWidth(240)  # the mosaic needs the width more than the list
        self.layer_list.setToolTip("Choose a layer to see all its channels, or the overview of every layer.")
        self.layer_list.currentRowChanged.connect(self._on_row_changed)
        self.probe_picture = QLabel()
        self._probe_side = PROBE_SIDE
        self.probe_picture.setFixedSize(PROBE_SIDE + 4, PROBE_SIDE + 4)
        self.probe_picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.probe_picture.setStyleSheet("background: #ffffff; border: 1px solid #d5dbe1;")
        self.probe_caption = caption_label("", muted=True)
        left = QVBoxLayout()
        left.addWidget(caption_label("Layer", bold=True))
        left.addWidget(self.layer_list, 1)
        left.addWidget(caption_label("Probe image (the network's input)", bold=True))
        left.addWidget(self.probe_picture, 0, Qt.AlignmentFlag.AlignHCenter)
        left.addWidget(self.probe_caption)

        self.title = caption_label("", bold=True)
        self.explanation = caption_label("", muted=True)
        self.scale_combo = QComboBox()
        self.scale_combo.addItems(["Colour per channel (own min → max)", "Colour shared by the layer"])
        self.scale_combo.setToolTip(
            "Per channel: every tile uses the full colour range, so weak channels stay visible.\n"
            "Shared: one scale for the whole layer, so strong and weak channels can be compared.")
        self.scale_combo.currentIndexChanged.connect(lambda i: self.set_per_channel(i == 0))
        # The explanation gets the whole width: beside the combo it wrapped one word per line
        # and its height starved the mosaic in a narrow window.
        options = QVBoxLayout()
        options.setSpacing(4)
        options.addWidget(self.explanation)
        options.addWidget(self.scale_combo, 0, Qt.AlignmentFlag.AlignLeft)

        # Page 0: one layer's channel mosaic with a colour bar.
        self.map_graphics = pg.GraphicsLayoutWidget()
        add_image_menu(self.map_graphics, "feature-maps")  # right-click: save as PNG/SVG, copy
        self.map_view = self.map_graphics.addViewBox(row=0, col=0)
        self.map_view.setAspectLocked(True)
        self.map_view.invertY(True)
        self.map_view.setMenuEnabled(False)
        self.map_image = pg.ImageItem()
        self.map_view.addItem(self.map_image)
        self.tile_frame = QGraphicsRectItem()
        self.tile_frame.setPen(pg.mkPen(HIGHLIGHT_COLOUR, width=2, cosmetic=True))
        self.tile_frame.setZValue(10)
        self.tile_frame.setVisible(False)
        self.map_view.addItem(self.tile_frame)
        self.tile_labels = TileLabels(self.map_view)
        self.colour_bar = pg.ColorBarItem(values=(0, 1), colorMap=VIRIDIS, interactive=False, width=16,
                                          label="", colorMapMenu=False)
        self.colour_bar.setImageItem(self.map_image)
        self.map_graphics.addItem(self.colour_bar, row=0, col=1)
        self.map_overlay = MosaicOverlay(self.map_view)
        self._map_proxy = pg.SignalProxy(self.map_graphics.scene().sigMouseMoved, rateLimit=30,
                                         slot=lambda e: self._on_map_mouse(e[0]))
        self.map_graphics.scene().sigMouseClicked.connect(self._on_map_click)

        # Page 1: a flat layer as bars.
        self.bar_graphics = pg.GraphicsLayoutWidget()
        add_image_menu(self.bar_graphics, "layer-output")  # right-click: save as PNG/SVG, copy
        self.bar_plot = self.bar_graphics.addPlot()
        style_plot(self.bar_plot)
        self.bar_plot.setMouseEnabled(False, False)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=BAR_COLOUR, pen=pg.mkPen(None))
        self.bar_plot.addItem(self.bars)
        self.bar_curve = self.bar_plot.plot(stepMode="center", fillLevel=0, pen=pg.mkPen(BAR_COLOUR, width=1),
                                            brush=pg.mkBrush(BAR_COLOUR))
        self.bar_texts = [pg.TextItem("", color="#333a40", anchor=(0.5, 1.0)) for _ in range(MAX_BAR_LABELS)]
        for text in self.bar_texts:
            self.bar_plot.addItem(text, ignoreBounds=True)
        self._bar_proxy = pg.SignalProxy(self.bar_graphics.scene().sigMouseMoved, rateLimit=30,
                                         slot=lambda e: self._on_bar_mouse(e[0]))
        self.bar_graphics.scene().sigMouseClicked.connect(self._on_bar_click)

        # Page 2: the overview, one row per layer (rows are made when the layer kinds change).
        self.overview_graphics = pg.GraphicsLayoutWidget()
        add_image_menu(self.overview_graphics, "feature-map-overview")  # right-click: save as PNG/SVG, copy
        self.overview_graphics.ci.layout.setColumnStretchFactor(1, 1)
        self.overview_scroll = QScrollArea()
        self.overview_scroll.setWidgetResizable(True)
        self.overview_scroll.setWidget(self.overview_graphics)
        self._overview_proxy = pg.SignalProxy(self.overview_graphics.scene().sigMouseMoved, rateLimit=30,
                                              slot=lambda e: self._on_overview_mouse(e[0]))
        self.overview_graphics.scene().sigMouseClicked.connect(self._on_overview_click)

        self.pages = QStackedWidget()
        for page in (self.map_graphics, self.bar_graphics, self.overview_scroll):
            self.pages.addWidget(page)
        self.hover_label = caption_label("", muted=True)
        self.hover_label.setMinimumHeight(self.hover_label.fontMetrics().height() + 6)

        self.unit_caption = QLabel("")
        self.unit_caption.setWordWrap(True)
        self.unit_caption.setStyleSheet(f"color: {HIGHLIGHT_COLOUR}; font-weight: bold; font-size: 11pt;")
        self.unit_caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.unit_clear = QToolButton()
        self.unit_clear.setText("✕ Clear")
        self.unit_clear.setToolTip("Stop showing the unit's receptive field (Esc)")
        self.unit_clear.clicked.connect(self.clear_unit)
        unit_row = QHBoxLayout()
        unit_row.addWidget(self.unit_caption, 1)
        unit_row.addWidget(self.unit_clear, 0, Qt.AlignmentFlag.AlignTop)
        self.unit_clear.setVisible(False)
        self.unit_caption.setText(UNIT_HINT)
        self.unit_caption.setStyleSheet("color: #66707a;")

        right = QVBoxLayout()
        right.addWidget(self.title)
        right.addLayout(options)
        right.addLayout(unit_row)
        right.addWidget(self.pages, 1)
        right.addWidget(self.hover_label)
        content = QWidget()
        row = QHBoxLayout(content)
        row.setContentsMargins(0, 0, 0, 0)
        row.addLayout(left, 0)
        row.addLayout(right, 1)
        self.stack = HintStack.fill(self, content, EMPTY_HINT)

    # ---- public API -----------------------------------------------------------------------
    def set_layers(self, layer_labels: Sequence[str], layer_types: Sequence[str] | None = None) -> None:
        """One label (and type name) per layer (the architecture changed): rebuild the chooser,
        keep the choice if possible."""
        self._labels = [str(label) for label in layer_labels]
        self._types = [str(t) for t in layer_types] if layer_types is not None else []
        selected = self._selected
        self.layer_list.blockSignals(True)
        self.layer_list.clear()
        self.layer_list.addItem("All layers (overview)")
        self.layer_list.addItems(self._labels)
        widest = max((self.layer_list.fontMetrics().horizontalAdvance(t) for t in self._labels), default=0)
        # Wide enough for most labels (long ones elide; the tooltip has them), never so wide
        # that the mosaic is starved in a narrow window.
        self.layer_list.setMinimumWidth(min(240, max(190, widest + 36)))
        for row in range(1, self.layer_list.count()):
            self.layer_list.item(row).setToolTip(self._labels[row - 1])
        if selected >= len(self._labels):
            selected = OVERVIEW
        self.layer_list.setCurrentRow(selected + 1)
        self.layer_list.blockSignals(False)
        self._activations = []
        self._selected = selected
        self.stack.show_hint()

    def set_activations(self, input_image: np.ndarray, activations: Sequence[np.ndarray],
                        class_names: Sequence[str] | None = None, probe_caption: str | None = None) -> None:
        """Show ``activations`` (one array per layer, no batch dimension) for ``input_image`` (C, H, W)."""
        self._input = np.asarray(input_image, dtype=np.float32)
        self._activations = [np.asarray(a) for a in activations]
        if self._field is not None and self._field.layer >= len(self._activations):
            self._field = None
        self._class_names = list(class_names) if class_names is not None else None
        if len(self._labels) != len(self._activations):
            self.set_layers([f"{i} · layer → {fmt_shape(a.shape)}" for i, a in enumerate(self._activations)])
            self._activations = [np.asarray(a) for a in activations]
        self._show_probe(probe_caption)
        self.stack.show_content()
        self._render()

    def selected_layer(self) -> int:
        """The shown layer's index, or ``OVERVIEW`` (-1) for all layers."""
        return self._selected

    def set_selected_layer(self, index: int) -> None:
        self.layer_list.setCurrentRow(max(OVERVIEW, min(index, len(self._labels) - 1)) + 1)

    def set_per_channel(self, per_channel: bool) -> None:
        """Colour every channel on its own scale (True) or on the layer's shared scale (False)."""
        if per_channel == self._per_channel:
            return
        self._per_channel = per_channel
        self.scale_combo.blockSignals(True)
        self.scale_combo.setCurrentIndex(0 if per_channel else 1)
        self.scale_combo.blockSignals(False)
        self._render()

    def clear(self) -> None:
        self._activations = []
        self._input = None
        self.stack.show_hint()

    # ---- receptive fields -----------------------------------------------------------------
    def set_design(self, design: dict[str, Any] | None) -> None:
        """The design the activations come from (receptive fields are computed from it)."""
        if design != self._design:
            self._design = design
            self.clear_unit()

    def select_unit(self, layer: int, row: int = 0, col: int = 0) -> str:
        """Show what unit (row, col) of ``layer`` depends on, through every map down to the input.

        Returns the caption ("layer 3 unit (4, 7) sees rows 8–21, …"), or why nothing is shown.
        """
        try:
            if self._design is None:
                raise ValueError("no design to trace the unit through")
            field = receptive_field(self._design, layer, row, col)
        except ValueError as exc:
            self._field = None
            self._draw_field()
            self._set_unit_caption(f"Cannot show what this unit sees: {exc}.", error=True)
            return str(exc)
        self._field = field
        caption = field.caption()
        self._set_unit_caption(caption[0].upper() + caption[1:] + ".")
        self._draw_field()
        return caption

    def clear_unit(self) -> None:
        self._field = None
        self._set_unit_caption(UNIT_HINT)
        self._draw_field()

    def selected_unit(self) -> ReceptiveField | None:
        return self._field

    def highlighted_box(self) -> tuple[int, int, int, int] | None:
        """The box drawn on the probe image (half-open input rows and columns), None when nothing is."""
        window = self._probe_window
        return None if window is None else window.box

    def highlighted_window(self, layer: int):
        """The window drawn on ``layer``'s map (-1: the input) on the page shown, or None."""
        if self.current_page() == "maps" and layer == self._selected:
            return self.map_overlay.window
        if self.current_page() == "overview" and 0 <= layer + 1 < len(self._rows):
            row = self._rows[layer + 1]
            return None if row.flat else row.overlay.window
        if layer == -1:
            return self._probe_window
        return None

    def _set_unit_caption(self, text: str, error: bool = False) -> None:
        active = self._field is not None
        colour = "#c62828" if error else (HIGHLIGHT_COLOUR if active else "#66707a")
        weight = "bold; font-size: 11pt" if active else "normal"
        self.unit_caption.setStyleSheet(f"color: {colour}; font-weight: {weight};")
        self.unit_caption.setText(text)
        self.unit_clear.setVisible(active)

    @property
    def _probe_window(self):
        return None if self._field is None else self._field.input

    def _draw_field(self) -> None:
        """Put the selected unit's windows on whatever is on screen (items exist; only data changes)."""
        field = self._field
        page = self.current_page()
        if page == "maps" and field is not None and field.map_for(self._selected) is not None:
            self.map_overlay.show(field.map_for(self._selected), self._layout)
        else:
            self.map_overlay.clear()
        if page == "overview":
            for index, row in enumerate(self._rows):
                if row.flat:
                    continue
                window = None if field is None else field.map_for(index - 1)
                if window is None or window.shape[1:] != tuple(row.layout_hw()):
                    row.overlay.clear()
                else:
                    row.overlay.show(window, row.layout)
        if self._input is not None:
            self._show_probe(self._probe_caption_text)

    # ---- what is shown (used by tests) ----------------------------------------------------
    def current_page(self) -> str:
        """"hint", "maps", "bars" or "overview"."""
        if self.stack.showing_hint:
            return "hint"
        return ("maps", "bars", "overview")[self.pages.currentIndex()]

    def mosaic(self) -> np.ndarray | None:
        """The shown layer's mosaic as drawn (NaN in the gaps)."""
        return self._mosaic

    def tile_rects(self) -> list[tuple[int, int, int, int]]:
        """(x, y, width, height) of every channel's tile in mosaic pixels, channel 0 first."""
        return [self._layout.rect(i) for i in range(self._layout.count)]

    def bar_values(self) -> np.ndarray:
        """Heights of the bars shown for a flat layer (probabilities in percent for Softmax)."""
        if self.bars.isVisible():
            return np.asarray(self.bars.opts["height"], dtype=float)
        return np.asarray(self.bar_curve.getData()[1], dtype=float)

    def bar_labels(self) -> list[str]:
        """The category labels under the bars (empty when the axis is numbered)."""
        return list(self._bar_names)

    def hover_text_at(self, x: float, y: float) -> str:
        """Describe the tile under mosaic point (x, y) (what hovering shows); '' over a gap."""
        hit = self._layout.tile_at(x, y)
        if hit is None or self._maps is None:
            self.tile_frame.setVisible(False)
            self.hover_label.setText("")
            return ""
        channel, ty, tx = hit
        lo, hi, mean = self._stats[channel]
        text = (f"channel {channel} · min {fmt_value(lo)} · max {fmt_value(hi)} · mean {fmt_value(mean)}"
                f" · value at row {ty}, column {tx}: {fmt_value(self._maps[channel, ty, tx])}")
        rx, ry, rw, rh = self._layout.rect(channel)
        self.tile_frame.setRect(QRectF(rx - 0.5, ry - 0.5, rw + 1, rh + 1))
        self.tile_frame.setVisible(True)
        self.hover_label.setText(text)
        return text

    # ---- rendering ------------------------------------------------------------------------
    def _render(self) -> None:
        if not self._activations:
            return
        if self._selected == OVERVIEW:
            self._render_overview()
        else:
            activation = self._activations[self._selected]
            if _as_maps(activation) is None:
                self._render_bars(activation)
            else:
                self._render_maps(activation)
        self._draw_field()

    def _layer_title(self, index: int) -> str:
        return self._labels[index].replace(" → ", " · ") if index < len(self._labels) else f"{index}"

    def _render_maps(self, activation: np.ndarray) -> None:
        maps = _as_maps(activation).astype(np.float32, copy=False)
        c, h, w = maps.shape
        self._maps = maps
        self._stats = _channel_stats(maps)
        data, levels = _scaled(maps, self._per_channel, self._stats)
        rows, cols = grid_shape(c, h, w, aspect=1.5)
        self._mosaic, layout = build_mosaic(data, cols)
        self.map_image.setImage(self._mosaic, autoLevels=False)
        self.colour_bar.setLevels(levels)
        self.colour_bar.setLabel("right", "each channel: min → max" if self._per_channel else "activation value")
        if layout != self._layout:
            self._layout = layout
            self.map_view.autoRange(padding=0.02)
            self.tile_frame.setVisible(False)
            self.tile_labels.show(layout)
        self.pages.setCurrentIndex(0)
        index = self._selected
        self.title.setText(f"Feature maps of layer {self._layer_title(index)} for the probe image")
        order = "left to right, top to bottom, from channel 0" if c > 1 else "a single channel"
        scale = ("each tile coloured from its own minimum (dark) to maximum (yellow)" if self._per_channel
                 else "one colour scale for the whole layer (see the bar)")
        self.explanation.setText(f"{plural(c, 'channel')} of {h}×{w} ({order}); {scale}. "
                                 "Hover over a tile for its values; click a unit to trace it to the input.")
        self.scale_combo.setVisible(True)

    def _render_bars(self, activation: np.ndarray) -> None:
        values = np.asarray(activation, dtype=np.float64).ravel()
        n = values.size
        index = self._selected
        layer_type = self._types[index] if 0 <= index < len(self._types) else None
        is_softmax = layer_type == "Softmax" or _looks_like_probabilities(values)
        names = matching_names(self._class_names, n)
        if is_softmax:
            values = values * 100.0
        self._maps = None
        self._layout = MosaicLayout()
        x = np.arange(n, dtype=float)
        few = n <= MAX_BARS
        self.bars.setVisible(few)
        self.bar_curve.setVisible(not few)
        if few:
            brushes = [pg.mkBrush(BAR_COLOUR)] * n
            if n and (is_softmax or names):
                brushes[int(np.argmax(values))] = pg.mkBrush(HIGHLIGHT_COLOUR)
            self.bars.setOpts(x=x, height=values, width=0.8, brushes=brushes)
            self.bar_curve.setData([], [])
        else:
            self.bars.setOpts(x=[], height=[], brushes=[])
            self.bar_curve.setData(np.arange(n + 1) - 0.5, values)
        labelled = n <= MAX_BAR_LABELS
        for i, text in enumerate(self.bar_texts):
            text.setVisible(labelled and i < n)
            if labelled and i < n:
                v = values[i]
                text.setText(f"{v:.1f}%" if is_softmax else fmt_value(v))
                text.setAnchor((0.5, 1.0) if v >= 0 else (0.5, 0.0))
                text.setPos(i, v)
        axis = self.bar_plot.getAxis("bottom")
        self._bar_names = names if names and n <= 40 else []
        if self._bar_names:
            set_category_ticks(axis, names)
            self.bar_plot.setLabel("bottom", "class")
        else:
            axis.setTicks(None)
            self.bar_plot.setLabel("bottom", "unit (output index)")
        self.bar_plot.setLabel("left", "probability (%)" if is_softmax else "activation value")
        if is_softmax:
            self.bar_plot.setYRange(0, 108, padding=0)
        else:
            lo, hi = (float(values.min()), float(values.max())) if n else (0.0, 1.0)
            lo, hi = min(lo, 0.0), max(hi, 0.0)
            pad = 0.12 * (hi - lo or 1.0)
            self.bar_plot.setYRange(lo - (pad if lo < 0 else 0), hi + pad, padding=0)
        self.bar_plot.setXRange(-0.6, n - 0.4, padding=0)
        self.pages.setCurrentIndex(1)
        self.title.setText(f"Output of layer {self._layer_title(index)} for the probe image")
        if is_softmax:
            best = int(np.argmax(values)) if n else 0
            what = names[best] if names else f"class {best}"
            self.explanation.setText(f"{n} class probabilities (they add up to 100%); the network's answer: "
                                     f"{what} ({values[best]:.1f}%).")
        else:
            self.explanation.setText(f"A flat vector of {n} values (one bar each), no longer an image. "
                                     "Hover over a bar for its value.")
        self.scale_combo.setVisible(False)
        self.hover_label.setText("")

    def prepare_overview(self, output_shapes: Sequence[Sequence[int]]) -> None:
        """Make the overview's rows for layers of these output shapes ahead of time (while the
        window is idle), so that the first activations of a training run only fill them in."""
        kinds = ("input",) + tuple("flat" if len(shape) == 1 else "maps" for shape in output_shapes)
        if kinds != self._row_kinds or not self.overview_complete():
            self._ensure_rows(kinds)

    def _ensure_rows(self, kinds: tuple[str, ...] | None = None) -> None:
        """One overview row per layer kind; made ROW_BUILD_BUDGET seconds' worth at a time, the
        rest on the next event-loop turns (drawn as they come)."""
        if kinds is None:
            kinds = ("input",) + tuple("flat" if _as_maps(a) is None else "maps" for a in self._activations)
        if kinds != self._row_kinds:
            self.overview_graphics.clear()
            self._rows = []
            self._row_kinds = kinds
            self.overview_graphics.setMinimumHeight(ROW_HEIGHT * len(kinds))
        deadline = time.perf_counter() + ROW_BUILD_BUDGET
        while len(self._rows) < len(kinds):
            index = len(self._rows)
            self._rows.append(_OverviewRow(self.overview_graphics.ci, index, kinds[index] == "flat"))
            if time.perf_counter() >= deadline:
                break
        if len(self._rows) < len(kinds):
            self._more_rows.start()

    def _continue_overview(self) -> None:
        if self._selected == OVERVIEW and self._activations and not self.stack.showing_hint:
            self._render_overview()
        else:
            self._ensure_rows(self._row_kinds)  # prepared ahead: go on making them

    def overview_complete(self) -> bool:
        """Whether every row of the overview has been made (they are made a few at a time)."""
        return bool(self._rows) and len(self._rows) == len(self._row_kinds)

    def _render_overview(self) -> None:
        self._ensure_rows()
        self._maps = None
        self._layout = MosaicLayout()
        picture = display_image(self._input)
        top = self._rows[0]
        top.layout = MosaicLayout(1, picture.shape[0], picture.shape[1], 1, 1, 1)
        top.show_picture(picture, None if picture.ndim == 3 else lookup_table(GREYS))
        top.set_label(f"input · {fmt_shape(self._input.shape)}")
        viridis = lookup_table(VIRIDIS)
        for index, (row, activation) in enumerate(zip(self._rows[1:], self._activations)):
            maps = _as_maps(activation)
            label = self._labels[index] if index < len(self._labels) else str(index)
            if maps is None:
                values = np.asarray(activation, dtype=np.float64).ravel()
                row.show_values(values, matching_names(self._class_names, values.size))
                kind = "one bar per class" if row.names else f"{values.size} values as bars"
                row.set_label(_two_line_label(label, kind))
                continue
            shown = maps[:OVERVIEW_CHANNELS].astype(np.float32, copy=False)
            data, _ = _scaled(shown, True, _channel_stats(shown))
            c = len(shown)
            picture, row.layout = build_mosaic(data, c)
            row.show_picture(picture, viridis)
            more = f"channels 0–{c - 1} of {len(maps)}" if len(maps) > c else f"all {plural(c, 'channel')}"
            row.set_label(_two_line_label(label, more))
        self.pages.setCurrentIndex(2)
        self.title.setText("Feature maps of every layer for the probe image")
        self.explanation.setText(f"Top: the input. Below: each layer's first {OVERVIEW_CHANNELS} channels "
                                 "(each on its own colour scale) or its values as bars. Deeper layers are "
                                 "smaller and more abstract. Click a layer's name (or double-click its row) "
                                 "to see the whole layer.")
        self.scale_combo.setVisible(False)

    def _show_probe(self, caption: str | None) -> None:
        self._probe_caption_text = caption
        pixels = np.rint(display_image(self._input) * 255.0).astype(np.uint8)
        window = self._probe_window
        if window is not None and window.shape[1:] != pixels.shape[:2]:
            window = None  # a field of another design than the image's
        self.probe_picture.setPixmap(probe_pixmap(pixels, window, self._probe_side))
        shape = fmt_shape(self._input.shape)
        self.probe_caption.setText(f"{caption} · {shape}" if caption else shape)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        side = PROBE_SIDE if self.height() >= SHORT_VIEW else PROBE_SIDE_SHORT
        if side != self._probe_side:
            self._probe_side = side
            self.probe_picture.setFixedSize(side + 4, side + 4)
            if self._input is not None:
                self._show_probe(self._probe_caption_text)

    # ---- interaction ----------------------------------------------------------------------
    def _on_row_changed(self, row: int) -> None:
        self._selected = row - 1 if row >= 1 else OVERVIEW
        self.tile_frame.setVisible(False)
        self.hover_label.setText("")
        self._render()
        self.layerChanged.emit(self._selected)

    def _on_map_mouse(self, pos) -> None:
        if self._maps is None or not self.map_view.sceneBoundingRect().contains(pos):
            return
        point = self.map_view.mapSceneToView(pos)
        self.hover_text_at(point.x(), point.y())
        if _tracing():
            self._select_at_map_point(point.x(), point.y())

    def _on_map_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._maps is None:
            return
        pos = event.scenePos()
        if self.map_view.sceneBoundingRect().contains(pos):
            point = self.map_view.mapSceneToView(pos)
            self._select_at_map_point(point.x(), point.y())

    def _select_at_map_point(self, x: float, y: float) -> None:
        hit = self._layout.tile_at(x, y)
        if hit is not None:
            _, row, col = hit
            if self._field is None or self._field.unit != (row, col) or self._field.layer != self._selected:
                self.select_unit(self._selected, row, col)

    def _on_bar_click(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._selected >= 0 and self._activations:
            self.select_unit(self._selected)

    def _on_bar_mouse(self, pos) -> None:
        if not self.bar_plot.vb.sceneBoundingRect().contains(pos) or not self._activations:
            return
        values = np.asarray(self._activations[self._selected]).ravel() if self._selected >= 0 else None
        if values is None:
            return
        i = int(round(self.bar_plot.vb.mapSceneToView(pos).x()))
        if 0 <= i < values.size:
            names = matching_names(self._class_names, values.size)
            name = f"{names[i]} (unit {i})" if names else f"unit {i}"
            self.hover_label.setText(f"{name}: {fmt_value(values[i])}")

    def _overview_row_at(self, pos) -> int | None:
        for index, row in enumerate(self._rows):
            if row.view.sceneBoundingRect().contains(pos) or row.label.sceneBoundingRect().contains(pos):
                return index
        return None

    def _on_overview_mouse(self, pos) -> None:
        index = self._overview_row_at(pos)
        if index is None:
            return
        row = self._rows[index]
        if _tracing() and index > 0:
            self._select_in_overview(index, pos)
        if index == 0:
            self.hover_label.setText("The input image the network sees (normalised values are stretched to show).")
            return
        label = self._labels[index - 1] if index - 1 < len(self._labels) else str(index - 1)
        if row.flat or not row.view.sceneBoundingRect().contains(pos):
            self.hover_label.setText(f"Layer {label} · click its name to see the whole layer")
            return
        point = row.view.mapSceneToView(pos)
        hit = row.layout.tile_at(point.x(), point.y())
        if hit is None:
            self.hover_label.setText(f"Layer {label} · click its name to see the whole layer")
            return
        maps = _as_maps(self._activations[index - 1])[hit[0]]
        self.hover_label.setText(f"Layer {label} · channel {hit[0]} · unit ({hit[1]}, {hit[2]}): "
                                 f"{fmt_value(maps[hit[1], hit[2]])} · min {fmt_value(maps.min())} · "
                                 f"max {fmt_value(maps.max())} · click to trace the unit to the input")

    def _on_overview_click(self, event) -> None:
        pos = event.scenePos()
        index = self._overview_row_at(pos)
        if index is None or index == 0 or event.button() != Qt.MouseButton.LeftButton:
            return
        row = self._rows[index]
        on_name = row.label.sceneBoundingRect().contains(pos) and not row.view.sceneBoundingRect().contains(pos)
        if event.double() or on_name:
            self.set_selected_layer(index - 1)
        else:
            self._select_in_overview(index, pos)

    def _select_in_overview(self, index: int, pos) -> None:
        """A unit of row ``index`` (a tile's pixel, or any bar of a flat layer) becomes the traced unit."""
        row = self._rows[index]
        if row.flat:
            if self._field is None or self._field.layer != index - 1:
                self.select_unit(index - 1)
            return
        if not row.view.sceneBoundingRect().contains(pos):
            return
        point = row.view.mapSceneToView(pos)
        hit = row.layout.tile_at(point.x(), point.y())
        if hit is not None:
            _, r, c = hit
            if self._field is None or self._field.layer != index - 1 or self._field.unit != (r, c):
                self.select_unit(index - 1, r, c)


def _tracing() -> bool:
    """Hovering with Shift held traces the unit under the mouse, as a click does."""
    return bool(QApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier)
