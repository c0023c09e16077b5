"""The window under the same rules as the core and the CLI: image sizes shown and chosen, nonsense
refused before training with one-click (undoable) fixes, a test set scored, one image reader,
the same size checks, and a failed save that loses nothing."""

from __future__ import annotations

import errno
import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QPushButton
from robust_helpers import digit_folder, fill_disk_in

from guicnn import cli
from guicnn.core import modelfile
from guicnn.core.data import load_image_folder, read_image
from guicnn.ui import worker
from guicnn.ui.data.panel import DataPanel
from guicnn.ui.views.predict import PredictView

TIMEOUT = 30_000


# ---- fixtures and helpers ------------------------------------------------------------------

@pytest.fixture
def panel(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("GUICNN_CACHE", str(tmp_path / "cache"))
    widget = DataPanel()
    qtbot.addWidget(widget)
    widget.resize(360, 900)
    widget.show()
    yield widget
    widget.shutdown()
    assert worker.live_jobs() == 0


def load(qtbot, panel, action):
    with qtbot.waitSignal(panel.datasetChanged, timeout=TIMEOUT) as blocker:
        action()
    return blocker.args[0]


def click_in_next_dialog(qtbot, text: str, clicked: list) -> None:
    """Press the button labelled ``text`` of the next modal dialog (a QMessageBox's exec)."""
    def press() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, press)
            return
        clicked.append(dialog)
        for button in dialog.findChildren(QPushButton):
            if button.text() == text:
                button.click()
                return
        raise AssertionError(f"no button {text!r} in {[b.text() for b in dialog.findChildren(QPushButton)]}")

    QTimer.singleShot(0, press)


# ---- the data panel shows the image size and changes it ------------------------------------

def test_an_image_folder_shows_its_size_and_is_read_again_at_another(qtbot, panel, tmp_path):
    folder = digit_folder(tmp_path / "big", per_class=20, scale=4)  # 32x32 pictures
    ds = load(qtbot, panel, lambda: panel.load_path(folder))
    assert ds.input_shape == (1, 32, 32) and panel.image_size.isVisible()
    assert (panel.size_height.value(), panel.size_width.value()) == (32, 32)
    assert panel.size_note.text() == "The images' own size. Any other size reads the folder again."
    panel.size_height.setValue(8)
    panel.size_width.setValue(8)
    ds = load(qtbot, panel, panel.size_button.click)
    assert ds.input_shape == (1, 8, 8) and ds.notes == ["resized 60 of 60 images from 32x32 to 8x8"]
    assert panel.size_note.text() == "Resized 60 of 60 images from 32x32 to 8x8."
    assert "Resized 60 of 60 images" in panel.status_text()
    load(qtbot, panel, lambda: panel.load_builtin("digits"))
    assert not panel.image_size.isVisible()  # only image folders can be resized


