"""File ▸ Export in the window, and every plot's right-click Save image / Copy to clipboard."""

from __future__ import annotations

import csv
import io
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint
from PySide6.QtGui import QContextMenuEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from guicnn.core.data import load_digits
from guicnn.core.training import evaluate
from guicnn.ui.widgets.image_export import ImageMenu, copy_image, save_png, save_svg


class Dialogs:
    """Scripted file dialogs and recorded error boxes."""

    def __init__(self, monkeypatch) -> None:
        self.answers: list[str] = []
        self.errors: list[str] = []
        monkeypatch.setattr(QFileDialog, "getSaveFileName", self._save)
        monkeypatch.setattr(QMessageBox, "critical", lambda _p, _t, text, *a: self.errors.append(text))

    def _save(self, *_args, **_kwargs):
        return (self.answers.pop(0), "") if self.answers else ("", "")


@pytest.fixture
def dialogs(monkeypatch):
    return Dialogs(monkeypatch)


def _train(qtbot, window, epochs: int = 2) -> None:
    panel = window.workbench.training_panel
    panel.epochs.setValue(epochs)
    panel.lr.setValue(0.003)
    with qtbot.waitSignal(window.workbench.controller.finished, timeout=60_000):
        panel.start_button.click()


def _menu_texts(window) -> list[str]:
    return [a.text() for a in window.exports.menu.actions() if not a.isSeparator()]


def test_export_menu_offers_results_only_for_a_trained_model(qtbot, window, dialogs, tmp_path):
    file_menu = window.menuBar().actions()[0].menu()
    assert window.exports.menu.menuAction() in file_menu.actions()
    assert _menu_texts(window) == ["&PyTorch code…", "PyTorch &training script…", "&ONNX…",
                                   "Training &history (CSV)…", "&Report (HTML)…"]
    window.exports.menu.aboutToShow.emit()
    enabled = {key: action.isEnabled() for key, action in window.exports.actions.items()}
    assert enabled == {"pytorch": True, "script": True, "onnx": False, "history": False, "report": False}
    assert "Train the model" in window.exports.actions["report"].toolTip()
    # Called anyway (a shortcut, a script): one clear message, nothing written.
    assert not window.exports.history_csv(tmp_path / "h.csv")
    assert dialogs.errors[-1].startswith("Train the model") and not (tmp_path / "h.csv").exists()


def test_training_script_from_the_menu_carries_the_panels_settings(qtbot, window, dialogs, tmp_path):
    window.workbench.training_panel.batch_size.setValue(48)
    window.workbench.data_panel.set_split(0.3)
    dialogs.answers.append(str(tmp_path / "train_digits"))  # no suffix typed: .py is added
    window.exports.actions["script"].trigger()
    code = (tmp_path / "train_digits.py").read_text(encoding="utf-8")
    compile(code, "train_digits.py", "exec")
    assert '"batch_size": 48' in code and '"val_fraction": 0.3' in code
    assert '--data", default="digits"' in code
    assert "train_digits.py" in window.message_label.text()


def test_results_of_a_trained_model_export_from_the_menu(qtbot, window, dialogs, tmp_path):
    _train(qtbot, window)
    exports = window.exports
    exports.menu.aboutToShow.emit()
    assert all(action.isEnabled() for action in exports.actions.values())
    history = window.document.model_info["history"]

    # Training history: one CSV row per epoch, and one per batch beside it.
    dialogs.answers.append(str(tmp_path / "run.csv"))
    exports.actions["history"].trigger()
    epochs = list(csv.DictReader(io.StringIO((tmp_path / "run.csv").read_text(encoding="utf-8"))))
    batches = list(csv.DictReader(io.StringIO((tmp_path / "run-batches.csv").read_text(encoding="utf-8"))))
    assert [int(r["epoch"]) for r in epochs] == [1, 2]
    assert [float(r["val_accuracy"]) for r in epochs] == history["val_accuracy"]
    assert len(batches) == len(history["batch_loss"]) == window.document.model_info["training"]["step"]

    # Report: written in a worker thread, scored on the Data panel's validation split.
    dialogs.answers.append(str(tmp_path / "report.html"))
    with qtbot.waitSignal(exports.exported, timeout=60_000):
        exports.actions["report"].trigger()
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    val = window.workbench.data_panel.train_val()[1]
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "On the validation split of digits" in html and f"({len(val):,} images)" in html
    assert html.count('src="data:image/png;base64,') >= 1 and "<svg" in html
    assert exports.job is None  # the worker thread was joined

    # The model itself, as PyTorch code that loads it.
    assert window.save_as(tmp_path / "digits.safetensors")
    dialogs.answers.append(str(tmp_path / "net.py"))
    exports.actions["pytorch"].trigger()
    assert 'load_file("digits.safetensors")' in (tmp_path / "net.py").read_text(encoding="utf-8")
    assert not dialogs.errors


