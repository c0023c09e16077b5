"""Training panel: optimizer and schedule settings, Start/Pause/Stop, progress with ETA, a log."""

from __future__ import annotations

import html
import math
import time
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from guicnn.core.losses import LOSSES
from guicnn.core.optim import DEFAULT_OPTIMIZER, OPTIMIZERS, SCHEDULE_TYPES
from guicnn.core.text import plural
from guicnn.core.training import TrainSettings, best_epoch, format_duration
from guicnn.ui.style import ERROR as ERROR_COLOUR
from guicnn.ui.style import WARNING as WARNING_COLOUR
from guicnn.ui.widgets.problems import ProblemList

# Every choice, default and range below comes from the core's specs (one home, shared with the CLI).
_DEFAULTS = TrainSettings()


def optimizer_default(kind: str, name: str, fallback: Any = 0.0) -> Any:
    """The core's default of one optimizer setting (``fallback`` when it has no such setting)."""
    spec = OPTIMIZERS[kind].field(name)
    return fallback if spec is None else spec.default


def schedule_default(kind: str, name: str) -> Any:
    return SCHEDULE_TYPES[kind].field(name).default


class LearningRateBox(QDoubleSpinBox):
    """A learning-rate spin box that steps by factors of ten's halves (1e-3 → 2e-3 → 5e-3 …)."""

    def __init__(self) -> None:
        super().__init__()
        self.setDecimals(6)
        self.setRange(1e-6, 10.0)
        self.setValue(0.001)
        self.setToolTip("Step size of every update. Too high and the loss explodes; too low and nothing moves.")

    def stepBy(self, steps: int) -> None:
        ladder = [m * 10.0**e for e in range(-6, 2) for m in (1, 2, 5)]
        value = self.value()
        index = min(range(len(ladder)), key=lambda i: abs(math.log(ladder[i]) - math.log(max(value, 1e-9))))
        index = max(0, min(len(ladder) - 1, index + steps))
        self.setValue(ladder[index])

    def textFromValue(self, value: float) -> str:
        return f"{value:.6f}".rstrip("0").rstrip(".")