def test_mixed_sizes_are_listed_and_the_chosen_size_is_used(qtbot, panel, tmp_path):
    folder = digit_folder(tmp_path / "mixed", classes=(0, 1), per_class=20)
    digit_folder(folder, classes=(2,), per_class=20, scale=2)
    panel.set_design({"input_shape": [1, 12, 12], "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 3}]})
    with qtbot.assertNotEmitted(panel.datasetChanged):
        panel.load_path(folder)
        qtbot.waitUntil(lambda: not panel.is_busy(), timeout=TIMEOUT)
    assert panel.size_question.isVisible() and panel.dataset() is None
    assert "the images have 2 different sizes: 8x8 (40 images" in panel.size_question_text.text().lower()
    choices = [panel.size_choice.itemData(i) for i in range(panel.size_choice.count())]
    assert choices == [(12, 12), (8, 8), (16, 16)]  # the design's first, then the most common
    assert panel.size_choice.itemText(0) == "12×12 (the design's input)"
    panel.size_choice.setCurrentIndex(2)
    ds = load(qtbot, panel, panel.size_choice_button.click)
    assert ds.input_shape == (1, 16, 16) and not panel.size_question.isVisible()


def test_the_design_check_offers_to_read_a_folder_at_the_designs_size(qtbot, panel, tmp_path):
    folder = digit_folder(tmp_path / "big", scale=4)
    load(qtbot, panel, lambda: panel.load_path(folder))
    panel.set_design({"input_shape": [1, 8, 8], "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 3}]})
    texts = [button.text() for button in panel.design_problems.buttons()]
    assert texts == ["Set the input to 1×32×32", "Read the images at 8×8"]
    ds = load(qtbot, panel, panel.design_problems.buttons()[1].click)
    assert ds.input_shape == (1, 8, 8)
    assert panel.design_message() == "✓ Design matches the data: 1×8×8 in, 3 classes out."


def test_gray_and_colour_images_follow_the_designs_channels(qtbot, panel, tmp_path):
    folder = digit_folder(tmp_path / "mixed", classes=(0, 1))
    colour = folder / "red"
    colour.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8, 3), (200, 10 * i, 0), np.uint8)).save(colour / f"{i}.png")
    panel.set_design({"input_shape": [1, 8, 8], "layers": []})
    ds = load(qtbot, panel, lambda: panel.load_path(folder))
    assert ds.input_shape == (1, 8, 8)
    assert "read as gray for the design's 1 input channel" in panel.status_text()
    panel.set_design({"input_shape": [3, 8, 8], "layers": []})
    assert load(qtbot, panel, lambda: panel.load_path(folder)).input_shape == (3, 8, 8)


def test_the_panels_loaders_refuse_what_exceeds_the_memory_budget(qtbot, panel, tmp_path, monkeypatch):
    folder = digit_folder(tmp_path / "big", per_class=20, scale=40)  # 320x320 pictures
    monkeypatch.setenv("GUICNN_MEMORY_BUDGET", "1M")
    with qtbot.assertNotEmitted(panel.datasetChanged):
        panel.load_path(folder)
        qtbot.waitUntil(lambda: not panel.is_busy(), timeout=TIMEOUT)
    assert panel.status_text().startswith("big: 60 images of 320x320 would need ")
    assert "more than the limit of 1.0 MB (set by GUICNN_MEMORY_BUDGET" in panel.status_text()


# ---- one image reader ----------------------------------------------------------------------

def test_a_png_gives_the_same_input_in_the_cli_the_predict_pane_and_the_folder_loader(qtbot, tmp_path):
    rgba = np.random.default_rng(3).integers(0, 256, (30, 21, 4), dtype=np.uint8)
    rgba[:12, :, 3] = 0  # a transparent band
    path = tmp_path / "set" / "a" / "x.png"
    path.parent.mkdir(parents=True)
    Image.fromarray(rgba, "RGBA").save(path)
    (tmp_path / "set" / "b").mkdir()
    Image.fromarray(rgba, "RGBA").save(tmp_path / "set" / "b" / "y.png")
    view = PredictView()
    qtbot.addWidget(view)
    for shape in ((1, 10, 7), (3, 10, 7)):
        view.set_input_shape(shape)
        view.invert_check.setChecked(False)
        with qtbot.waitSignal(view.imageReady) as blocker:
            assert view.load_image(path)
        view.invert_check.setChecked(False)  # a dark picture: not inverted
        pane = view.current_image()
        assert blocker.args[0].shape == shape
        folder = load_image_folder(tmp_path / "set", size=shape[1:], color="grayscale" if shape[0] == 1 else "rgb")
        np.testing.assert_array_equal(pane, cli.load_image(path, shape))
        np.testing.assert_array_equal(pane, read_image(path, size=shape[1:], channels=shape[0]))
        np.testing.assert_array_equal(pane, folder.x[0])


def test_the_predict_pane_shows_the_cores_message_for_a_bomb(qtbot, tmp_path):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 9000, 9000, 1, 0, 0, 0, 0))
                     + chunk(b"IEND", b""))
    view = PredictView()
    qtbot.addWidget(view)
    view.show()
    assert not view.load_image(bomb)
    assert view.error_label.isVisible() and view.error_label.text().startswith("bomb.png: is 9000x9000 pixels")


# ---- nonsense is refused before training, with undoable one-click fixes --------------------

def _press_train(qtbot, window) -> None:
    window.workbench.training_panel.start_button.click()
    qtbot.wait(50)


def test_too_many_outputs_are_refused_and_fixed_with_one_click(qtbot, window):
    workbench, document = window.workbench, window.document
    dense = max(i for i, layer in enumerate(document.layers) if layer["type"] == "Dense")
    document.set_field(dense, "units", 20)
    _press_train(qtbot, window)
    assert not workbench.controller.is_running() and workbench.controller.trainer is None
    panel = workbench.training_panel
    (problem,) = panel.problems.problems()
    assert problem.kind == "outputs" and "10 classes but the model has 20 outputs" in problem.message
    (button,) = panel.problems.buttons()
    assert button.text() == "Set the last Dense layer's units to 10" and button.isVisible()
    with qtbot.waitSignal(workbench.controller.finished, timeout=60_000):
        panel.epochs.setValue(1)
        button.click()  # fixes the design and trains
    assert document.layers[dense]["units"] == 10 and not panel.problems.isVisible()
    assert document.undo_stack.undoText() == "Set the last Dense layer's units to 10"
    document.undo()
    assert document.layers[dense]["units"] == 20  # an ordinary undoable edit


