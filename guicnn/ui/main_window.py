"""The main window: docks around the layer stack, menus, files and the status bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QWidget,
)

from guicnn.core import GuicnnError
from guicnn.core.designfile import load_design, preset_paths
from guicnn.core.text import plural
from guicnn.ui import files, style
from guicnn.ui.builder.document import NO_LAYER, DesignDocument, empty_design
from guicnn.ui.builder.inspector import QtInspector
from guicnn.ui.builder.layer_stack import QtLayerStack
from guicnn.ui.builder.palette import QtLayerPalette, add_type_menu
from guicnn.ui.builder.summary import QtSummary
from guicnn.ui.export_menu import ExportMenu
from guicnn.ui.files import safe_stem
from guicnn.ui.help import GuideViewer, ShortcutsDialog, about_html
from guicnn.ui.settings import SettingsStore
from guicnn.ui.training.workbench import Workbench
from guicnn.ui.widgets.elided_label import ElidedLabel

MESSAGE_MS = 8000
MESSAGE_MS_PER_CHAR = 70  # a long message stays longer: time to read it
MESSAGE_SHARE = 0.6  # of the status bar's width a message may take
#: The narrowest each panel may get, in characters of the window's font: below it layer names
#: and fields are cut. A small window or a layout saved on a small screen stops here.
READABLE_CHARS = {"palette": 21, "inspector": 38, "data": 38, "training": 38}
READABLE_CENTRE_CHARS = 62  # the centre's share before the panels are narrowed


def preset_files() -> list[tuple[str, Path]]:
    """(display name, path) of every shipped preset, in file-name order."""
    presets = []
    for path in preset_paths():
        try:
            presets.append((str(load_design(path).get("name") or path.stem), path))
        except GuicnnError:
            continue  # a broken preset must not stop the window from opening
    return presets


def preset_data_text(path: Path) -> str:
    """What a preset trains on now and what it was made for (the core's ``suggest_data``)."""
    from guicnn.core.data import DATASETS, suggest_data
    from guicnn.ui.data.panel import TITLES

    try:
        suggestion = suggest_data(load_design(path))
    except GuicnnError:
        return ""
    parts = []
    if suggestion.now in DATASETS:
        parts.append(f"Trains now on {DATASETS[suggestion.now].title} (downloaded).")
    elif suggestion.now:
        parts.append(f"Trains now on the built-in {TITLES.get(suggestion.now, suggestion.now).lower()}.")
    if suggestion.made_for in DATASETS and suggestion.made_for != suggestion.now:
        size = f" ({style.fmt_bytes(suggestion.download_bytes)} to download)" if suggestion.download_bytes else ""
        parts.append(f"Made for {DATASETS[suggestion.made_for].title}{size}.")
    return " ".join(parts)


class DesignStatus(QWidget):
    """Status-bar summary: '61,706 parameters · valid' or '2 errors — layer 6 Dense: ...'."""

    def __init__(self, document: DesignDocument) -> None:
        super().__init__()
        self.document = document
        self.dot = QLabel("●")
        self.label = ElidedLabel(auto_tooltip=False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.dot)
        layout.addWidget(self.label, 1)
        self._colour = ""
        document.changed.connect(self.refresh)
        self.refresh()

    def text(self) -> str:
        return self.label.text()

    def refresh(self) -> None:
        analysis = self.document.analysis
        self.label.setText(status_text(analysis))
        self.setToolTip("\n".join(analysis.errors + analysis.warnings))
        colour = style.ERROR if analysis.errors else (style.WARNING if analysis.warnings else style.OK)
        if colour != self._colour:
            self._colour = colour
            self.dot.setStyleSheet(f"color: {colour};")


def status_text(analysis) -> str:
    """The plain-text status line for an analysis."""
    errors, warnings = analysis.errors, analysis.warnings
    if not analysis.layers and not errors:
        return "Empty design — drag layers from the palette onto the stack"
    if errors:
        count = plural(len(errors), "error")
        return f"{count} — {errors[0]}"
    text = f"{style.fmt_count(analysis.total_params)} parameters · valid"
    if warnings:
        text += f" · {plural(len(warnings), 'warning')}"
    return text


class MainWindow(QMainWindow):
    """Palette (left), the workbench's tabs (centre: the layer stack above the summary, then the
    training views), inspector, data and training panels (right).

    ``initial_data`` is the data set the workbench loads once the window is up ("auto": the one
    that fits the design; None: none, as the tests want).
    """

    def __init__(self, document: DesignDocument | None = None, settings: SettingsStore | None = None,
                 *, initial_data: str | None = None) -> None:
        super().__init__()
        self.document = document or DesignDocument(empty_design())
        self.settings = settings or SettingsStore()
        self.docks: dict[str, QDockWidget] = {}
        self._guide: GuideViewer | None = None
        self.setDockNestingEnabled(True)
        self.setAcceptDrops(True)  # a design or model file dropped from the file manager opens
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self._build_menus()
        self.stack = QtLayerStack(self.document)
        self.summary = QtSummary(self.document)
        self.palette = QtLayerPalette(self.document)
        self.inspector = QtInspector(self.document)
        self._build_status_bar()
        self.workbench = Workbench(self, self._design_area(), initial_data=initial_data)
        self.setCentralWidget(self.workbench.tabs)
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.add_dock("palette", "Layers", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.add_dock("inspector", "Inspector", self.inspector, right)
        self.add_dock("data", "Data", self.workbench.data_panel, right, tabify_with="inspector")
        self.add_dock("training", "Train", self.workbench.training_panel, right, tabify_with="data")
        self.docks["inspector"].raise_()
        self.workbench.healthChanged.connect(self.stack.set_health)
        self.workbench.healthChanged.connect(self.inspector.set_health)
        self.stack.stepThroughRequested.connect(self.workbench.show_walkthrough)
        self.inspector.stepThroughRequested.connect(self.workbench.show_walkthrough)
        self._connect_document()
        self._fit_docks_timer = QTimer(self, singleShot=True, interval=0)
        self._fit_docks_timer.timeout.connect(self._fit_docks)
        self.resize(1280, 800)
        self._size_docks()
        if self.settings.value("window/state") is None:  # keep a layout the user saved
            QTimer.singleShot(0, self._size_docks)  # again once the window has its final size
        self._update_title()
        self._update_edit_actions()

    # ---- layout ----------------------------------------------------------------------------
    def add_dock(self, name: str, title: str, widget: QWidget, area: Qt.DockWidgetArea,
                 tabify_with: str | None = None) -> QDockWidget:
        """Add a panel as a dock (optionally tabbed with another) and a toggle for it in View."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        if name in READABLE_CHARS:
            dock.setMinimumWidth(self.readable_width(name))
        self.addDockWidget(area, dock)
        if tabify_with in self.docks:
            self.tabifyDockWidget(self.docks[tabify_with], dock)
        self.docks[name] = dock
        self.view_menu.addAction(dock.toggleViewAction())
        return dock

    def readable_width(self, name: str) -> int:
        """The narrowest the panel ``name`` may get (READABLE_CHARS in this window's font)."""
        return READABLE_CHARS.get(name, 0) * self.fontMetrics().horizontalAdvance("0")

    def _design_area(self) -> QSplitter:
        """The layer stack above the summary table (the workbench's Design tab, so the training
        views next to it get the window's full height)."""
        design = QSplitter(Qt.Orientation.Vertical)
        design.addWidget(self.stack)
        design.addWidget(self.summary)
        design.setStretchFactor(0, 3)
        design.setStretchFactor(1, 2)
        return design

    def _dock_widths(self) -> dict[QDockWidget, int]:
        """The width each side panel is laid out for: the right-hand panels what their content
        needs (the data panel's preview and split rows), the palette its names."""
        char = self.fontMetrics().horizontalAdvance("0")
        # The data panel is laid out for 320–380 px; the training panel needs its minimum.
        right = max(char * 50, 350, self.workbench.training_panel.minimumSizeHint().width() + 24)
        right = min(right, self.width() // 3)
        tabbed = [self.docks[name] for name in ("inspector", "data", "training")]
        shown = next((dock for dock in tabbed if dock.isVisible()), tabbed[0])  # one tab of the group
        return {self.docks["palette"]: char * 26, shown: right}

    def _size_docks(self) -> None:
        """Give the side panels the width they are laid out for, and the centre the rest."""
        widths = self._dock_widths()
        self.resizeDocks(list(widths), list(widths.values()), Qt.Orientation.Horizontal)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.oldSize().width() > 0 and event.oldSize().width() != event.size().width():
            self._fit_docks_timer.start()

    def _fit_docks(self) -> None:
        """Share the width between the centre and the side panels after the window was resized.

        Qt keeps the panels' widths and takes everything from the centre when the window
        shrinks, and gives the centre everything when it grows. Here a shrinking window first
        narrows the panels (never below their readable width) to keep the centre readable, and
        a growing one first gives squeezed panels their width back.
        """
        widths = {dock: width for dock, width in self._dock_widths().items()
                  if dock.isVisible() and not dock.isFloating()}
        current = {dock: dock.width() for dock in widths}
        centre = self.centralWidget().width()
        readable_centre = READABLE_CENTRE_CHARS * self.fontMetrics().horizontalAdvance("0")
        target = dict(current)
        if centre < readable_centre:  # take it from the widest room above each panel's minimum
            need = readable_centre - centre
            for dock in sorted(target, key=lambda d: d.minimumWidth() - target[d]):
                take = min(need, max(0, target[dock] - dock.minimumWidth()))
                target[dock] -= take
                need -= take
        else:
            spare = centre - readable_centre
            for dock, width in widths.items():
                grow = min(spare, max(0, width - target[dock]))
                target[dock] += grow
                spare -= grow
        if target != current:
            self.resizeDocks(list(target), list(target.values()), Qt.Orientation.Horizontal)

    def _build_status_bar(self) -> None:
        self.design_status = DesignStatus(self.document)
        self.message_label = ElidedLabel(fit_text=True, max_width=520)
        self.message_label.setStyleSheet(f"color: {style.MUTED};")
        self.statusBar().addWidget(self.design_status, 1)
        self.statusBar().addPermanentWidget(self.message_label)
        self._message_timer = QTimer(self, singleShot=True, interval=MESSAGE_MS)
        self._message_timer.timeout.connect(self.message_label.clear)

    def show_message(self, text: str) -> None:
        """A passing note in the status bar (refused edit, saved file, dropped weights). It may take
        most of the bar's width; what still does not fit ends in "…" and shows whole on hover or
        click, and a long note stays longer."""
        self.message_label.set_max_width(max(520, int(self.width() * MESSAGE_SHARE)))
        self.message_label.setText(text)
        self.message_label.setToolTip(text)
        self._message_timer.start(max(MESSAGE_MS, MESSAGE_MS_PER_CHAR * len(text)))

    # ---- menus -----------------------------------------------------------------------------
    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&New", self.new_design, QKeySequence.StandardKey.New)
        self.preset_menu = file_menu.addMenu("New from &preset")
        self.preset_menu.aboutToShow.connect(self._fill_preset_menu)
        self._action(file_menu, "&Open…", lambda: self.open_file(), QKeySequence.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        self._action(file_menu, "&Save", self.save, QKeySequence.StandardKey.Save)
        self._action(file_menu, "Save &as…", lambda: self.save_as(), QKeySequence.StandardKey.SaveAs)
        self.exports = ExportMenu(self, file_menu.addMenu("&Export"))
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo", self.document_undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(edit, "&Redo", self.document_redo, QKeySequence("Ctrl+Shift+Z"))
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit.addSeparator()
        self.delete_action = self._action(edit, "&Delete layer", self.delete_selected, QKeySequence.StandardKey.Delete)
        self.duplicate_action = self._action(edit, "D&uplicate layer", self.duplicate_selected, QKeySequence("Ctrl+D"))
        self.move_up_action = self._action(edit, "Move layer &up", lambda: self.move_selected(-1), QKeySequence("Alt+Up"))
        self.move_down_action = self._action(edit, "Move layer dow&n", lambda: self.move_selected(1),
                                             QKeySequence("Alt+Down"))
        edit.addSeparator()
        add_type_menu(edit, "&Add layer", lambda type_name: self.document.add_after_current(type_name))

        self.view_menu = bar.addMenu("&View")
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&User guide", self.show_guide, QKeySequence.StandardKey.HelpContents)
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts)
        help_menu.addSeparator()
        self._action(help_menu, "&About guicnn", self.show_about)

    def _action(self, menu: QMenu, text: str, slot, shortcut: Any = None) -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(lambda _checked=False: slot())
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        return action

    def _fill_preset_menu(self) -> None:
        self.preset_menu.clear()
        self.preset_menu.setToolTipsVisible(True)
        for name, path in preset_files():
            action = self.preset_menu.addAction(name)
            action.setToolTip(preset_data_text(path))
            action.triggered.connect(lambda _checked=False, p=path: self.new_from_preset(p))
        self.preset_menu.addSeparator()
        self.preset_menu.addAction("Empty design", self.new_design)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files()
        for path in recent:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_file(p))
        if not recent:
            self.recent_menu.addAction("(none yet)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self.settings.clear_recent_files)

    # ---- document wiring ----------------------------------------------------------------------
    def _connect_document(self) -> None:
        document = self.document
        # Bound methods, not lambdas: Qt drops them when either side is destroyed.
        document.file_changed.connect(self._update_title)
        document.modified_changed.connect(self._update_title)
        document.changed.connect(self._update_title)
        document.current_changed.connect(self._update_edit_actions)
        document.changed.connect(self._update_edit_actions)
        document.read_only_changed.connect(self._update_edit_actions)
        document.history_changed.connect(self._update_edit_actions)
        document.refused.connect(self.show_message)
        document.message.connect(self.show_message)

    def _update_title(self, *_ignored: object) -> None:
        path = self.document.path
        self.setWindowTitle(f"{self.document.name} — {path.name if path else 'unsaved'}[*] — guicnn")
        self.setWindowModified(self.document.modified)

    def _update_edit_actions(self, *_ignored: object) -> None:
        stack, editable = self.document.undo_stack, not self.document.read_only
        self.undo_action.setText(f"&Undo {stack.undoText()}" if stack.canUndo() else "&Undo")
        self.redo_action.setText(f"&Redo {stack.redoText()}" if stack.canRedo() else "&Redo")
        self.undo_action.setEnabled(editable and stack.canUndo())
        self.redo_action.setEnabled(editable and stack.canRedo())
        current, count = self.document.current, len(self.document.layers)
        selected = editable and current != NO_LAYER
        self.delete_action.setEnabled(selected)
        self.duplicate_action.setEnabled(selected)
        self.move_up_action.setEnabled(selected and current > 0)
        self.move_down_action.setEnabled(selected and current < count - 1)

    # ---- edit actions ---------------------------------------------------------------------------
    def document_undo(self) -> None:
        self.document.undo()

    def document_redo(self) -> None:
        self.document.redo()

    def delete_selected(self) -> None:
        if self.document.current != NO_LAYER:
            self.document.remove_layer(self.document.current)

    def duplicate_selected(self) -> None:
        if self.document.current != NO_LAYER:
            self.document.duplicate_layer(self.document.current)

    def move_selected(self, step: int) -> None:
        current = self.document.current
        if current != NO_LAYER and 0 <= current + step < len(self.document.layers):
            self.document.move_layer(current, current + step)

    # ---- files ----------------------------------------------------------------------------------
    def new_design(self) -> bool:
        if self._refuse_while_training() or not self.maybe_save_changes():
            return False
        self.document.load(empty_design())
        return True

    def new_from_preset(self, path: str | Path) -> bool:
        """Start a new, unsaved design from a shipped preset."""
        if self._refuse_while_training():
            return False
        try:
            config = load_design(path)
        except GuicnnError as exc:
            QMessageBox.critical(self, "Cannot load preset", str(exc))
            return False
        if not self.maybe_save_changes():
            return False
        self.document.load(config)
        self.show_message(f"New design from the preset “{self.document.name}”.")
        return True

    def open_file(self, path: str | Path | None = None) -> bool:
        """Open a design or model; on failure show the loader's message and change nothing."""
        if self._refuse_while_training():
            return False
        if path is None:
            start = str(self.document.path.parent) if self.document.path else ""
            path, _ = QFileDialog.getOpenFileName(self, "Open design or model", start, files.OPEN_FILTER)
            if not path:
                return False
        try:
            opened = files.read_file(path)
        except (GuicnnError, OSError, ValueError) as exc:
            QMessageBox.critical(self, "Cannot open file", files.open_error_text(exc))
            if not Path(path).exists():
                self.settings.remove_recent_file(str(Path(path).resolve()))
            return False
        if not self.maybe_save_changes():
            return False
        self.document.load(opened.config, path, opened.weights, opened.model_info)
        self.settings.add_recent_file(str(path))
        kept = " with its trained weights" if opened.weights is not None else ""
        self.show_message(f"Opened {Path(path).name}{kept}.")
        return True

    def save(self) -> bool:
        path = self.document.path
        wants_model = self.document.weights is not None
        if path is None or wants_model != files.is_model_path(path):
            return self.save_as()
        return self._write(path)

    def save_as(self, path: str | Path | None = None) -> bool:
        if path is None:
            path = self._ask_save_path()
            if not path:
                return False
        return self._write(Path(path))

    def _offer_save_as(self, message: str) -> bool:
        """A failed write: say why, keep everything (the weights stay in the window), offer Save As."""
        kept = "The trained weights are kept" if self.document.weights is not None else "The design is kept"
        box = QMessageBox(QMessageBox.Icon.Critical, "Cannot save", f"{message}\n\n{kept} in the window: save "
                          "them somewhere else.", parent=self)
        save_as = box.addButton("Save As…", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(save_as)
        box.exec()
        if box.clickedButton() is save_as:
            return self.save_as()
        self.show_message(f"Not saved: {message}")
        return False

    def _ask_save_path(self) -> str:
        model = self.document.weights is not None
        suffix = files.MODEL_SUFFIX if model else files.DESIGN_SUFFIX
        folder = self.document.path.parent if self.document.path else Path.cwd()
        stem = self.document.path.stem if self.document.path else safe_stem(self.document.name)
        filters = f"{files.MODEL_FILTER};;{files.DESIGN_FILTER}" if model else files.DESIGN_FILTER
        path, chosen = QFileDialog.getSaveFileName(self, "Save as", str(folder / f"{stem}{suffix}"), filters)
        if path and not Path(path).suffix:
            path += files.MODEL_SUFFIX if chosen == files.MODEL_FILTER else files.DESIGN_SUFFIX
        return path

    def _write(self, path: Path) -> bool:
        document = self.document
        try:
            files.write_file(path, document.config, document.weights, document.model_info)
        except OSError as exc:  # a full disk, a read-only folder (SaveError): nothing is lost, go elsewhere
            return self._offer_save_as(files.open_error_text(exc))
        except (GuicnnError, ValueError) as exc:
            QMessageBox.critical(self, "Cannot save", files.open_error_text(exc))
            return False
        document.mark_saved(path)
        self.settings.add_recent_file(str(path))
        design_only = document.weights is not None and not files.is_model_path(path)
        self.show_message(f"Saved {path.name}" + (" (the design only; weights go into .safetensors)."
                                                  if design_only else "."))
        return True

    def export_pytorch(self, path: str | Path | None = None) -> bool:
        """File ▸ Export ▸ PyTorch code (asks where unless ``path`` is given)."""
        return self.exports.pytorch_code(path)

    def maybe_save_changes(self) -> bool:
        """Ask Save/Discard/Cancel when there are unsaved changes; True when it is fine to go on."""
        if not self.document.modified:
            return True
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.warning(
            self, "Unsaved changes",
            f"“{self.document.name}” has changes that are not saved.\nSave them first?",
            buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save,
        )
        if answer == buttons.Save:
            return self.save()
        return answer == buttons.Discard

    # ---- files dropped from the desktop ----------------------------------------------------------
    @staticmethod
    def _dropped_file(mime) -> Path | None:
        """The one local .json/.safetensors file in a drag, if that is what it carries."""
        urls = mime.urls() if mime.hasUrls() else []
        if len(urls) != 1 or not urls[0].isLocalFile():
            return None
        path = Path(urls[0].toLocalFile())
        return path if path.suffix.lower() in (files.DESIGN_SUFFIX, files.MODEL_SUFFIX) else None

    def dragEnterEvent(self, event) -> None:
        if self._dropped_file(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        path = self._dropped_file(event.mimeData())
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_file(path)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.workbench.confirm_close():
            event.ignore()
            return
        if self.maybe_save_changes():
            self.settings.set_value("window/state", self.saveState())
            self.settings.set_value("window/geometry", self.saveGeometry())
            self.workbench.shutdown()  # join every worker thread before the window goes
            self.exports.shutdown()
            event.accept()
        else:
            event.ignore()

    def _refuse_while_training(self) -> bool:
        """True (after saying why) when the document is locked by a training run."""
        if self.document.read_only:
            self.show_message("Stop training before starting another design.")
            return True
        return False

    def restore_layout(self) -> None:
        """Put back the window size and dock layout of the last session."""
        geometry, state = self.settings.value("window/geometry"), self.settings.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)
            # A layout saved on a smaller screen: its squeezed panels get their width back.
            QTimer.singleShot(0, self._fit_docks)

    def show_about(self) -> None:
        QMessageBox.about(self, "About guicnn", about_html())

    def show_guide(self, page: str = "index.md") -> GuideViewer | None:
        """Help ▸ User guide: the Markdown pages in a viewer beside the window (one, reused)."""
        if self._guide is None:
            try:
                self._guide = GuideViewer(self)
            except FileNotFoundError as exc:
                QMessageBox.warning(self, "User guide", str(exc))
                return None
        self._guide.show_page(page)
        self._guide.show()
        self._guide.raise_()
        return self._guide

    def show_shortcuts(self) -> ShortcutsDialog:
        """Help ▸ Keyboard shortcuts, read from the menus' own actions."""
        dialog = ShortcutsDialog(self.menuBar(), self)
        dialog.show()
        return dialog
