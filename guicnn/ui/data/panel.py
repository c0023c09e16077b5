"""The Data panel: choose a data set, split it, look at it, and check it against the design.

Loading and downloading run in a worker thread (``guicnn.ui.worker``); the GUI thread only swaps
the finished Dataset in. The panel owns the train/validation split and the probe image the
feature-map views draw.
"""

from __future__ import annotations

import copy
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QWheelEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from guicnn.core.checks import check_design_data
from guicnn.core.data import (
    BUILTIN_SHAPES,
    DATASETS,
    DEFAULT_SHAPE_CLASSES,
    SHAPE_CLASSES,
    Dataset,
    DataSuggestion,
    dataset_dir,
    is_downloaded,
    is_image_folder,
    load_dataset,
    load_digits,
    make_shapes,
    make_shapes_rgb,
    train_val_split,
    validation_count,
)
from guicnn.core.data.auto import SHAPES_TEST_SIZE
from guicnn.core.data.shapes import MIN_SIZE as MIN_SHAPES_SIZE
from guicnn.core.layers.common import fmt_shape
from guicnn.core.text import plural
from guicnn.ui import style
from guicnn.ui.data.preview import BalanceBars, PreviewGrid
from guicnn.ui.data.worker import DataStats, LoadFn, LoadProgress, LoadResult, SizeChoice, load_job
from guicnn.ui.widgets.problems import ProblemList
from guicnn.ui.worker import Job

#: (key, combo label) of every source, in the order the chooser lists them.
SOURCES: tuple[tuple[str, str], ...] = (
    ("digits", "Digits (built-in, 8×8)"),
    ("shapes", "Shapes (built-in, 28×28)"),
    ("shapes-rgb", "Shapes in colour (built-in, 32×32)"),
    ("mnist", "MNIST"),
    ("fashion-mnist", "Fashion-MNIST"),
    ("cifar10", "CIFAR-10"),
    ("file", "Open file or folder…"),
)
BUILTIN = ("digits", "shapes", "shapes-rgb")
SHAPE_SOURCES = ("shapes", "shapes-rgb")  # drawn by the generator: the shapes page's settings apply
REMOTE = ("mnist", "fashion-mnist", "cifar10")
TITLES = {"digits": "Digits", "shapes": "Shapes", "shapes-rgb": "Shapes in colour", "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST",
          "cifar10": "CIFAR-10"}
FILE_FILTER = (
    "Data files (*.gz *.idx *ubyte* *.csv *.npz *.bin);;IDX images or labels (*.gz *.idx *ubyte*);;"
    "CSV table (*.csv);;NumPy archive (*.npz);;CIFAR-10 batch (*.bin);;All files (*)"
)
PREVIEW_ROWS = 6
PREVIEW_COLUMN_CHOICES = (8, 6)  # 6 when the class names need wider tiles
MAX_LISTED_CLASSES = 12
READ_ONLY_REASON = "Training is running: the data and the split stay as they are until it stops."



def fmt_chw(shape: Sequence[int] | None) -> str:
    """(1, 28, 28) -> '1×28×28', '–' when unknown."""
    return fmt_shape(shape, missing="–")