def test_an_empty_design_gets_flatten_and_dense(qtbot, window):
    window.document.load({"name": "empty", "input_shape": [1, 8, 8], "layers": []})
    _press_train(qtbot, window)
    panel = window.workbench.training_panel
    assert [p.kind for p in panel.problems.problems()] == ["nothing_to_train"]
    assert [b.text() for b in panel.problems.buttons()] == ["Add Flatten + Dense(10)"]
    assert "Training was not started" in panel.status.text()


def test_a_single_class_is_refused_without_a_fix_button(qtbot, window, tmp_path):
    data = window.workbench.data_panel
    load(qtbot, data, lambda: data.load_path(digit_folder(tmp_path / "one", classes=(5,))))
    _press_train(qtbot, window)
    panel = window.workbench.training_panel
    assert [p.kind for p in panel.problems.problems()] == ["single_class"]
    assert panel.problems.buttons() == [] and not window.workbench.controller.is_running()


def test_a_design_too_large_for_memory_is_neither_built_nor_trained(qtbot, window):
    window.document.load({"name": "huge", "input_shape": [1, 100000, 100000],
                          "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 10}]})
    window.workbench.show_tab("Training")  # would build the untrained model for its previews
    qtbot.wait(300)
    _press_train(qtbot, window)
    problems = window.workbench.training_panel.problems.problems()
    assert "too_large" in [p.kind for p in problems]
    assert any("would need" in p.message and "more than the limit of" in p.message for p in problems)


# ---- evaluate on the test set ----------------------------------------------------------------

def test_evaluate_on_the_test_set_shows_its_confusion_matrix(qtbot, window, tmp_path):
    workbench = window.workbench
    panel = workbench.training_panel
    assert not panel.test_button.isEnabled()
    assert "no separate test part" in panel.test_button.toolTip() or "Train" in panel.test_button.toolTip()
    data = workbench.data_panel
    load(qtbot, data, lambda: data.load_path(digit_folder(tmp_path / "split", classes=range(10), per_class=25,
                                                           test=8)))
    panel.epochs.setValue(2)
    with qtbot.waitSignal(workbench.controller.finished, timeout=60_000):
        panel.start_button.click()
    assert panel.test_button.isEnabled()
    with qtbot.waitSignal(workbench.controller.testFinished, timeout=TIMEOUT) as blocker:
        panel.test_button.click()
    test = blocker.args[0]
    assert len(test.dataset) == 80 and int(test.result.confusion.sum()) == 80
    assert workbench.tabs.tabText(workbench.tabs.currentIndex()) == "Confusion"
    assert workbench.confusion.title.text().startswith("Confusion matrix · test set: 80 images, accuracy ")
    assert "test set (split, 80 images): loss " in panel.log_view.toPlainText()


def test_the_digits_have_no_test_part_to_score(qtbot, window):
    workbench = window.workbench
    workbench.training_panel.epochs.setValue(1)
    with qtbot.waitSignal(workbench.controller.finished, timeout=60_000):
        workbench.training_panel.start_button.click()
    button = workbench.training_panel.test_button
    assert not button.isEnabled() and "no separate test part" in button.toolTip()


# ---- a failed save offers Save As and keeps the weights ---------------------------------------

def test_a_failed_save_offers_save_as_and_keeps_the_weights(qtbot, window, tmp_path, monkeypatch):
    workbench = window.workbench
    workbench.training_panel.epochs.setValue(1)
    with qtbot.waitSignal(workbench.controller.finished, timeout=60_000):
        workbench.training_panel.start_button.click()
    weights = window.document.weights
    full = tmp_path / "full"
    full.mkdir()
    fill_disk_in(monkeypatch, full)
    elsewhere = tmp_path / "elsewhere.safetensors"
    monkeypatch.setattr(window, "_ask_save_path", lambda: str(elsewhere))
    seen: list = []
    click_in_next_dialog(qtbot, "Save As…", seen)
    assert window.save_as(full / "m.safetensors")
    box = seen[0]
    assert f"no space left on device while saving {full}/m.safetensors; m.safetensors was not written" in box.text()
    assert "The trained weights are kept in the window" in box.text()
    assert not (full / "m.safetensors").exists() and list(full.iterdir()) == []  # no temporary file either
    assert window.document.weights is weights and window.document.path == elsewhere
    assert modelfile.load_model(elsewhere).training["epoch"] == 1


def test_a_cancelled_save_as_after_a_failure_keeps_the_document_unsaved(qtbot, window, tmp_path, monkeypatch):
    window.document.rename("changed")
    seen: list = []
    click_in_next_dialog(qtbot, "Cancel", seen)
    path = tmp_path / "design.json"
    monkeypatch.setattr("guicnn.ui.files.save_design", lambda *a: (_ for _ in ()).throw(
        OSError(errno.EROFS, "Read-only file system")))
    assert not window.save_as(path)
    assert window.isWindowModified() and window.document.path != path
    assert json.dumps(window.document.config)  # nothing of the design was lost
