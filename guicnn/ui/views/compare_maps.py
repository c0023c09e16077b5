"""A/B feature maps: the same image through two models, one chosen layer of each, side by side."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QGridLayout, QWidget

from guicnn.ui.views.common import (
    REFERENCE_COLOUR,
    TRAIN_COLOUR,
    VIRIDIS,
    build_mosaic,
    caption_label,
    grid_shape,
    scale_per_tile,
)

SIDES = ("A", "B")


class _Side:
    """One model's column: title, layer chooser and a channel mosaic."""

    def __init__(self, grid: QGridLayout, column: int, colour: str, on_layer) -> None:
        self.title = caption_label("", bold=True)
        self.title.setStyleSheet(f"font-weight: bold; color: {colour};")
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(14)
        self.combo.currentIndexChanged.connect(on_layer)
        self.graphics = pg.GraphicsLayoutWidget()
        self.view = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.image = pg.ImageItem()
        self.image.setLookupTable(VIRIDIS.getLookupTable(nPts=256))
        self.view.addItem(self.image)
        self.note = caption_label("", muted=True)
        grid.addWidget(self.title, 0, column)
        grid.addWidget(self.combo, 1, column)
        grid.addWidget(self.graphics, 2, column)
        grid.addWidget(self.note, 3, column)
        self.activations: list[np.ndarray] = []
        self.mosaic: np.ndarray | None = None

    def set_layers(self, labels: Sequence[str]) -> None:
        current = self.combo.currentIndex()
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItems(list(labels))
        self.combo.setCurrentIndex(current if 0 <= current < len(labels) else 0)
        self.combo.blockSignals(False)

    def render(self) -> None:
        index = self.combo.currentIndex()
        if not (0 <= index < len(self.activations)):
            self.image.clear()
            self.mosaic = None
            self.note.setText("")
            return
        values = np.asarray(self.activations[index], dtype=np.float32)
        if values.ndim != 3:  # a flat output as one strip of values
            values = values.reshape(1, 1, -1)
        tiles = scale_per_tile(values)
        cols = grid_shape(len(tiles), *tiles.shape[1:], aspect=1.3)[1]
        self.mosaic, _ = build_mosaic(tiles, cols)
        self.image.setImage(self.mosaic, autoLevels=False, levels=(0.0, 1.0))
        self.view.autoRange(padding=0.02)
        low, high = float(np.min(values)), float(np.max(values))
        self.note.setText(f"{values.shape[0]} channel{'s' if values.shape[0] != 1 else ''} · values {low:.3g} … "
                          f"{high:.3g} (each tile on its own scale)")


class FeatureMapsPair(QWidget):
    """The feature maps of one image in model A (pinned) and model B (current), a layer of each.

    * ``set_models(labels_a, labels_b, title_a, title_b)``: the layer labels of each model;
    * ``set_activations(activations_a, activations_b)``: every layer's output (no batch dimension);
    * ``select(side, index)`` chooses a layer; by default each side shows its first spatial layer.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 0, 6, 6)
        self.heading = caption_label("Feature maps of this image in A and in B", bold=True)
        grid.addWidget(self.heading, 0, 0, 1, 2)
        inner = QGridLayout()
        grid.addLayout(inner, 1, 0, 1, 2)
        self.sides = {name: _Side(inner, column, colour, lambda _i, n=name: self.sides[n].render())
                      for column, (name, colour) in enumerate(zip(SIDES, (REFERENCE_COLOUR, TRAIN_COLOUR)))}
        inner.setRowStretch(2, 1)
        self._fresh = {name: True for name in SIDES}

    def set_models(self, labels_a: Sequence[str], labels_b: Sequence[str], title_a: str = "A", title_b: str = "B") -> None:
        for name, labels, title in (("A", labels_a, title_a), ("B", labels_b, title_b)):
            side = self.sides[name]
            if [side.combo.itemText(i) for i in range(side.combo.count())] != list(labels):
                side.set_layers(labels)
                self._fresh[name] = True
            side.title.setText(title)

    def set_activations(self, activations_a: Sequence[np.ndarray] | None,
                        activations_b: Sequence[np.ndarray] | None) -> None:
        for name, activations in (("A", activations_a), ("B", activations_b)):
            side = self.sides[name]
            side.activations = [np.asarray(a) for a in activations or []]
            if self._fresh[name] and side.activations:  # first spatial layer: what a first look wants
                spatial = [i for i, a in enumerate(side.activations) if a.ndim == 3]
                side.combo.blockSignals(True)
                side.combo.setCurrentIndex(spatial[0] if spatial else 0)
                side.combo.blockSignals(False)
                self._fresh[name] = False
            side.render()

    def select(self, side: str, index: int) -> None:
        self.sides[side].combo.setCurrentIndex(index)

    def mosaic(self, side: str) -> np.ndarray | None:
        return self.sides[side].mosaic


__all__ = ["FeatureMapsPair"]