def _caption(text: str = "", *, muted: bool = True, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if muted:
        label.setStyleSheet(f"color: {style.MUTED};")
    return label


def breakable(text: str, run: int = 16) -> str:
    """Text with zero-width spaces inside long unbroken runs (hashes, file names), so a wrapped
    label can break them instead of growing wider than the dock."""
    return re.sub(rf"[^\s/-]{{{run + 4},}}",
                  lambda m: "\u200b".join(m[0][i : i + run] for i in range(0, len(m[0]), run)), text)


def _set_tone(label: QLabel, tone: str) -> None:
    """Colour a status line: 'error' red, 'ok' green, 'muted' grey, 'plain' the text colour."""
    colour = {"error": style.ERROR, "ok": style.OK, "muted": style.MUTED}.get(tone, style.TEXT)
    label.setStyleSheet(f"color: {colour};")


class WheelSafeComboBox(QComboBox):
    """Ignores the mouse wheel unless focused, so scrolling the panel never switches the data source."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel alone does not focus it

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()  # the scroll area scrolls instead


class WheelSafeSpinBox(QSpinBox):
    """Ignores the mouse wheel unless focused, so scrolling the panel never changes a setting."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class DataOffer(QFrame):
    """Data that fits the design, one click away: the built-in set it trains on now, and the set
    it was made for (downloaded first when it is not here yet)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dataOffer")
        self.setStyleSheet(f"#dataOffer {{ background: {style.SELECTION_FILL}; border: 1px solid {style.BORDER};"
                           " border-radius: 4px; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {style.TEXT}; background: transparent; border: none;")
        self.use_button = QPushButton()
        self.download_button = QPushButton()
        layout.addWidget(self.message)
        for button in (self.use_button, self.download_button):
            button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)


class DataPanel(QWidget):
    """Source, split, info, preview and design check of the data set a network trains on.

    Signals: ``datasetChanged(Dataset)`` after every successful load; ``probeChanged(index)``
    when the probe image changes (also after a load); ``fixRequested(Fix)`` when the user
    presses a one-click fix of the design check (the core's ``check_design_data``, the same
    check that refuses training); ``busyChanged(bool)`` when a load or download starts or ends.

    An image folder is read at its images' own size when they agree; the panel shows that
    size and reads the folder again at another one on request. When the sizes differ it
    lists them and asks which one to use.
    """

    datasetChanged = Signal(object)
    probeChanged = Signal(int)
    fixRequested = Signal(object)
    busyChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None, *, base_url: str | None = None) -> None:
        super().__init__(parent)
        #: Mirror for downloads (file names are appended); None uses each file's own address.
        self.base_url = base_url
        self._dataset: Dataset | None = None
        self._stats: DataStats | None = None
        self._split: tuple[tuple[float, int], tuple[Dataset, Dataset]] | None = None  # (fraction, seed), parts
        self._probe: int | None = None
        self._preview_draw = 0
        self._design_known = False
        self._design: dict[str, Any] | None = None
        self._folder: Path | None = None  # the image folder the data came from (it can be resized)
        self._folder_size: tuple[int, int] | None = None  # the size asked for (None: the images' own)
        self._job_source: tuple = ("file", None, None)  # what the running job loads
        self._loaded_source: str | None = None  # "digits", "shapes", "mnist", ... or "file"
        self._loaded_path: str | None = None
        self._shapes_options: tuple | None = None  # (n, seed, classes, size) of the shapes shown
        self._suggestion: DataSuggestion | None = None
        self._job: Job | None = None
        self._jobs: list[Job] = []
        self._job_title = ""
        self._read_only = False
        self._last_path: str | None = None
        self._status_text = ""
        self._build()
        self._source_changed(self.source.currentIndex(), autoload=False)
        self._refresh_info()

    # ================================================================== building the widgets

    def _build(self) -> None:
        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(6, 6, 6, 6)
        column.setSpacing(8)

        self.read_only_banner = QLabel(READ_ONLY_REASON)
        self.read_only_banner.setWordWrap(True)
        self.read_only_banner.setStyleSheet(
            f"background: {style.WARNING_FILL}; border: 1px solid {style.WARNING_BORDER};"
            f" border-radius: 4px; padding: 4px 6px; color: {style.TEXT};"
        )
        self.read_only_banner.hide()
        column.addWidget(self.read_only_banner)

        column.addWidget(self._build_source())
        column.addWidget(self._build_info())
        column.addWidget(self._build_design_check())
        column.addWidget(self._build_split())
        column.addWidget(self._build_preview())
        column.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        # Wide enough for its rows beside the vertical scroll bar; if a long button still needs
        # more, a horizontal scroll bar appears rather than the panel's right edge being cut.
        self.setMinimumWidth(max(300, content.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()))

    def _build_source(self) -> QGroupBox:
        self.source_box = QGroupBox("Source")
        layout = QVBoxLayout(self.source_box)
        layout.setSpacing(6)
        self.source = WheelSafeComboBox()
        for key, label in SOURCES:
            self.source.addItem(label, key)
        self.source.setToolTip("Where the images come from")
        self.source.currentIndexChanged.connect(self._source_changed)
        layout.addWidget(self.source)

        # Only the chosen source's page is shown (not a QStackedWidget, whose height is the tallest page's).
        self.source_pages = QWidget()
        pages_layout = QVBoxLayout(self.source_pages)
        pages_layout.setContentsMargins(0, 0, 0, 0)
        self._pages: dict[str, QWidget] = {}

        digits = QWidget()
        digits_layout = QVBoxLayout(digits)
        digits_layout.setContentsMargins(0, 0, 0, 0)
        digits_layout.addWidget(_caption("1,797 handwritten digits of 8×8 pixels, ten classes "
                                         "(UCI optical digits, CC BY 4.0). Ships with guicnn."))
        self._add_page("digits", digits)

        shapes = QWidget()
        shapes_form = QFormLayout(shapes)
        shapes_form.setContentsMargins(0, 0, 0, 0)
        shapes_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.shapes_count = WheelSafeSpinBox()
        self.shapes_count.setRange(50, 100_000)
        self.shapes_count.setSingleStep(500)
        self.shapes_count.setGroupSeparatorShown(True)
        self.shapes_count.setValue(3000)
        self.shapes_count.setToolTip("How many pictures to draw, spread evenly over the classes")
        self.shapes_classes = WheelSafeSpinBox()
        self.shapes_classes.setRange(2, len(SHAPE_CLASSES))
        self.shapes_classes.setValue(len(DEFAULT_SHAPE_CLASSES))
        self.shapes_classes.setToolTip("The first N of: " + ", ".join(SHAPE_CLASSES))
        self.shapes_seed = WheelSafeSpinBox()
        self.shapes_seed.setRange(0, 999_999)
        self.shapes_seed.setToolTip("The same seed always draws the same pictures")
        self.shapes_size = WheelSafeSpinBox()
        self.shapes_size.setRange(MIN_SHAPES_SIZE, 128)
        self.shapes_size.setValue(BUILTIN_SHAPES["shapes"][1])
        self.shapes_size.setSuffix(" px")
        self.shapes_size.setToolTip("Width and height of every picture (match the design's input)")
        for spin in (self.shapes_count, self.shapes_classes, self.shapes_seed, self.shapes_size):
            spin.setMinimumWidth(96)
        shapes_form.addRow("Samples", self.shapes_count)
        shapes_form.addRow("Classes", self.shapes_classes)
        shapes_form.addRow("Size", self.shapes_size)
        shapes_form.addRow("Seed", self.shapes_seed)
        self.shapes_button = QPushButton("Generate shapes")
        self.shapes_button.clicked.connect(lambda: self.load_builtin(self.source_key()))
        shapes_form.addRow(self.shapes_button)
        self._add_page("shapes", shapes)
        self._pages["shapes-rgb"] = shapes

        remote = QWidget()
        remote_layout = QVBoxLayout(remote)
        remote_layout.setContentsMargins(0, 0, 0, 0)
        remote_layout.setSpacing(4)
        self.remote_about = _caption()
        self.remote_cache = _caption()
        self.remote_button = QPushButton()
        self.remote_button.clicked.connect(lambda: self.load_remote(self.source_key()))
        remote_layout.addWidget(self.remote_about)
        remote_layout.addWidget(self.remote_cache)
        remote_layout.addWidget(self.remote_button, 0, Qt.AlignmentFlag.AlignLeft)
        for key in REMOTE:
            self._pages[key] = remote
        pages_layout.addWidget(remote)

        files = QWidget()
        files_layout = QVBoxLayout(files)
        files_layout.setContentsMargins(0, 0, 0, 0)
        files_layout.setSpacing(4)
        buttons = QHBoxLayout()
        self.open_file_button = QPushButton("Open file…")
        self.open_file_button.setToolTip("An IDX file (.gz or plain), a CSV table, an .npz archive or a CIFAR-10 .bin batch")
        self.open_file_button.clicked.connect(self.open_file)
        self.open_folder_button = QPushButton("Open folder…")
        self.open_folder_button.setToolTip(
            "A folder with one subfolder of images per class, MNIST-style IDX files, or CIFAR-10 .bin batches")
        self.open_folder_button.clicked.connect(self.open_folder)
        buttons.addWidget(self.open_file_button)
        buttons.addWidget(self.open_folder_button)
        buttons.addStretch(1)
        files_layout.addLayout(buttons)
        files_layout.addWidget(_caption("IDX (.gz), CIFAR-10 .bin, a folder of images per class, .csv or .npz: "
                                        "the kind is recognised from what the file holds."))
        self.last_path_label = _caption()
        self.last_path_label.hide()
        files_layout.addWidget(self.last_path_label)
        self._add_page("file", files)
        layout.addWidget(self.source_pages)

        progress_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(14)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_row = QWidget()
        self.progress_row.setLayout(progress_row)
        progress_row.setContentsMargins(0, 0, 0, 0)
        self.progress_row.hide()
        layout.addWidget(self.progress_row)

        self.status = _caption()
        self.status.hide()
        layout.addWidget(self.status)
        self.size_question = self._build_size_question()
        layout.addWidget(self.size_question)
        return self.source_box

    def _add_page(self, key: str, page: QWidget) -> None:
        self._pages[key] = page
        self.source_pages.layout().addWidget(page)

    def _build_info(self) -> QGroupBox:
        box = QGroupBox("Data")
        form = QFormLayout(box)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        form.setVerticalSpacing(3)
        self.info_name = _caption(muted=False)
        self.info_samples = _caption(muted=False)
        self.info_shape = _caption(muted=False)
        self.info_classes = _caption(muted=False)
        self.balance_bars = BalanceBars()
        self.info_balance = _caption()
        self.info_values = _caption(muted=False)
        balance = QWidget()
        balance_layout = QVBoxLayout(balance)
        balance_layout.setContentsMargins(0, 2, 0, 0)
        balance_layout.setSpacing(1)
        balance_layout.addWidget(self.balance_bars)
        balance_layout.addWidget(self.info_balance)
        form.addRow("Name", self.info_name)
        form.addRow("Samples", self.info_samples)
        form.addRow("Input", self.info_shape)
        self.image_size = self._build_image_size()
        form.addRow("Image size", self.image_size)
        self._info_form = form
        form.setRowVisible(self.image_size, False)
        form.addRow("Classes", self.info_classes)
        form.addRow("Balance", balance)
        form.addRow("Values", self.info_values)
        return box

    def _build_design_check(self) -> QGroupBox:
        box = QGroupBox("Design check")
        layout = QVBoxLayout(box)
        layout.setSpacing(6)
        self.design_status = _caption()
        self.offer = DataOffer()
        self.offer.use_button.clicked.connect(self._use_suggested)
        self.offer.download_button.clicked.connect(self._load_made_for)
        self.offer.hide()
        layout.addWidget(self.offer)
        self.design_problems = ProblemList()
        self.design_problems.fixChosen.connect(self.fixRequested)
        self.design_problems.hide()
        layout.addWidget(self.design_problems)
        layout.addWidget(self.design_status)
        return box

    def _build_image_size(self) -> QWidget:
        """For an image folder: the size its images are read at, and a way to read them at another."""
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.size_height = WheelSafeSpinBox()
        self.size_width = WheelSafeSpinBox()
        for spin, what in ((self.size_height, "Height"), (self.size_width, "Width")):
            spin.setRange(1, 4096)
            spin.setToolTip(f"{what} in pixels to read every image at")
        self.size_button = QPushButton("Resize")
        self.size_button.setToolTip("Read the folder again, every image resized to this height × width")
        self.size_button.clicked.connect(
            lambda: self.reload_folder((self.size_height.value(), self.size_width.value())))
        layout.addWidget(self.size_height)
        layout.addWidget(QLabel("×"))
        layout.addWidget(self.size_width)
        layout.addWidget(self.size_button)
        layout.addStretch(1)
        self.size_note = _caption()
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(1)
        column.addWidget(row)
        column.addWidget(self.size_note)
        return box

    def _build_size_question(self) -> QWidget:
        """When a folder's images differ in size: which size to read them at."""
        box = QFrame()
        box.setProperty("role", "warning")
        column = QVBoxLayout(box)
        column.setContentsMargins(8, 6, 8, 6)
        self.size_question_text = QLabel()
        self.size_question_text.setWordWrap(True)
        self.size_question_text.setTextFormat(Qt.TextFormat.PlainText)
        self.size_choice = WheelSafeComboBox()
        self.size_choice.setToolTip("Every image is resized to the size chosen here")
        self.size_choice_button = QPushButton("Read at this size")
        self.size_choice_button.clicked.connect(self._size_chosen)
        row = QHBoxLayout()
        row.addWidget(self.size_choice, 1)
        row.addWidget(self.size_choice_button)
        column.addWidget(self.size_question_text)
        column.addLayout(row)
        box.hide()
        return box

    def _build_split(self) -> QGroupBox:
        self.split_box = QGroupBox("Split")
        layout = QVBoxLayout(self.split_box)
        layout.setSpacing(4)
        row = QHBoxLayout()
        self.val_percent = WheelSafeSpinBox()
        self.val_percent.setRange(5, 50)
        self.val_percent.setSingleStep(5)
        self.val_percent.setValue(20)
        self.val_percent.setSuffix(" %")
        self.val_percent.setToolTip("The share of samples held back to measure how well the network generalises")
        self.split_seed = WheelSafeSpinBox()
        self.split_seed.setRange(0, 999_999)
        self.split_seed.setToolTip("Which samples go to validation; the same seed gives the same split")
        row.addWidget(QLabel("Validation"))
        row.addWidget(self.val_percent)
        row.addSpacing(10)
        row.addWidget(QLabel("Seed"))
        row.addWidget(self.split_seed)
        row.addStretch(1)
        layout.addLayout(row)
        self.split_caption = _caption()
        self.split_caption.setToolTip("Stratified: every class is split in the same proportion")
        layout.addWidget(self.split_caption)
        self.val_percent.valueChanged.connect(self._refresh_split)
        self.split_seed.valueChanged.connect(self._refresh_split)
        return self.split_box

    def _build_preview(self) -> QGroupBox:
        box = QGroupBox("Preview")
        layout = QVBoxLayout(box)
        layout.setSpacing(4)
        self.preview = PreviewGrid(PREVIEW_ROWS, PREVIEW_COLUMN_CHOICES)
        self.preview.sampleClicked.connect(self.set_probe)
        layout.addWidget(self.preview)
        row = QHBoxLayout()
        self.probe_caption = _caption(muted=False)
        self.probe_caption.setToolTip("The image whose feature maps the network views show")
        self.shuffle_button = QPushButton("Shuffle")
        self.shuffle_button.setToolTip("Show other samples")
        self.shuffle_button.clicked.connect(self.shuffle_preview)
        row.addWidget(self.probe_caption, 1)
        row.addWidget(self.shuffle_button)
        layout.addLayout(row)
        self.probe_hint = _caption("Click a picture to make it the probe image.")
        layout.addWidget(self.probe_hint)
        return box

    # ================================================================== public API

    def dataset(self) -> Dataset | None:
        """The active data set (None until the first load succeeds)."""
        return self._dataset

    def stats(self) -> DataStats | None:
        """Value range and class counts of the active data set."""
        return self._stats

    def val_fraction(self) -> float:
        return self.val_percent.value() / 100.0

    def set_split(self, val_fraction: float, seed: int | None = None) -> None:
        """Set the validation fraction (0.05 to 0.5) and, optionally, the split seed."""
        self.val_percent.setValue(round(float(val_fraction) * 100))
        if seed is not None:
            self.split_seed.setValue(int(seed))

    def split_settings(self) -> tuple[float, int]:
        """(validation fraction, seed) of the split, as ``train_val_split`` takes them."""
        return self.val_fraction(), self.split_seed.value()

    def train_val(self) -> tuple[Dataset, Dataset]:
        """(train, validation) by ``core.train_val_split`` (stratified), cached until data or split change."""
        if self._dataset is None:
            raise RuntimeError("no data set is loaded yet")
        key = (self.val_fraction(), self.split_seed.value())
        if self._split is None or self._split[0] != key:
            self._split = (key, train_val_split(self._dataset, self.val_fraction(), seed=self.split_seed.value()))
        return self._split[1]

    def probe_index(self) -> int | None:
        """Index in ``dataset()`` of the probe image (None without data)."""
        return self._probe

    def probe_image(self) -> np.ndarray | None:
        """The probe image as a (C, H, W) float32 copy."""
        if self._dataset is None or self._probe is None:
            return None
        return self._dataset.x[self._probe].copy()

    def probe_label(self) -> int | None:
        if self._dataset is None or self._probe is None:
            return None
        return int(self._dataset.y[self._probe])

    def set_probe(self, index: int) -> None:
        """Make sample ``index`` the probe image (highlighted in the preview); emits ``probeChanged``."""
        if self._dataset is None:
            return
        index = int(index)
        if not 0 <= index < len(self._dataset):
            raise IndexError(f"probe index {index} is outside 0..{len(self._dataset) - 1}")
        changed = index != self._probe
        self._probe = index
        self.preview.set_highlight(index)
        name = self._dataset.class_names[int(self._dataset.y[index])]
        self.probe_caption.setText(f"Probe image: sample {index:,} · label {name}")
        if changed:
            self.probeChanged.emit(index)

    def shuffle_preview(self) -> None:
        """Show another random draw of samples (the probe stays as it is)."""
        self._preview_draw += 1
        self._refresh_preview()

    def set_design(self, config: dict[str, Any] | None) -> None:
        """The design the data is checked against (its config dict), None for none."""
        self._design_known = config is not None
        self._design = copy.deepcopy(config) if config is not None else None
        self._refresh_design_check()

    def design_channels(self) -> int | None:
        """The design's input channels (1 or 3), which decide how a folder of mixed gray and colour
        images is read; None when the design takes no image."""
        shape = (self._design or {}).get("input_shape")
        if isinstance(shape, list) and len(shape) == 3 and shape[0] in (1, 3):
            return int(shape[0])
        return None

    def set_read_only(self, read_only: bool) -> None:
        """While training: the source and the split cannot change (a running load is cancelled)."""
        self._read_only = bool(read_only)
        if self._read_only and self.is_busy():
            self.cancel()
        self.read_only_banner.setVisible(self._read_only)
        tip = READ_ONLY_REASON if self._read_only else ""
        self.source_box.setToolTip(tip)
        self.split_box.setToolTip(tip)
        self._refresh_enabled()

    def is_busy(self) -> bool:
        return self._job is not None

    def source_key(self) -> str:
        """The chooser's current source: 'digits', 'shapes', 'mnist', 'fashion-mnist', 'cifar10' or 'file'."""
        return str(self.source.currentData())

    def load_builtin(self, name: str, **options: Any) -> None:
        """Load 'digits', 'shapes' or 'shapes-rgb' in the background (options override the shapes
        spins: n, seed, classes, size)."""
        key = str(name).strip().lower()
        if key not in BUILTIN:
            raise ValueError(f"load_builtin: {name!r} is not built in; choose from {', '.join(BUILTIN)}")
        self._select_source(key)
        if key == "digits":
            self._start("digits", "Loading the digits…", lambda progress, stop: load_digits(), source=("digits",))
            return
        n = int(options.get("n", self.shapes_count.value()))
        seed = int(options.get("seed", self.shapes_seed.value()))
        classes = list(options.get("classes", SHAPE_CLASSES[: self.shapes_classes.value()]))
        size = int(options.get("size", self.shapes_size.value()))
        self.shapes_count.setValue(n)
        self.shapes_seed.setValue(seed)
        self.shapes_classes.setValue(len(classes))
        self.shapes_size.setValue(size)
        draw = make_shapes_rgb if key == "shapes-rgb" else make_shapes
        self._start(key, f"Drawing {plural(n, 'shape')}…",
                    lambda progress, stop: draw(n=n, seed=seed, classes=classes, size=size),
                    source=(key, (n, seed, classes, size)))

    def load_remote(self, name: str, download: bool = True) -> None:
        """Load MNIST, Fashion-MNIST or CIFAR-10 from the cache, downloading it first if needed."""
        key = str(name).strip().lower()
        if key not in DATASETS:
            raise ValueError(f"load_remote: {name!r} is not downloadable; choose from {', '.join(DATASETS)}")
        self._select_source(key)
        base_url = self.base_url
        title = TITLES.get(key, key)
        fetching = download and not is_downloaded(key)
        message = f"Downloading {title}…" if fetching else f"Loading {title}…"

        def load(progress, stop: threading.Event) -> Dataset:
            return load_dataset(key, download=download, progress=progress, stop_event=stop, base_url=base_url)

        self._start(title, message, load, determinate=fetching, source=(key,))

    def load_path(self, path: str | os.PathLike, image_size: Sequence[int] | None = None) -> None:
        """Load a file or folder (the kind is recognised by the core) in the background.

        An image folder is read at ``image_size`` = (height, width), by default its images' own
        size (when they differ, the panel asks which size to use), with the design's channels.
        """
        path = Path(path)
        self._last_path = str(path)
        self.last_path_label.setText(breakable(f"Last opened: {path}"))
        self.last_path_label.setToolTip(str(path))
        self.last_path_label.show()
        self._select_source("file")
        size = tuple(int(v) for v in image_size) if image_size is not None else None
        channels = self.design_channels()
        self.size_question.hide()
        self._start(path.name, f"Reading {path.name}…",
                    lambda progress, stop: load_dataset(path, image_size=size, channels=channels),
                    source=("file", path, size))

    def reload_folder(self, size: Sequence[int]) -> None:
        """Read the image folder of the current (or last asked-about) data again at ``size`` = (height, width)."""
        if self._last_path is None:
            return
        self.load_path(self._last_path, image_size=size)

    def test_loader(self) -> LoadFn | None:
        """A function loading the current data set's own test part, read as the training part was
        (same image size, colours and class numbers); None when it has none (the digits)."""
        ds = self._dataset
        if ds is None or self.test_part_missing() is not None:
            return None
        key = self._loaded_source
        if key in SHAPE_SOURCES:
            n, seed, classes, size = self._shapes_options
            return lambda progress, stop: load_dataset(key, split="test", n=min(n, SHAPES_TEST_SIZE),
                                                       seed=seed, classes=classes, size=size)
        if key in REMOTE:
            return lambda progress, stop: load_dataset(key, split="test")
        path = Path(self._loaded_path or "")
        folder = is_image_folder(path)
        size = tuple(ds.input_shape[1:]) if folder else None
        channels = ds.input_shape[0] if folder else None
        names = list(ds.class_names) if folder else None
        return lambda progress, stop: load_dataset(path, split="test", image_size=size, channels=channels,
                                                   class_names=names)

    def test_part_missing(self) -> str | None:
        """Why the current data set has no test part to score a model on, or None when it may have one."""
        if self._dataset is None:
            return "Load a data set first."
        if self._loaded_source == "digits":
            return "The built-in digits have no separate test part (score the validation split instead)."
        return None

    def open_file(self) -> None:
        """Ask for a data file (QFileDialog) and load it."""
        path, _ = QFileDialog.getOpenFileName(self, "Open a data file", self._dialog_folder(), FILE_FILTER)
        if path:
            self.load_path(path)

    def open_folder(self) -> None:
        """Ask for a data folder (QFileDialog) and load it."""
        path = QFileDialog.getExistingDirectory(self, "Open a data folder", self._dialog_folder())
        if path:
            self.load_path(path)

    def last_path(self) -> str | None:
        """The file or folder opened last in this session."""
        return self._last_path

    def cancel(self) -> None:
        """Stop the running load or download; the active data set stays."""
        job = self._job
        if job is None:
            return
        job.cancel()
        self._finish_job()
        self._show_status(f"{self._job_title}: cancelled.{self._still_using()}", "muted")

    def shutdown(self) -> None:
        """Stop and join every loader thread this panel started (call before the window goes)."""
        if self._job is not None:
            self._job.cancel()
            self._finish_job()
        for job in self._jobs:
            job.shutdown()
        self._jobs.clear()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    # ================================================================== loading

    def _dialog_folder(self) -> str:
        if not self._last_path:
            return str(Path.home())
        last = Path(self._last_path)
        return str(last if last.is_dir() else last.parent)

    def _select_source(self, key: str) -> None:
        index = self.source.findData(key)
        if index != self.source.currentIndex():
            self.source.blockSignals(True)
            self.source.setCurrentIndex(index)
            self.source.blockSignals(False)
            self._source_changed(index, autoload=False)

    def _start(self, title: str, message: str, load: LoadFn, determinate: bool = False,
               source: tuple = ("file", None, None)) -> None:
        if self._read_only:
            raise RuntimeError(READ_ONLY_REASON)
        if self._job is not None:
            self._job.cancel()  # superseded: its result will be ignored
        self._jobs = [job for job in self._jobs if job.is_running()]
        job = load_job(load)
        # Bound slots (not lambdas): Qt drops the connections if this panel is deleted first.
        job.progress.connect(self._on_progress)
        job.succeeded.connect(self._on_succeeded)
        job.failed.connect(self._on_failed)
        was_busy = self._job is not None
        self._job = job
        self._jobs.append(job)
        self._job_title = title
        self._job_source = source
        self.progress.setRange(0, 1000 if determinate else 0)
        self.progress.setValue(0)
        self.progress_row.show()
        self.cancel_button.setText("Cancel download" if determinate else "Cancel")
        self._show_status(message, "muted")
        self._refresh_enabled()
        job.start()
        if not was_busy:
            self.busyChanged.emit(True)

    def _finish_job(self) -> None:
        self._job = None
        self.progress_row.hide()
        self._refresh_enabled()
        self._refresh_source_page()
        self.busyChanged.emit(False)

    @Slot(object)
    def _on_progress(self, progress: LoadProgress) -> None:
        if self.sender() is not self._job:
            return
        done, total = progress.done, progress.total
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
        self._show_status(f"Downloading {self._job_title}: {style.fmt_bytes(done)} of {style.fmt_bytes(total)} "
                          f"({progress.file_name})", "muted")

    @Slot(object)
    def _on_succeeded(self, result: LoadResult | SizeChoice) -> None:
        if self.sender() is not self._job:
            return
        self._finish_job()
        if isinstance(result, SizeChoice):
            self._ask_size(result)
            return
        took = f" in {result.seconds:.1f} s" if result.seconds >= 0.1 else ""
        notes = "".join(f"\n{note[:1].upper()}{note[1:]}." for note in result.dataset.notes)
        self._show_status(f"Loaded {result.dataset.name}{took}.{notes}", "muted")
        source = self._job_source
        self._loaded_source = source[0]
        self._loaded_path = str(source[1]) if source[0] == "file" else None
        self._shapes_options = source[1] if source[0] in SHAPE_SOURCES else None
        self._folder = Path(source[1]) if source[0] == "file" and is_image_folder(source[1]) else None
        self._folder_size = source[2] if self._folder is not None else None
        self._set_dataset(result.dataset, result.stats)

    def _ask_size(self, choice: SizeChoice) -> None:
        """The folder's images differ in size: list them (most common first) and the design's, and ask."""
        self.size_choice.clear()
        design = (self._design or {}).get("input_shape")
        options: list[tuple[int, int]] = []
        if isinstance(design, list) and len(design) == 3:
            options.append((int(design[1]), int(design[2])))
            self.size_choice.addItem(f"{design[1]}×{design[2]} (the design's input)", options[-1])
        for (h, w), count in choice.sizes.items():
            if (h, w) not in options:
                options.append((h, w))
                self.size_choice.addItem(f"{h}×{w} ({count:,} image{'s' if count != 1 else ''}, "
                                         f"e.g. {choice.examples[(h, w)]})", (h, w))
        self.size_question_text.setText(choice.message[:1].upper() + choice.message[1:] + ".")
        self.size_question.show()
        self._show_status(f"{choice.folder}: choose the size to read its images at.{self._still_using()}", "plain")

    @Slot()
    def _size_chosen(self) -> None:
        size = self.size_choice.currentData()
        if size is not None:
            self.reload_folder(size)

    @Slot(str, str, bool)
    def _on_failed(self, message: str, details: str, cancelled: bool) -> None:
        if self.sender() is not self._job:
            return
        if details:
            print(details, file=sys.stderr)  # a loader bug: the trace for the developer, one line for the user
        self._finish_job()
        if cancelled:
            self._show_status(f"{self._job_title}: cancelled.{self._still_using()}", "muted")
        else:
            self._show_status(f"{message}{self._still_using()}", "error")

    def _still_using(self) -> str:
        return f"\nStill using {self._dataset.name}." if self._dataset is not None else ""

    def _show_status(self, text: str, tone: str) -> None:
        self._status_text = text
        self.status.setText(breakable(text))
        self.status.setToolTip(text if len(text) > 80 else "")
        _set_tone(self.status, tone)
        self.status.setVisible(bool(text))

    def status_text(self) -> str:
        """The status line under the source (progress, the last error, or what was loaded)."""
        return self._status_text

    def _set_dataset(self, ds: Dataset, stats: DataStats) -> None:
        self._dataset = ds
        self._stats = stats
        self._split = None
        self._probe = None
        self._preview_draw = 0
        self._refresh_info()
        self._refresh_split()
        self._refresh_design_check()
        shown = self._refresh_preview()
        self.datasetChanged.emit(ds)
        if shown:
            self.set_probe(shown[0])

    # ================================================================== refreshing

    @Slot(int)
    def _source_changed(self, index: int, autoload: bool = True) -> None:
        key = self.source.itemData(index)
        if key in SHAPE_SOURCES:  # each generator's own size unless the design asks for another
            self.shapes_size.setValue(BUILTIN_SHAPES[key][1])
        for page in set(self._pages.values()):
            page.setVisible(page is self._pages[key])
        self._refresh_source_page()
        if not autoload or self._read_only:
            return
        self._show_status("", "muted")  # the last message was about another source
        # Choosing a source that needs no download and no file dialog loads it straight away.
        if key in BUILTIN:
            self.load_builtin(key)
        elif key in REMOTE and is_downloaded(key):
            self.load_remote(key)

    def _refresh_source_page(self) -> None:
        key = self.source_key()
        if key not in REMOTE:
            return
        spec = DATASETS[key]
        folder = dataset_dir(key)
        self.remote_about.setText(f"{spec.title}: {len(spec.class_names)} classes. {spec.licence}.")
        if is_downloaded(key):
            self.remote_cache.setText(f"Downloaded, in {folder}")
            self.remote_button.setText(f"Load {TITLES[key]}")
        else:
            self.remote_cache.setText(f"Not downloaded yet; it will be saved in {folder} "
                                      "and checked against its published SHA-256.")
            self.remote_button.setText(f"Download ({style.fmt_bytes(spec.total_size)})")
        self.remote_cache.setToolTip(str(folder))

    def _refresh_enabled(self) -> None:
        editable = not self._read_only
        idle = self._job is None
        self.source.setEnabled(editable and idle)
        self.source_pages.setEnabled(editable and idle)
        self.split_box.setEnabled(editable)
        self.cancel_button.setEnabled(not idle)
        self.design_problems.set_buttons_enabled(editable)
        for button in (self.offer.use_button, self.offer.download_button):
            button.setEnabled(editable and idle)
        self.image_size.setEnabled(editable and idle)
        self.size_question.setEnabled(editable and idle)

    def _refresh_info(self) -> None:
        ds, stats = self._dataset, self._stats
        if ds is None or stats is None:
            for label in (self.info_name, self.info_samples, self.info_shape, self.info_classes, self.info_values):
                label.setText("–")
            self.info_balance.setText("")
            self.balance_bars.set_counts(np.zeros(0), [])
            return
        where = "built in" if ds.source == "built-in" else ds.source
        self.info_name.setText(breakable(ds.name))
        self.info_name.setToolTip(f"{ds.name}\n{where}" if where else ds.name)
        self.info_samples.setText(style.fmt_count(len(ds)))
        channels = ds.input_shape[0]
        colour = {1: "grey", 3: "RGB"}.get(channels, f"{channels} channels")
        self.info_shape.setText(f"{fmt_chw(ds.input_shape)}  (C×H×W, {colour})")
        names = ", ".join(ds.class_names[:MAX_LISTED_CLASSES])
        more = ", …" if ds.num_classes > MAX_LISTED_CLASSES else ""
        self.info_classes.setText(breakable(f"{ds.num_classes}: {names}{more}"))
        self.info_classes.setToolTip("\n".join(f"{i}: {n}" for i, n in enumerate(ds.class_names)))
        counts = stats.class_counts
        self.balance_bars.set_counts(counts, ds.class_names)
        if len(counts) and counts.min() == counts.max():
            self.info_balance.setText(f"{int(counts.min()):,} per class")
        elif len(counts):
            self.info_balance.setText(f"{int(counts.min()):,} to {int(counts.max()):,} samples per class")
        self.info_values.setText(f"{stats.minimum:.3g} to {stats.maximum:.3g}, mean {stats.mean:.3f}")
        self._refresh_image_size()

    def _refresh_image_size(self) -> None:
        """The image-size row: shown for image folders, with the size the images were read at."""
        ds = self._dataset
        folder = ds is not None and self._folder is not None
        self._info_form.setRowVisible(self.image_size, folder)
        if not folder:
            return
        h, w = ds.input_shape[1:]
        self.size_height.setValue(h)
        self.size_width.setValue(w)
        resized = [note for note in ds.notes if note.startswith("resized")]
        if self._folder_size is None:
            self.size_note.setText("The images' own size. Any other size reads the folder again.")
        else:
            self.size_note.setText((resized[0][:1].upper() + resized[0][1:] + ".") if resized
                                   else "The size asked for.")
    @Slot()
    def _refresh_split(self) -> None:
        if self._dataset is None:
            self.split_caption.setText("Load data to split it into training and validation samples.")
            return
        n = len(self._dataset)
        n_val = validation_count(n, self.val_fraction())
        self.split_caption.setText(
            f"{n - n_val:,} for training, {n_val:,} for validation (stratified by class)")

    def _refresh_preview(self) -> list[int]:
        """Draw a new random set of samples for the preview; returns their indices."""
        ds = self._dataset
        if ds is None:
            self.preview.clear()
            self.probe_caption.setText("")
            return []
        rng = np.random.default_rng(self._preview_draw)
        count = min(len(ds), self.preview.capacity())
        indices = np.sort(rng.choice(len(ds), size=count, replace=False))
        labels = [ds.class_names[int(label)] for label in ds.y[indices]]
        self.preview.set_samples(ds.x[indices], indices.tolist(), labels)
        self.preview.set_highlight(self._probe)
        return indices.tolist()

    def set_suggestion(self, suggestion: DataSuggestion | None) -> None:
        """What the core suggests for the design (``core.data.suggest_data``): offered as buttons."""
        self._suggestion = suggestion
        self._refresh_design_check()

    def _use_suggested(self) -> None:
        suggestion = self._suggestion
        if suggestion is not None and suggestion.now and not self._read_only:
            if suggestion.now in BUILTIN:
                self.load_builtin(suggestion.now, **suggestion.now_options)
            else:
                self.load_remote(suggestion.now)

    def _load_made_for(self) -> None:
        if self._suggestion is not None and self._suggestion.made_for in REMOTE and not self._read_only:
            self.load_remote(self._suggestion.made_for)

    def _refresh_offer(self) -> None:
        """Offer the suggested data when the loaded data does not fit, and the data set the design
        was made for when that is a download (and not what is loaded)."""
        offer, suggestion, ds = self.offer, self._suggestion, self._dataset
        loaded = ds.name if ds is not None else None
        design_input = (self._design or {}).get("input_shape")
        fits = ds is not None and isinstance(design_input, list) and tuple(ds.input_shape) == tuple(design_input)
        use = suggestion is not None and suggestion.now is not None and not fits and suggestion.now != loaded
        made_for = suggestion.made_for if suggestion is not None and suggestion.made_for in REMOTE else None
        download = made_for is not None and made_for != loaded
        lines = []
        if download:
            title = TITLES[made_for]
            lines.append(f"This design was made for {title}.")
            size = f" ({style.fmt_bytes(suggestion.download_bytes)})" if suggestion.download_bytes else ""
            offer.download_button.setText(f"Download {title}{size}" if suggestion.download_bytes else f"Load {title}")
        if use:
            title = TITLES.get(suggestion.now, suggestion.now)
            size = suggestion.now_options.get("size")
            lines.append(f"It trains now on the built-in {title.lower()}"
                         + (f", drawn at {size}×{size}." if size else "."))
            offer.use_button.setText(f"Use {title.lower()}" + (f" ({size}×{size})" if size else ""))
        offer.use_button.setVisible(use)
        offer.download_button.setVisible(download)
        offer.message.setText(" ".join(lines))
        offer.setVisible(use or download)
        for button in (offer.use_button, offer.download_button):
            button.setEnabled(not self._read_only and self._job is None)

    def _refresh_design_check(self) -> None:
        """The core's check of the design against the whole data set (what training would refuse)."""
        self._refresh_offer()
        ds, stats = self._dataset, self._stats
        if ds is None or not self._design_known or stats is None:
            waiting = "Load data to compare it with the design." if ds is None else "No design to compare with yet."
            self.design_problems.set_problems([])
            self.design_status.setText(waiting)
            _set_tone(self.design_status, "muted")
            self.design_status.show()
            return
        problems = check_design_data(self._design, ds.input_shape, ds.class_names, stats.class_counts)
        actions = {}
        if self._folder is not None:
            design_shape = (self._design or {}).get("input_shape")
            if isinstance(design_shape, list) and len(design_shape) == 3 and \
                    tuple(design_shape[1:]) != tuple(ds.input_shape[1:]):
                h, w = int(design_shape[1]), int(design_shape[2])
                actions["input_shape"] = [(f"Read the images at {h}×{w}", lambda: self.reload_folder((h, w)))]
        self.design_problems.set_problems(problems, actions)
        if problems:
            self.design_status.setText("")
        else:
            self.design_status.setText(
                f"✓ Design matches the data: {fmt_chw(ds.input_shape)} in, {ds.num_classes} classes out.")
            _set_tone(self.design_status, "ok")
        self.design_status.setVisible(bool(self.design_status.text()))
        self._refresh_enabled()

    def design_message(self) -> str:
        """Everything the design check says, as plain text (for tests and the status bar)."""
        parts = self.design_problems.messages()
        if self.design_status.isVisibleTo(self) and self.design_status.text():
            parts.append(self.design_status.text())
        return "\n".join(parts)
