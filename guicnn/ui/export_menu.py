"""File ▸ Export: PyTorch code, a PyTorch training script, ONNX, the training history (CSV) and a
report (HTML).

Each action asks where to save, writes through the core's own function (the same one the
command line uses) and says what it wrote in the status bar. The slow ones — ONNX with its
checker, the report with its evaluation pass — run in a worker thread, so the window stays
responsive; they work on copies of the weights, so editing or training meanwhile is safe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

from guicnn.core import GuicnnError, TrainingError
from guicnn.core.designfile import atomic_write
from guicnn.core.training import check_compatible
from guicnn.ui import files
from guicnn.ui.worker import Job

#: (key, menu text, what it needs: "design" or "trained").
ACTIONS = (
    ("pytorch", "&PyTorch code…", "design"),
    ("script", "PyTorch &training script…", "design"),
    ("onnx", "&ONNX…", "trained"),
    (None, None, None),
    ("history", "Training &history (CSV)…", "trained"),
    ("report", "&Report (HTML)…", "trained"),
)
TIPS = {
    "pytorch": "Python code that builds the design as a torch.nn.Sequential (a saved model's weights load into it)",
    "script": "A runnable PyTorch script that trains this design with the Train panel's settings (also under "
              "torchrun on several GPUs) and writes a guicnn model file",
    "onnx": "The trained model for onnxruntime: images in [0, 1] in, class probabilities out",
    "history": "Loss, accuracy and learning rate of every epoch, and the loss of every batch, as CSV",
    "report": "One self-contained HTML page: design, settings, curves, confusion matrix, misclassified images",
}
NEEDS_TRAINING = "Train the model (or open a trained .safetensors file) first."


class ExportMenu(QObject):
    """The Export submenu of one main window and the work behind each entry."""

    exported = Signal(str)  # the message shown after a successful export
    failed = Signal(str)

    def __init__(self, window: Any, menu: QMenu) -> None:
        super().__init__(window)
        self.window = window
        self.menu = menu
        self.actions: dict[str, QAction] = {}
        slots: dict[str, Callable[[], Any]] = {
            "pytorch": self.pytorch_code, "script": self.training_script, "onnx": self.onnx,
            "history": self.history_csv, "report": self.report,
        }
        for key, text, _needs in ACTIONS:
            if key is None:
                menu.addSeparator()
                continue
            action = menu.addAction(text)
            action.setStatusTip(TIPS[key])
            action.setToolTip(TIPS[key])
            action.triggered.connect(lambda _checked=False, slot=slots[key]: slot())
            self.actions[key] = action
        menu.setToolTipsVisible(True)
        menu.aboutToShow.connect(self.update_actions)
        self.job: Job | None = None

    # ---- state ----------------------------------------------------------------------------------
    @property
    def document(self):
        return self.window.document

    def update_actions(self) -> None:
        """Enable what the open document can give: a valid design; trained weights for results."""
        valid = self.document.analysis.valid
        trained = valid and self.document.weights is not None
        busy = self.job is not None
        for key, _text, needs in ACTIONS:
            if key is not None:
                ok = trained if needs == "trained" else valid
                self.actions[key].setEnabled(ok and not (busy and key in ("onnx", "report")))
                self.actions[key].setToolTip(TIPS[key] if ok or not valid else f"{TIPS[key]}. {NEEDS_TRAINING}")

    def _stem(self) -> str:
        path = self.document.path
        return path.stem if path else files.safe_stem(self.document.name)

    def _target(self, given: str | Path | None, title: str, name: str, file_filter: str) -> Path | None:
        """``given``, or where the user says in a save dialog (None when cancelled)."""
        return Path(given) if given else self._ask(title, name, file_filter)

    def _ask(self, title: str, name: str, file_filter: str) -> Path | None:
        folder = self.document.path.parent if self.document.path else Path.cwd()
        path, _ = QFileDialog.getSaveFileName(self.window, title, str(folder / name), file_filter)
        if not path:
            return None
        path = Path(path)
        suffix = Path(name).suffix
        return path if path.suffix else path.with_name(path.name + suffix)

    def _refuse(self, message: str) -> bool:
        QMessageBox.critical(self.window, "Cannot export", message)
        self.failed.emit(message)
        return False

    def _done(self, message: str) -> bool:
        self.window.show_message(message)
        self.exported.emit(message)
        return True

    def _check_design(self) -> bool:
        analysis = self.document.analysis
        if not analysis.valid:
            return self._refuse("The design has errors; fix them first: " + "; ".join(analysis.errors[:3]))
        return True

    def _trained_model(self):
        """The document's trained model as a LoadedModel (copied weights), or None after saying why."""
        if not self._check_design():
            return None
        if self.document.read_only:
            self._refuse("Training is running: stop it first, so that the weights stop changing.")
            return None
        if self.document.weights is None:
            self._refuse(NEEDS_TRAINING)
            return None
        return files.loaded_model(self.document.config, self.document.weights, self.document.model_info,
                                  self.document.path)

    def _write_text(self, path: Path, text: str) -> bool:
        try:
            atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        except OSError as exc:
            self._refuse(files.open_error_text(exc))
            return False
        return True

    # ---- the exports -----------------------------------------------------------------------------
    def pytorch_code(self, path: str | Path | None = None) -> bool:
        """Python source that builds the design as a ``torch.nn.Sequential`` (same layer indices,
        so a saved model's weights load with ``load_state_dict(strict=True)``)."""
        from guicnn.core.export import torch_code

        path = self._target(path, "Export PyTorch code", f"{self._stem()}.py", "Python (*.py)")
        if path is None:
            return False
        document = self.document
        weights = document.path.name if document.path and files.is_model_path(document.path) \
            else f"{path.stem}.safetensors"
        try:
            code = torch_code(document.config, weights_file=weights)
        except GuicnnError as exc:
            return self._refuse(str(exc))
        if not self._write_text(path, code):
            return False
        return self._done(f"Exported {path.name}: build_model() gives the PyTorch version of this design.")

    def training_script(self, path: str | Path | None = None) -> bool:
        """A runnable PyTorch training script with the Train panel's settings and the loaded data."""
        from guicnn.core.export.torch_script import training_script

        if not self._check_design():
            return False
        workbench = self.window.workbench
        try:
            settings = workbench.training_panel.settings()
        except ValueError as exc:
            return self._refuse(f"The Train panel has an invalid setting: {exc}")
        settings.val_fraction, settings.split_seed = workbench.data_panel.split_settings()
        path = self._target(path, "Export PyTorch training script", f"train_{self._stem()}.py",
                                                 "Python (*.py)")
        if path is None:
            return False
        try:
            code = training_script(self.document.config, settings=settings, data=self._data_spec(),
                                   source=f"the guicnn window ({self.document.name})", script_name=path.name)
        except GuicnnError as exc:
            return self._refuse(str(exc))
        if not self._write_text(path, code):
            return False
        return self._done(f"Exported {path.name}: run it with python or torchrun; it writes a guicnn model file.")

    def _data_spec(self) -> str | None:
        """What the script's --data defaults to: the Data panel's set, else the model's."""
        panel = self.window.workbench.data_panel
        if panel.dataset() is not None:
            key = panel.source_key()
            if key != "file":
                return key
            if panel.last_path():
                return str(Path(panel.last_path()).resolve())
        dataset = (self.document.model_info or {}).get("dataset") or {}
        return dataset.get("spec") or dataset.get("name")

    def onnx(self, path: str | Path | None = None) -> bool:
        """The trained model as ONNX (in a worker thread): images in [0, 1] in, probabilities out."""
        from guicnn.core.export import export_model_onnx

        loaded = self._trained_model()
        if loaded is None:
            return False
        path = self._target(path, "Export ONNX model", f"{self._stem()}.onnx", "ONNX model (*.onnx)")
        if path is None:
            return False
        return self._start(lambda: export_model_onnx(loaded, path),
                           f"Exported {path.name}: images in [0, 1] in, class probabilities out.")

    def history_csv(self, path: str | Path | None = None) -> bool:
        """The training history: one CSV row per epoch, and a second file with one row per batch."""
        from guicnn.core.export.history_csv import save_history_csv

        loaded = self._trained_model()
        if loaded is None:
            return False
        if not loaded.history.get("epoch"):
            return self._refuse("This model has no training history yet.")
        path = self._target(path, "Export training history", f"{self._stem()}-history.csv",
                                                 "CSV table (*.csv)")
        if path is None:
            return False
        try:
            written = save_history_csv(path, loaded.history)
        except OSError as exc:
            return self._refuse(files.open_error_text(exc))
        return self._done(f"Exported {written[0].name} (per epoch) and {written[1].name} (per batch).")

    def report(self, path: str | Path | None = None) -> bool:
        """The HTML report (in a worker thread), scored on the Data panel's validation split."""
        from guicnn.core.report import save_report

        loaded = self._trained_model()
        if loaded is None:
            return False
        path = self._target(path, "Export report", f"{self._stem()}-report.html", "HTML page (*.html)")
        if path is None:
            return False
        panel = self.window.workbench.data_panel
        data, part = None, None
        if panel.dataset() is not None:
            try:
                check_compatible(loaded.model, panel.dataset())
                data = panel.train_val()[1]
                part = f"the validation split of {data.name}"
            except TrainingError:
                pass  # other data is loaded: the report leaves the confusion matrix out
        note = "" if data is not None else " (no matching data loaded: without the confusion matrix)"
        return self._start(lambda: save_report(path, loaded, data, split="all", part=part),
                           f"Exported {path.name}{note}.")

    # ---- background work ----------------------------------------------------------------------------
    def _start(self, work: Callable[[], Any], message: str) -> bool:
        if self.job is not None:
            return self._refuse("Another export is still being written; wait a moment.")
        job = Job(lambda context: work(), name="export")
        job.succeeded.connect(lambda _result: self._finished(message))
        job.failed.connect(lambda text, details, _cancelled: self._failed(text, details))
        self.job = job
        self.window.show_message("Exporting…")
        job.start()
        return True

    def _finished(self, message: str) -> None:
        self._join()
        self._done(message)

    def _failed(self, text: str, _details: str) -> None:
        self._join()
        self._refuse(text)

    def _join(self) -> None:
        if self.job is not None:
            self.job.thread.wait()
            self.job = None

    def shutdown(self) -> None:
        """Join a running export (the window is closing)."""
        if self.job is not None:
            self.job.shutdown()
            self.job = None


__all__ = ["ExportMenu"]
