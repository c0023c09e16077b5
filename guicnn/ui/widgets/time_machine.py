"""The epoch time machine's slider: one position per kept epoch snapshot, "live" at the right end."""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

LIVE = -1
REPLAY_COLOUR = "#b35c00"
IDLE_TEXT = "no epochs yet: a snapshot is kept after each one"


class TimeMachineBar(QWidget):
    """A slider over the kept epochs (``set_epochs``) with "live" (the current model) at the right end.

    ``positionChanged(int)`` gives the snapshot index, or ``LIVE`` (-1). ``set_position`` moves it
    without emitting, so several bars can be kept in step.
    """

    positionChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._epochs: list[int] = []
        self._notes: list[str] = []
        self._live_text = "live"
        self.title = QLabel("◷ Epoch")
        self.title.setToolTip("Replay the training: the views show the network as it was after that epoch.")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setToolTip("Drag to an epoch to see the filters, feature maps and confusion matrix as they "
                               "were then; the right end is the live model.")
        self.slider.valueChanged.connect(self._on_value)
        self.label = QLabel(IDLE_TEXT)
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance("epoch 888 of 888 · validation 88.8%"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(self.title)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self._sync()

    # ---- API -------------------------------------------------------------------------------
    def set_epochs(self, epochs: Sequence[int], notes: Sequence[str] | None = None, live_text: str = "live") -> None:
        """The kept epochs (1-based, increasing), a short note per epoch, and the text at the live end.
        Keeps the position on the same epoch (or live)."""
        current = self.position()
        epoch = None if current == LIVE else self._epochs[current]
        self._epochs = [int(e) for e in epochs]
        self._notes = list(notes) if notes is not None else [""] * len(self._epochs)
        self._live_text = live_text
        index = LIVE
        if epoch is not None:
            earlier = [i for i, e in enumerate(self._epochs) if e <= epoch]
            index = earlier[-1] if earlier else (0 if self._epochs else LIVE)
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self._epochs))
        self.slider.setValue(len(self._epochs) if index == LIVE else index)
        self.slider.blockSignals(False)
        self._sync()

    def position(self) -> int:
        value = self.slider.value()
        return LIVE if value >= len(self._epochs) else value

    def set_position(self, index: int) -> None:
        """Move to snapshot ``index`` (or LIVE) without emitting ``positionChanged``."""
        self.slider.blockSignals(True)
        self.slider.setValue(len(self._epochs) if index == LIVE else max(0, min(index, len(self._epochs))))
        self.slider.blockSignals(False)
        self._sync()

    def text(self) -> str:
        return self.label.text()

    # ---- internals -------------------------------------------------------------------------
    def _on_value(self, _value: int) -> None:
        self._sync()
        self.positionChanged.emit(self.position())

    def _sync(self) -> None:
        self.slider.setEnabled(bool(self._epochs))
        if not self._epochs:
            self.label.setText(IDLE_TEXT)
            return
        index = self.position()
        # Replaying stands out (the views above show the past), live looks like the rest of the window.
        self.label.setStyleSheet("" if index == LIVE else f"color: {REPLAY_COLOUR}; font-weight: bold;")
        if index == LIVE:
            self.label.setText(self._live_text)
            return
        note = self._notes[index] if index < len(self._notes) else ""
        self.label.setText(f"epoch {self._epochs[index]} of {self._epochs[-1]}" + (f" · {note}" if note else ""))
