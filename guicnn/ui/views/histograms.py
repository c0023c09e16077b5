"""Weight and gradient histograms per layer, and the share of dead units in every ReLU-family layer
(the core's layer-health figures, computed by the trainer after every epoch)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from guicnn.core.health import DEAD_LIMITS, LayerHealth
from guicnn.core.layers.common import fmt_shape
from guicnn.ui.style import ERROR, HEALTH_COLOURS
from guicnn.ui.views.common import (
    BAR_COLOUR,
    TRAIN_COLOUR,
    VAL_COLOUR,
    HintStack,
    caption_label,
    fmt_percent,
    fmt_value,
    set_category_ticks,
    set_plot_title,
    style_plot,
)
from guicnn.ui.widgets.image_export import add_image_menu

EMPTY_HINT = "No weights yet.\n\nBuild, train or load a model to see how its weights and gradients are distributed."
NO_PARAMS_HINT = "This design has no layer with weights (add a Conv2D or Dense layer)."
BINS = 60
MAX_SAMPLES = 100_000  # histograms of bigger arrays use a fixed random subset of this size
MAX_DEAD_LABELS = 40


class _Sampler:
    """A fixed random subset of indices per array size, so successive histograms compare the same values."""

    def __init__(self, limit: int = MAX_SAMPLES, seed: int = 0) -> None:
        self.limit = limit
        self._rng = np.random.default_rng(seed)
        self._indices: dict[int, np.ndarray] = {}

    def sample(self, values: np.ndarray) -> tuple[np.ndarray, int]:
        """(at most ``limit`` finite values, count of non-finite values among those)."""
        flat = np.asarray(values).ravel()
        if flat.size > self.limit:
            index = self._indices.get(flat.size)
            if index is None:
                index = np.sort(self._rng.choice(flat.size, self.limit, replace=False))
                self._indices[flat.size] = index
            flat = flat[index]
        finite = np.isfinite(flat)
        bad = int(flat.size - np.count_nonzero(finite))
        return (flat[finite] if bad else flat), bad


class _HistogramPlot:
    """One histogram drawn as a filled step curve (one path, cheap for any bin count)."""

    def __init__(self, plot: pg.PlotItem, colour: str, x_label: str) -> None:
        self.plot = plot
        style_plot(plot, "", x_label, "count")
        plot.setMouseEnabled(False, False)
        fill = pg.mkColor(colour)
        fill.setAlpha(150)
        self.curve = plot.plot(stepMode="center", fillLevel=0, pen=pg.mkPen(colour, width=1), brush=fill)
        self.zero = pg.InfiniteLine(0, angle=90, pen=pg.mkPen("#66707a", width=1, style=Qt.PenStyle.DotLine))
        plot.addItem(self.zero, ignoreBounds=True)
        self.note = pg.TextItem("", color="#66707a", anchor=(0.5, 0.5))
        plot.addItem(self.note, ignoreBounds=True)
        self.counts = np.zeros(0)
        self.edges = np.zeros(1)
        self.sampled = 0
        self.total = 0

    def show(self, values: np.ndarray | None, sampler: _Sampler, title: str, empty_note: str) -> None:
        if values is None or np.asarray(values).size == 0:
            self.counts, self.edges, self.sampled, self.total = np.zeros(0), np.zeros(1), 0, 0
            self.curve.setData([], [])
            self.note.setText(empty_note)
            self.note.setPos(0, 0.5)
            self.plot.setXRange(-1, 1)
            self.plot.setYRange(0, 1)
            set_plot_title(self.plot, title)
            return
        sample, bad = sampler.sample(values)
        self.total = int(np.asarray(values).size)
        self.sampled = int(sample.size)
        if sample.size:
            lo, hi = float(sample.min()), float(sample.max())
            if hi <= lo:
                lo, hi = lo - 0.5, hi + 0.5
            bins = int(np.clip(2.0 * np.sqrt(sample.size), 10, BINS))  # small arrays: fewer, fuller bins
            self.counts, self.edges = np.histogram(sample, bins=bins, range=(lo, hi))
        else:
            self.counts, self.edges = np.zeros(BINS, np.int64), np.linspace(-1, 1, BINS + 1)
        self.curve.setData(self.edges, self.counts)
        self.note.setText("")
        self.plot.enableAutoRange()
        stats = (f"{self.total:,} values" if self.sampled + bad == self.total
                 else f"{self.sampled:,} sampled of {self.total:,} values")
        if sample.size:
            stats += f" · mean {fmt_value(sample.mean())} · std {fmt_value(sample.std())}"
        if bad:
            stats += f" · <span style='color:{ERROR}'>{bad:,} not finite (NaN/inf)</span>"
        set_plot_title(self.plot, f"{title}<br><span style='font-size:9pt;color:#66707a'>{stats}</span>")


class HistogramsView(QWidget):
    """Distribution of a layer's weights and gradients, and dead ReLU units per layer.

    * ``set_model(model)``: list the layers with parameters and show the selected one.
    * ``update_from_model(model)``: redraw from the model's current ``params`` and ``grads``
      (last batch). While training, pass a copy made in the worker, not the live model.
    * ``set_health(health)``: the dead-unit chart from the core's layer health
      (``EpochReport.health``: the ReLU-family layers' dead shares on the probe batch).
    * ``set_selected(layer_index, parameter="weight")``, ``set_log_counts(bool)``.

    Histograms use at most 100,000 values per array (a fixed random subset), up to 60 bins.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model: Any = None
        self._entries: list[tuple[int, str]] = []  # (layer index, parameter name) per combo row
        self._sampler = _Sampler()
        self._grad_sampler = _Sampler(seed=1)
        self._dead: dict[int, float] = {}
        self._dead_batch = 0
        self._dead_labels: list[str] = []
        self._dead_status: list[str] = []
        self._dead_relus: list[int] | None = None  # None until the first health figures arrive
        self._build_ui()

    def _build_ui(self) -> None:
        self.layer_combo = QComboBox()
        self.layer_combo.setMinimumContentsLength(16)
        self.layer_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.layer_combo.currentIndexChanged.connect(lambda _: self._render_histograms())
        self.log_counts = QCheckBox("Log-scale counts")
        self.log_counts.setToolTip("Show counts on a logarithmic axis: rare large values become visible.")
        self.log_counts.toggled.connect(self.set_log_counts)
        header = QHBoxLayout()
        header.addWidget(QLabel("Layer and parameter"))
        header.addWidget(self.layer_combo, 1)
        header.addSpacing(12)
        header.addWidget(self.log_counts)
        self.explanation = caption_label(
            "Left: the values of the chosen parameter. Right: their gradients from the last training batch "
            "(how strongly the loss pushes each value). Gradients that collapse to 0 mean the layer stopped "
            "learning; very wide ones, unstable training. Below: ReLU units that are never positive are dead: "
            "they pass no gradient and stop learning.", muted=True)

        self.graphics = pg.GraphicsLayoutWidget()
        add_image_menu(self.graphics, "weight-histograms")  # right-click: save as PNG/SVG, copy
        self.weights = _HistogramPlot(self.graphics.addPlot(row=0, col=0), TRAIN_COLOUR, "weight value")
        self.gradients = _HistogramPlot(self.graphics.addPlot(row=0, col=1), VAL_COLOUR, "gradient value")
        self.dead_plot = self.graphics.addPlot(row=1, col=0, colspan=2)
        style_plot(self.dead_plot, "", "ReLU-family layer", "dead units (%)")
        self.dead_plot.setMouseEnabled(False, False)
        self.dead_plot.setYRange(0, 105, padding=0)
        self.dead_bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush=BAR_COLOUR, pen=pg.mkPen(None))
        self.dead_plot.addItem(self.dead_bars)
        self.dead_texts = [pg.TextItem("", color="#333a40", anchor=(0.5, 1.0)) for _ in range(MAX_DEAD_LABELS)]
        for text in self.dead_texts:
            self.dead_plot.addItem(text, ignoreBounds=True)
        self.dead_note = pg.TextItem("", color="#66707a", anchor=(0.5, 0.5))
        self.dead_plot.addItem(self.dead_note, ignoreBounds=True)
        self.graphics.ci.layout.setRowStretchFactor(0, 3)
        self.graphics.ci.layout.setRowStretchFactor(1, 2)

        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(header)
        column.addWidget(self.explanation)
        column.addWidget(self.graphics, 1)
        self.stack = HintStack.fill(self, content, EMPTY_HINT)
        self._render_dead()

    # ---- public API -----------------------------------------------------------------------
    def set_model(self, model: Any) -> None:
        """List ``model``'s parameters in the chooser (kept if it still exists) and draw them."""
        self.update_from_model(model)

    def update_from_model(self, model: Any) -> None:
        """Redraw the histograms from ``model``'s params and grads."""
        self._model = model
        entries = [(i, name) for i, layer in enumerate(model.layers) for name in layer.params]
        if entries != self._entries:
            self._set_entries(model, entries)
        if not entries:
            self.stack.show_hint(NO_PARAMS_HINT)
            return
        self.stack.show_content()
        self._render_histograms()

    def set_health(self, health: Sequence[LayerHealth]) -> None:
        """The dead-unit chart from the core's layer health (an empty sequence: not known yet)."""
        dead = [entry for entry in health if entry.dead_share is not None]
        self._dead = {entry.index: entry.dead_share for entry in dead}
        self._dead_relus = [entry.index for entry in dead] if health else None
        self._dead_labels = [f"{entry.index} · {entry.type_name}" for entry in dead]
        self._dead_status = [entry.status for entry in dead]
        self._dead_batch = dead[0].probes if dead else 0
        self._render_dead()

    def set_selected(self, layer_index: int, parameter: str = "weight") -> None:
        if (layer_index, parameter) in self._entries:
            self.layer_combo.setCurrentIndex(self._entries.index((layer_index, parameter)))

    def set_log_counts(self, on: bool) -> None:
        if self.log_counts.isChecked() != on:
            self.log_counts.setChecked(on)
            return
        for hist in (self.weights, self.gradients):
            hist.plot.setLogMode(x=False, y=on)
            hist.plot.setLabel("left", "count (log scale)" if on else "count")

    def clear(self) -> None:
        self._model = None
        self._entries = []
        self.layer_combo.clear()
        self.set_health(())
        self.stack.show_hint(EMPTY_HINT)

    # ---- what is shown (used by tests) ----------------------------------------------------
    def histogram(self, kind: str = "weight") -> tuple[np.ndarray, np.ndarray, int]:
        """(counts, bin edges, number of values counted) of the "weight" or "gradient" histogram."""
        hist = self.weights if kind == "weight" else self.gradients
        return hist.counts, hist.edges, hist.sampled

    def dead_fractions(self) -> dict[int, float]:
        """Layer index -> fraction (0..1) of dead units of the ReLU-family layers (last health figures)."""
        return dict(self._dead)

    # ---- rendering ------------------------------------------------------------------------
    def _set_entries(self, model: Any, entries: list[tuple[int, str]]) -> None:
        row = self.layer_combo.currentIndex()
        current = self._entries[row] if 0 <= row < len(self._entries) else None
        self._entries = entries
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for index, name in entries:
            layer = model.layers[index]
            shape = fmt_shape(layer.params[name].shape)
            self.layer_combo.addItem(f"{index} · {layer.describe()} · {name} ({shape})")
        self.layer_combo.setCurrentIndex(entries.index(current) if current in entries else 0)
        self.layer_combo.blockSignals(False)

    def _render_histograms(self) -> None:
        row = self.layer_combo.currentIndex()
        if self._model is None or not 0 <= row < len(self._entries):
            return
        index, name = self._entries[row]
        layer = self._model.layers[index]
        # Short titles (the chooser names the layer): a long one set the plot's minimum width and
        # pushed the gradient plot out of a narrow window.
        self.weights.show(layer.params.get(name), self._sampler, f"{name.capitalize()} values · layer {index}", "")
        grad = layer.grads.get(name)
        if grad is not None and not np.any(grad):
            grad = None  # all zero: no backward pass yet
        self.gradients.show(grad, self._grad_sampler, "Gradients (last batch)",
                            "No gradients yet:\nthey appear after the first training step.")

    def _render_dead(self) -> None:
        relus = self._dead_relus or []
        fractions = [self._dead.get(i, np.nan) for i in relus]
        n = len(fractions)
        x = np.arange(n, dtype=float)
        heights = 100.0 * np.nan_to_num(np.asarray(fractions, dtype=float))
        brushes = [pg.mkBrush(HEALTH_COLOURS[status] if status != "green" else BAR_COLOUR)
                   for status in self._dead_status]
        self.dead_bars.setOpts(x=x, height=heights, width=0.6, brushes=brushes)
        for i, text in enumerate(self.dead_texts):
            text.setVisible(i < n)
            if i < n:
                text.setText(fmt_percent(fractions[i]))
                text.setPos(i, heights[i])
        if self._dead_relus is None:
            note = "Dead ReLU units are counted on a batch of probe images after each epoch of training."
        elif not relus:
            note = "This design has no ReLU-family layer."
        else:
            note = ""
        self.dead_note.setText(note)
        self.dead_note.setPos(max(n - 1, 0) / 2, 52)
        set_category_ticks(self.dead_plot.getAxis("bottom"), self._dead_labels)
        self.dead_plot.setXRange(-0.7, max(n, 1) - 0.3, padding=0)
        probes = self._dead_batch
        batch = f" on {probes} probe images" if probes > 1 else " on the probe image" if probes == 1 else ""
        set_plot_title(
            self.dead_plot,
            f"Dead units per ReLU layer: share never positive{batch}"
            f"<br><span style='font-size:9pt;color:#66707a'>amber from {DEAD_LIMITS[0]:.0%}, red from "
            f"{DEAD_LIMITS[1]:.0%}, as on the cards</span>")