def test_onnx_from_the_menu_classifies_like_the_window(qtbot, window, dialogs, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    _train(qtbot, window, epochs=1)
    dialogs.answers.append(str(tmp_path / "digits.onnx"))
    with qtbot.waitSignal(window.exports.exported, timeout=60_000):
        window.exports.actions["onnx"].trigger()
    onnx.checker.check_model(onnx.load(str(tmp_path / "digits.onnx")))
    digits = load_digits()
    session = ort.InferenceSession(str(tmp_path / "digits.onnx"), providers=["CPUExecutionProvider"])
    probabilities = session.run(None, {"input": digits.x[:200]})[0]
    trainer = window.workbench.controller.trainer
    expected = evaluate(trainer.model, digits.x[:200], digits.y[:200], normalization=trainer.normalization)
    np.testing.assert_allclose(probabilities, expected.probabilities, atol=1e-4)


def test_a_failing_export_is_a_dialog_and_writes_nothing(qtbot, window, dialogs, tmp_path, monkeypatch):
    _train(qtbot, window, epochs=1)
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the optional package were not installed
    with qtbot.waitSignal(window.exports.failed, timeout=60_000):
        assert window.exports.onnx(tmp_path / "m.onnx")
    assert 'pip install "guicnn[onnx]"' in dialogs.errors[-1]
    assert not (tmp_path / "m.onnx").exists() and window.exports.job is None
    # A folder that cannot be written to: the error names the file.
    assert not window.exports.history_csv(tmp_path / "missing-folder" / "h.csv")
    assert "h.csv" in dialogs.errors[-1]


# ---- right-click images ---------------------------------------------------------------------------

def _plot_widgets(window) -> dict[str, object]:
    bench = window.workbench
    return {"curves": bench.curves.graphics, "histograms": bench.histograms.graphics,
            "confusion": bench.confusion.graphics, "filters": bench.filters.graphics,
            "feature maps": bench.feature_maps.map_graphics, "layer output": bench.feature_maps.bar_graphics,
            "feature-map overview": bench.feature_maps.overview_graphics, "prediction": bench.predict.graphics}


def test_every_plot_saves_png_and_svg_and_copies_to_the_clipboard(qtbot, window, dialogs, tmp_path):
    _train(qtbot, window, epochs=1)
    for title in ("Training", "Filters", "Weights", "Confusion", "Predict"):
        window.workbench.show_tab(title)  # each view draws when shown
        qtbot.wait(50)
    for name, widget in _plot_widgets(window).items():
        menu = widget.findChild(ImageMenu)
        assert menu is not None, name
        assert [a.text() for a in menu.menu.actions() if not a.isSeparator()] == [
            "Save image as PNG…", "Save image as SVG…", "Copy to clipboard"], name
        stem = name.replace(" ", "-")
        png, svg = tmp_path / f"{stem}.png", tmp_path / f"{stem}.svg"
        save_png(widget, png)
        with Image.open(png) as image:
            assert image.format == "PNG"
            area = widget.viewport().rect()
            assert image.size == (2 * area.width(), 2 * area.height()), name
            assert len(np.unique(np.asarray(image.convert("L")))) > 2, name  # something is drawn
        save_svg(widget, svg)
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg") and root.get("viewBox") == f"0 0 {area.width()} {area.height()}", name
        copied = copy_image(widget)
        assert not QGuiApplication.clipboard().image().isNull() and not copied.isNull(), name


def test_right_click_opens_the_menu_and_its_entries_save(qtbot, window, dialogs, tmp_path):
    widget = window.workbench.curves.graphics
    window.workbench.show_tab("Training")
    menu = widget.findChild(ImageMenu)
    position = QPoint(20, 20)
    QApplication.sendEvent(widget.viewport(), QContextMenuEvent(QContextMenuEvent.Reason.Mouse, position,
                                                                 widget.viewport().mapToGlobal(position)))
    qtbot.waitUntil(menu.menu.isVisible, timeout=2000)
    menu.menu.hide()
    dialogs.answers += [str(tmp_path / "curves"), str(tmp_path / "curves.svg")]
    png_action, svg_action = [a for a in menu.menu.actions() if not a.isSeparator()][:2]
    png_action.trigger()
    svg_action.trigger()
    with Image.open(tmp_path / "curves.png") as image:
        assert image.format == "PNG"  # ".png" added to a name typed without it
    assert ET.parse(tmp_path / "curves.svg").getroot().tag.endswith("svg")
    assert not dialogs.errors