class TrainingPanel(QWidget):
    """Settings and controls for one training run; the controller does the work."""

    startRequested = Signal(bool)  # True: continue the trained weights, False: start from new weights
    pauseRequested = Signal(bool)
    stopRequested = Signal()
    stepRequested = Signal(bool)  # one explained batch; True: continue the trained weights
    pinRequested = Signal()  # pin the trained model as "A" for comparison
    unpinRequested = Signal()
    fixRequested = Signal(object)  # a one-click Fix of a refused start
    testRequested = Signal()  # "Evaluate on the test set"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._state = "idle"
        self._has_progress = False
        self._can_pin = False
        self._pinned: str | None = None
        self._run_total_steps = 0
        self._run_first_step = 0
        self._log_header_due = True
        self._test_missing: str | None = "Train a model first."
        self._testing = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self._build_settings())
        layout.addWidget(self._build_controls())
        self.problems = ProblemList()
        self.problems.fixChosen.connect(self.fixRequested)
        self.problems.hide()
        layout.addWidget(self.problems)
        layout.addWidget(self._build_progress())
        self.test_button = QPushButton("Evaluate on the test set")
        self.test_button.clicked.connect(self.testRequested.emit)
        layout.addWidget(self.test_button)
        layout.addWidget(self._build_log(), 1)
        self._apply_state()

    # ---- building ----------------------------------------------------------------------
    def _build_settings(self) -> QGroupBox:
        box = QGroupBox("Settings")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.optimizer = QComboBox()
        for key, cls in OPTIMIZERS.items():
            self.optimizer.addItem(cls.title, key)
            self.optimizer.setItemData(self.optimizer.count() - 1, cls.help, Qt.ItemDataRole.ToolTipRole)
        self.optimizer.setCurrentIndex(self.optimizer.findData(DEFAULT_OPTIMIZER))
        self.optimizer.setToolTip("\n".join(f"{cls.title}: {cls.help}" for cls in OPTIMIZERS.values()))
        self.optimizer.currentIndexChanged.connect(self._optimizer_changed)
        self.lr = LearningRateBox()
        self.lr.setValue(optimizer_default(DEFAULT_OPTIMIZER, "lr"))
        momentum_spec = OPTIMIZERS["sgd"].field("momentum")
        self.momentum = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.99, singleStep=0.05,
                                       value=optimizer_default(DEFAULT_OPTIMIZER, "momentum"))
        self.momentum.setToolTip(momentum_spec.help + " (SGD and RMSprop)")
        self.nesterov = QCheckBox("Nesterov")
        self.nesterov.setToolTip(OPTIMIZERS["sgd"].field("nesterov").help + " (SGD only)")
        momentum_row = QHBoxLayout()
        momentum_row.addWidget(self.momentum, 1)
        momentum_row.addWidget(self.nesterov)
        decay_spec = OPTIMIZERS[DEFAULT_OPTIMIZER].field("weight_decay")
        self.weight_decay = QDoubleSpinBox(decimals=5, minimum=decay_spec.minimum, maximum=decay_spec.maximum,
                                           singleStep=0.0001, value=decay_spec.default)
        self.weight_decay.setToolTip(decay_spec.help)
        self.schedule = QComboBox()
        self.schedule.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.schedule.setMinimumContentsLength(8)
        for key, spec in SCHEDULE_TYPES.items():
            self.schedule.addItem(spec.title, None if key == "constant" else key)
            self.schedule.setItemData(self.schedule.count() - 1, spec.help, Qt.ItemDataRole.ToolTipRole)
        self.schedule.setToolTip("How the learning rate changes from epoch to epoch.")
        self.step_size = QSpinBox(minimum=1, maximum=1000, value=schedule_default("step", "step_size"), prefix="every ")
        self.step_size.setToolTip(SCHEDULE_TYPES["step"].help)
        self.gamma = QDoubleSpinBox(decimals=2, minimum=0.01, maximum=0.99, singleStep=0.05,
                                    value=schedule_default("step", "gamma"), prefix="× ")
        self.gamma.setToolTip(SCHEDULE_TYPES["step"].field("gamma").help)
        schedule_row = QHBoxLayout()
        schedule_row.addWidget(self.schedule, 1)
        schedule_row.addWidget(self.step_size)
        schedule_row.addWidget(self.gamma)
        self.schedule.currentIndexChanged.connect(self._schedule_changed)
        self.loss = QComboBox()
        self.loss.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.loss.setMinimumContentsLength(12)
        for key, cls in LOSSES.items():
            self.loss.addItem(cls.title, key)
            self.loss.setItemData(self.loss.count() - 1, cls.help, Qt.ItemDataRole.ToolTipRole)
        self.loss.setCurrentIndex(self.loss.findData(_DEFAULTS.loss))
        self.batch_size = QSpinBox(minimum=1, maximum=4096, value=_DEFAULTS.batch_size)
        self.batch_size.setToolTip("Images per update. Larger batches give smoother but fewer updates per epoch.")
        self.epochs = QSpinBox(minimum=1, maximum=10000, value=_DEFAULTS.epochs)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=_DEFAULTS.seed)
        self.seed.setToolTip("Same seed, same data order and same starting weights: runs are reproducible.")
        self.shift = QSpinBox(minimum=0, maximum=8, value=0, suffix=" px")
        self.shift.setToolTip("Random shift of each training image by up to this many pixels (augmentation).")
        self.flip = QCheckBox("flip")
        self.flip.setToolTip("Mirror training images left-right at random (augmentation).")
        augment_row = QHBoxLayout()
        augment_row.addWidget(self.shift, 1)
        augment_row.addWidget(self.flip)
        self.normalize = QCheckBox("normalise inputs")
        self.normalize.setToolTip("Subtract each channel's mean and divide by its standard deviation "
                                  "(measured on the training split and saved with the model).")
        self.normalize.setChecked(_DEFAULTS.normalize)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Learning rate", self.lr)
        form.addRow("Momentum", momentum_row)
        form.addRow("Weight decay", self.weight_decay)
        form.addRow("LR schedule", schedule_row)
        form.addRow("Loss", self.loss)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Epochs", self.epochs)
        form.addRow("Seed", self.seed)
        form.addRow("Augment", augment_row)
        form.addRow("", self.normalize)
        self._optimizer_changed()
        self._schedule_changed()
        return box

    def _build_controls(self) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        self.start_button = QPushButton("▶  Train")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self._start_clicked)
        self.mode = QComboBox()
        self.mode.addItem("continue the trained weights", True)
        self.mode.addItem("restart from new weights", False)
        self.mode.setToolTip("Continue where the last run stopped (same optimizer state), or re-initialise.")
        self.pause_button = QPushButton("❚❚  Pause")
        self.pause_button.clicked.connect(self._pause_clicked)
        self.stop_button = QPushButton("■  Stop")
        self.stop_button.clicked.connect(self.stopRequested.emit)
        self.step_button = QPushButton("▶❚  Step")
        self.step_button.setToolTip("Train exactly one batch (forward, loss, backward, update) and show what it "
                                    "changed in the Step tab.\nTraining then stays paused: Step again, or Resume "
                                    "to train on exactly as if it had never paused.")
        self.step_button.clicked.connect(lambda: self.stepRequested.emit(bool(self._has_progress and
                                                                              self.mode.currentData())))
        row.addWidget(self.start_button)
        row.addWidget(self.pause_button)
        row.addWidget(self.step_button)
        row.addWidget(self.stop_button)
        self.pin_button = QPushButton("Pin as A")
        self.pin_button.setToolTip("Keep the trained model as \"A\": change the design or the settings and train "
                                   "\"B\";\nthe curves overlay A and B, and Predict shows both answers side by side.")
        self.pin_button.clicked.connect(self._pin_clicked)
        self.pinned_label = QLabel("")
        self.pinned_label.setWordWrap(True)
        self.pinned_label.setStyleSheet("color: #6b4f9e;")
        pin_row = QHBoxLayout()
        pin_row.addWidget(self.pin_button)
        pin_row.addWidget(self.pinned_label, 1)
        outer = QWidget()
        column = QVBoxLayout(outer)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(box)
        column.addWidget(self.mode)
        column.addLayout(pin_row)
        return outer

    def _build_progress(self) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.status = QLabel("Press Train to start. The design is locked while training runs.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.progress)
        column.addWidget(self.status)
        return box

    def _build_log(self) -> QPlainTextEdit:
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(2000)
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.log_view.setFont(font)
        self.log_view.setPlaceholderText("One line per epoch appears here.")
        return self.log_view

    # ---- settings ----------------------------------------------------------------------
    def _optimizer_changed(self, *_: Any) -> None:
        """A new optimizer: its own default learning rate and momentum, unless the user set them."""
        key = self.optimizer.currentData()
        previous = getattr(self, "_optimizer_shown", None)
        if previous is not None and previous != key:
            if math.isclose(self.lr.value(), optimizer_default(previous, "lr")):
                self.lr.setValue(optimizer_default(key, "lr"))
            if math.isclose(self.momentum.value(), optimizer_default(previous, "momentum")):
                self.momentum.setValue(optimizer_default(key, "momentum"))
        self._optimizer_shown = key
        self._update_optimizer_fields()

    def _update_optimizer_fields(self) -> None:
        key = self.optimizer.currentData()
        cls = OPTIMIZERS[key]
        self.momentum.setEnabled(cls.field("momentum") is not None and self._state == "idle")
        self.nesterov.setEnabled(cls.field("nesterov") is not None and self._state == "idle")

    def _schedule_changed(self, *_: Any) -> None:
        key = self.schedule.currentData()
        self.step_size.setVisible(key == "step")
        self.gamma.setVisible(key == "step")

    def settings(self) -> TrainSettings:
        """The current form as validated TrainSettings (ValueError names a bad value)."""
        kind = self.optimizer.currentData()
        optimizer: dict[str, Any] = {"type": kind, "lr": float(self.lr.value())}
        if self.weight_decay.value():
            optimizer["weight_decay"] = float(self.weight_decay.value())
        cls = OPTIMIZERS[kind]
        if cls.field("momentum") is not None and self.momentum.value():
            optimizer["momentum"] = float(self.momentum.value())
        if cls.field("nesterov") is not None and self.momentum.value():
            optimizer["nesterov"] = bool(self.nesterov.isChecked())
        schedule = None
        if self.schedule.currentData() == "step":
            schedule = {"type": "step", "step_size": int(self.step_size.value()), "gamma": float(self.gamma.value())}
        elif self.schedule.currentData() == "cosine":
            schedule = {"type": "cosine"}
        return TrainSettings(
            optimizer=optimizer, loss=self.loss.currentData(), batch_size=int(self.batch_size.value()),
            epochs=int(self.epochs.value()), seed=int(self.seed.value()), schedule=schedule,
            augment={"shift": int(self.shift.value()), "flip": bool(self.flip.isChecked())},
            normalize=bool(self.normalize.isChecked()),
        ).validate()

    def set_settings(self, settings: TrainSettings) -> None:
        """Show saved settings (e.g. from an opened model file)."""
        opt = settings.optimizer
        kind = opt.get("type", DEFAULT_OPTIMIZER)
        self.optimizer.setCurrentIndex(max(0, self.optimizer.findData(kind)))
        self.lr.setValue(float(opt.get("lr", optimizer_default(kind if kind in OPTIMIZERS else DEFAULT_OPTIMIZER, "lr"))))
        self.momentum.setValue(float(opt.get("momentum", 0.0)))
        self.nesterov.setChecked(bool(opt.get("nesterov", False)))
        self.weight_decay.setValue(float(opt.get("weight_decay", 0.0)))
        schedule = settings.schedule or {}
        self.schedule.setCurrentIndex(max(0, self.schedule.findData(schedule.get("type"))))
        self.step_size.setValue(int(schedule.get("step_size", schedule_default("step", "step_size"))))
        self.gamma.setValue(float(schedule.get("gamma", schedule_default("step", "gamma"))))
        self.loss.setCurrentIndex(max(0, self.loss.findData(settings.loss)))
        self.batch_size.setValue(settings.batch_size)
        self.epochs.setValue(max(1, settings.epochs))
        self.seed.setValue(settings.seed)
        self.shift.setValue(int(settings.augment.get("shift", 0)))
        self.flip.setChecked(bool(settings.augment.get("flip", False)))
        self.normalize.setChecked(settings.normalize)

    # ---- state -------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    def set_state(self, state: str) -> None:
        """'idle', 'running' or 'paused'."""
        self._state = state
        self._apply_state()

    def set_has_progress(self, has_progress: bool) -> None:
        """Whether trained weights exist (offers 'continue' or 'restart')."""
        self._has_progress = has_progress
        self._apply_state()

    def _apply_state(self) -> None:
        idle = self._state == "idle"
        for widget in (self.optimizer, self.lr, self.weight_decay, self.schedule, self.step_size, self.gamma,
                       self.loss, self.batch_size, self.epochs, self.seed, self.shift, self.flip, self.normalize):
            widget.setEnabled(idle)
        self._update_optimizer_fields()
        self.start_button.setEnabled(idle)
        self.start_button.setText("▶  Train more" if self._has_progress else "▶  Train")
        self.mode.setVisible(self._has_progress)
        self.mode.setEnabled(idle)
        self.pause_button.setEnabled(not idle)
        self.pause_button.setText("▶  Resume" if self._state == "paused" else "❚❚  Pause")
        self.stop_button.setEnabled(not idle)
        self.pin_button.setEnabled(idle and (self._can_pin or self._pinned is not None))
        self.pin_button.setText("Unpin A" if self._pinned is not None else "Pin as A")
        self.problems.set_buttons_enabled(idle)
        self.test_button.setEnabled(idle and self._has_progress and self._test_missing is None and not self._testing)
        self.test_button.setText("Evaluating on the test set…" if self._testing else "Evaluate on the test set")
        self.test_button.setToolTip(self._test_missing or "Score the trained model on the data set's own test part "
                                    "(images it never saw) and show that confusion matrix")

    def set_can_pin(self, can_pin: bool) -> None:
        """Whether there is a trained model to pin as A."""
        self._can_pin = can_pin
        self._apply_state()

    def set_pinned(self, summary: str | None) -> None:
        """Show the pinned model A (its one-line summary), or that none is pinned."""
        self._pinned = summary
        self.pinned_label.setText("" if summary is None else f"A: {summary}")
        self.pinned_label.setToolTip("" if summary is None else "The pinned model A, drawn dashed in the curves "
                                                                 "and beside B in Predict.")
        self._apply_state()

    def _pin_clicked(self) -> None:
        if self._pinned is None:
            self.pinRequested.emit()
        else:
            self.unpinRequested.emit()

    def set_test_available(self, missing: str | None) -> None:
        """None when the data set has a test part to score on, else why not (the button's tooltip)."""
        self._test_missing = missing
        self._apply_state()

    def set_testing(self, testing: bool) -> None:
        self._testing = bool(testing)
        self._apply_state()

    def show_problems(self, problems) -> None:
        """Why training cannot start, each with its one-click fixes (an empty list hides them)."""
        self.problems.set_problems(problems)
        if problems:
            self.status.setText("Training was not started: fix the design or the data first.")

    def _start_clicked(self) -> None:
        self.startRequested.emit(bool(self._has_progress and self.mode.currentData()))

    def _pause_clicked(self) -> None:
        self.pauseRequested.emit(self._state != "paused")

    # ---- reports -----------------------------------------------------------------------
    def run_started(self, first_epoch: int, total_epochs: int, batches_per_epoch: int) -> None:
        """Reset the progress bar for a run from ``first_epoch`` (0-based) to ``total_epochs``."""
        self.problems.set_problems([])
        self._run_first_step = first_epoch * batches_per_epoch
        self._run_total_steps = max(1, total_epochs * batches_per_epoch)
        self._run_started = time.monotonic()
        self._run_step0: int | None = None
        self._log_header_due = True
        self.progress.setValue(int(1000 * self._run_first_step / self._run_total_steps))
        self.progress.setFormat("starting…")

    def show_step(self, report: Any) -> None:
        done = (report.epoch - 1) * report.batches_per_epoch + report.batch
        total = report.epochs * report.batches_per_epoch
        self._run_total_steps = max(1, total)
        if getattr(self, "_run_step0", None) is None:
            self._run_step0 = done - 1
            self._run_started = time.monotonic() - 1e-9
        fraction = done / self._run_total_steps
        self.progress.setValue(int(1000 * fraction))
        self.progress.setFormat(f"epoch {report.epoch}/{report.epochs} · {100 * fraction:.0f}%")
        steps_done = done - self._run_step0
        elapsed = time.monotonic() - self._run_started
        remaining = (total - done) * elapsed / steps_done if steps_done > 0 else float("nan")
        self._set_status(
            f"Epoch {report.epoch}/{report.epochs} · batch {report.batch}/{report.batches_per_epoch} · "
            f"loss {report.running_loss:.4f} · accuracy {100 * report.running_accuracy:.1f}% · "
            f"{report.samples_per_sec:,.0f} samples/s · ETA {format_duration(remaining)}"
        )

    def show_epoch(self, report: Any) -> None:
        """One compact log line: loss and accuracy as training/validation."""
        self._log_epoch(report.epoch, report.epochs, report.train_loss, report.train_accuracy, report.val_loss,
                        report.val_accuracy, report.best_epoch == report.epoch)

    def _log_epoch(self, epoch: int, epochs: int, train_loss: float, train_accuracy: float,
                   val_loss: float | None, val_accuracy: float | None, best: bool) -> None:
        if self._log_header_due:
            self.log("epoch   loss tr/val   acc% tr/val")
            self._log_header_due = False
        has_val = val_loss is not None and math.isfinite(val_loss) and val_accuracy is not None
        loss = f"{train_loss:.3f}/{val_loss:.3f}" if has_val else f"{train_loss:.3f}"
        accuracy = f"{100 * train_accuracy:.1f}/{100 * val_accuracy:.1f}" if has_val else f"{100 * train_accuracy:.1f}"
        self.log(f"{epoch:>3}/{epochs:<4}{loss:<14}{accuracy}{' ★' if best else ''}")

    def show_history(self, history: dict[str, Any] | None) -> None:
        """Start afresh for the document's weights: the epochs they were trained for (an opened
        model's saved history) as the log, or a clean "not trained" state when there are none."""
        self.log_view.clear()
        self._log_header_due = True
        epochs = list((history or {}).get("epoch") or [])
        if not epochs:
            self.progress.setValue(0)
            self.progress.setFormat("not trained yet")
            self._set_status("Press Train to start. The design is locked while training runs.")
            return
        columns = [list(history.get(key) or []) + [None] * len(epochs)
                   for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")]
        best = best_epoch(history)
        for i, epoch in enumerate(epochs):
            train_loss, train_accuracy, val_loss, val_accuracy = (column[i] for column in columns)
            if train_loss is not None and train_accuracy is not None:
                self._log_epoch(int(epoch), int(epochs[-1]), train_loss, train_accuracy, val_loss, val_accuracy,
                                int(epoch) == best)
        self.progress.setValue(1000)
        self.progress.setFormat(f"trained {plural(len(epochs), 'epoch')}")
        self._set_status(f"Trained for {plural(len(epochs), 'epoch')} (best: epoch {best}). "
                         "Train more continues from these weights.")

    def show_weights_dropped(self, reason: str) -> None:
        """An edit made the trained weights unusable: training starts afresh (Undo brings them back)."""
        self.log_view.clear()
        self._log_header_due = True
        self.progress.setValue(0)
        self.progress.setFormat("not trained: weights dropped")
        message = (f"The trained weights were dropped: {reason}. Train starts from new weights; "
                   "Undo (Ctrl+Z) brings the trained ones back.")
        self._set_status(message, WARNING_COLOUR)
        self.log(message)

    def show_end(self, report: Any) -> None:
        if report is None:
            return
        if report.reason == "finished":
            self.progress.setValue(1000)
            self.progress.setFormat("done")
        else:
            self.progress.setFormat(report.reason)
        self._set_status(report.message)
        self.log(report.message)

    def show_error(self, message: str) -> None:
        self._set_status(message, ERROR_COLOUR)
        self.log(f"error: {message}")

    def _set_status(self, text: str, colour: str | None = None) -> None:
        self.status.setText(f"<span style='color:{colour}'>{html.escape(text)}</span>" if colour else html.escape(text))
        self.status.setToolTip(text)

    def status_text(self) -> str:
        """The status line as plain text."""
        return self.status.toolTip() or self.status.text()

    def log(self, text: str) -> None:
        self.log_view.appendPlainText(text)
