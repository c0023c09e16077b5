"""The whole application: data → train → watch → save, and the CLI reads what the GUI saved."""

import re

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from guicnn import cli
from guicnn.core.data import load_digits
from guicnn.core.training import evaluate


def _train(qtbot, window, epochs=3):
    workbench = window.workbench
    workbench.training_panel.epochs.setValue(epochs)
    workbench.training_panel.lr.setValue(0.003)
    with qtbot.waitSignal(workbench.controller.finished, timeout=60_000) as blocker:
        workbench.training_panel.start_button.click()
        assert window.document.read_only
    return blocker.args[0]


def test_train_in_the_gui_then_the_cli_evaluates_the_saved_model_identically(qtbot, window, tmp_path, capsys):
    workbench = window.workbench
    report = _train(qtbot, window)
    assert report.reason == "finished"
    assert workbench.tabs.tabText(workbench.tabs.currentIndex()) == "Training"
    assert workbench.curves.best_epoch() in (1, 2, 3)
    assert window.isWindowModified()  # trained weights are unsaved changes of the document
    # after training, the design is editable again and the weights belong to it
    assert not window.document.read_only and window.document.weights is not None
    path = tmp_path / "digits.safetensors"
    steps_drawn = workbench.curves.step_count
    assert steps_drawn > 0
    assert window.save_as(path)
    assert not window.isWindowModified()
    assert workbench.curves.step_count == steps_drawn  # saving keeps the live curves
    assert workbench.controller.owns_document_weights()

    trainer = workbench.controller.trainer
    digits = load_digits()
    expected = evaluate(trainer.model, digits.x, digits.y, normalization=trainer.normalization)
    assert cli.main(["evaluate", str(path), "--data", "digits", "--split", "all"]) == 0
    printed = capsys.readouterr().out
    accuracy = float(re.search(r"accuracy (\d+\.\d+)%", printed).group(1))
    assert accuracy == pytest.approx(100 * expected.accuracy, abs=0.005)
    assert accuracy > 80


def test_feature_maps_show_one_tile_per_channel_after_training(qtbot, window):
    _train(qtbot, window, epochs=1)
    view = window.workbench.feature_maps
    view.set_selected_layer(0)
    assert len(view.tile_rects()) == 16  # Conv2D with 16 filters


def test_design_is_read_only_while_training_and_edits_are_refused(qtbot, window):
    workbench = window.workbench
    workbench.training_panel.epochs.setValue(200)
    workbench.training_panel.batch_size.setValue(4)
    before = window.document.config
    with qtbot.waitSignal(workbench.controller.step, timeout=30_000):
        workbench.training_panel.start_button.click()
    refusal = window.document.add_layer("ReLU")
    assert refusal and "training" in refusal.lower()
    assert window.document.config == before
    assert not window.new_design()  # New is refused too, nothing lost
    with qtbot.waitSignal(workbench.controller.finished, timeout=30_000) as blocker:
        workbench.training_panel.stop_button.click()
    assert blocker.args[0].reason == "stopped"
    assert window.document.add_layer("ReLU") is None  # editable again


def test_closing_while_training_stops_and_joins_the_thread(qtbot, window, monkeypatch):
    workbench = window.workbench
    workbench.training_panel.epochs.setValue(500)
    workbench.training_panel.batch_size.setValue(4)
    with qtbot.waitSignal(workbench.controller.step, timeout=30_000):
        workbench.training_panel.start_button.click()
    thread = workbench.controller._job.thread
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append("stop?") or QMessageBox.StandardButton.Yes)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: asked.append("save?") or QMessageBox.StandardButton.Discard)
    assert window.close()
    assert asked == ["stop?", "save?"]  # the partial weights are offered for saving
    assert not thread.isRunning()
    assert workbench.controller.state == "idle"


def test_data_mismatch_is_fixed_with_one_click(qtbot, window):
    workbench = window.workbench
    window.document.set_input_shape([1, 28, 28])
    panel = workbench.data_panel
    assert "the images are 1×8×8 but the design's input_shape is 1×28×28" in panel.design_message()
    (button,) = panel.design_problems.buttons()
    assert button.text() == "Set the input to 1×8×8"
    with qtbot.waitSignal(panel.fixRequested, timeout=2000):
        button.click()
    assert window.document.config["input_shape"] == [1, 8, 8]
    window.document.undo()  # one undoable edit
    assert window.document.config["input_shape"] == [1, 28, 28]


def test_drawing_in_the_predict_pane_gives_probabilities(qtbot, window):
    _train(qtbot, window, epochs=2)
    predict = window.workbench.predict
    image = np.zeros((1, 8, 8), np.float32)
    image[0, 1:7, 3:5] = 1.0  # a "1"
    predict.set_image(image)
    qtbot.waitUntil(lambda: len(predict.top_classes()) > 0, timeout=5000)
    top = predict.top_classes()
    probabilities = [p for _, p in top]
    assert all(0 <= p <= 100 for p in probabilities) and probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 100.01  # percentages of the top classes


def test_export_pytorch_code_builds_the_same_network(qtbot, window, tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "net.py"
    assert window.export_pytorch(path)
    namespace = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    net = namespace["build_model"]()
    from guicnn.core import Sequential

    model = Sequential.from_config(window.document.config, seed=0)
    net.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()}, strict=True)
    x = np.random.default_rng(0).random((2, 1, 8, 8), dtype=np.float32)
    net.eval()
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.forward(x), expected, atol=1e-5)


def test_an_exception_in_the_worker_becomes_a_dialog_and_a_log_line(qtbot, window, monkeypatch):
    workbench = window.workbench
    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append((box.text(), box.detailedText())) or 0)

    def broken_fit_iter(*args, **kwargs):
        raise MemoryError("cannot allocate 12 GB for a batch")
        yield  # a generator, like the real fit_iter

    from guicnn.core.training import Trainer

    monkeypatch.setattr(Trainer, "fit_iter", broken_fit_iter)
    with qtbot.waitSignal(workbench.controller.crashed, timeout=10_000):
        workbench.training_panel.start_button.click()
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    assert "cannot allocate 12 GB" in shown[0][0] and "MemoryError" in shown[0][1]
    assert "internal error" in workbench.training_panel.log_view.toPlainText()
    assert workbench.controller.state == "idle" and not window.document.read_only


def test_design_tab_shows_the_stack_above_the_summary(qtbot, window):
    workbench = window.workbench
    workbench.show_tab("Design")
    qtbot.waitUntil(lambda: window.summary.isVisible(), timeout=2000)
    assert window.stack.isVisible()
    assert window.summary.table.model().rowCount() >= len(window.document.layers)
    assert "summary" not in window.docks  # no empty dock left behind


def test_an_opened_model_trains_on_from_where_it_was_saved(qtbot, window, tmp_path, monkeypatch):
    _train(qtbot, window, epochs=2)
    path = tmp_path / "two_epochs.safetensors"
    assert window.save_as(path)
    saved = window.workbench.controller.trainer.model.state_dict()
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Discard)
    assert window.open_file(path)
    workbench = window.workbench
    assert window.document.weights is not None
    assert workbench.training_panel.start_button.text().endswith("Train more")
    assert not workbench.training_panel.mode.isHidden()
    assert workbench.curves.best_epoch() in (1, 2)  # the saved history is drawn
    workbench.training_panel.epochs.setValue(1)
    workbench.training_panel.mode.setCurrentIndex(0)  # continue the trained weights
    with qtbot.waitSignal(workbench.controller.finished, timeout=30_000):
        workbench.training_panel.start_button.click()
    trainer = workbench.controller.trainer
    assert trainer.epoch == 3 and len(trainer.history["epoch"]) == 3
    changed = trainer.model.state_dict()
    assert any(not np.array_equal(saved[k], changed[k]) for k in saved)


def test_no_forward_pass_in_the_gui_thread_from_train_to_stop(qtbot, window, monkeypatch):
    """Train pressed on the Design tab, snapshots, an epoch's end and Stop: every forward pass of
    the run happens in the worker thread, never in the window's (that froze it for ~0.5 s)."""
    import threading

    from guicnn.core.model import Sequential

    workbench = window.workbench
    workbench.show_tab("Design")
    qtbot.wait(300)  # idle: the overview rows are made now, not when training starts
    assert workbench.feature_maps.overview_complete()
    forward, in_gui = Sequential.forward, []

    def recording_forward(self, *args, **kwargs):
        in_gui.append(threading.current_thread() is threading.main_thread())
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(Sequential, "forward", recording_forward)
    workbench.training_panel.epochs.setValue(30)
    workbench.training_panel.batch_size.setValue(8)
    with qtbot.waitSignal(workbench.controller.epoch, timeout=60_000):
        workbench.training_panel.start_button.click()
    assert workbench.tabs.tabText(workbench.tabs.currentIndex()) == "Training"
    with qtbot.waitSignal(workbench.controller.finished, timeout=60_000):
        workbench.training_panel.stop_button.click()
    qtbot.wait(200)
    assert in_gui and not any(in_gui)
    assert workbench.feature_maps.current_page() == "overview"  # drawn from the worker's snapshots


def test_a_reopened_model_is_whole(qtbot, window, tmp_path):
    """After save → open: per-batch curves, the epoch log, the confusion matrix and the
    misclassified images are there again (the last two computed in a worker from the data)."""
    workbench = window.workbench
    _train(qtbot, window, epochs=2)
    steps = workbench.controller.trainer.step
    matrix = workbench.confusion.cell_texts()
    wrong = workbench.misclassified.captions()
    path = tmp_path / "digits.safetensors"
    assert window.save_as(path)
    window.document.load(window.document.config)  # forget everything of this session
    assert workbench.curves.step_count == 0 and workbench.confusion.stack.showing_hint
    assert workbench.training_panel.start_button.text().endswith("Train")

    with qtbot.waitSignal(workbench.controller.evaluated, timeout=30_000):
        assert window.open_file(path)
    assert workbench.curves.step_count == steps  # every batch, not only the ones drawn live
    assert workbench.curves.epoch_count == 2
    log = workbench.training_panel.log_view.toPlainText()
    assert re.search(r"^\s+1/2 ", log, re.M) and re.search(r"^\s+2/2 .*", log, re.M) and "★" in log
    assert "trained 2 epochs" in workbench.training_panel.progress.format()
    assert workbench.confusion.cell_texts() == matrix  # the same weights on the same validation split
    assert workbench.misclassified.captions() == wrong
    assert "after 2 epochs" in workbench.confusion.title.text()


def test_the_train_panel_tells_the_truth_after_an_edit_drops_the_weights(qtbot, window):
    workbench, panel = window.workbench, window.workbench.training_panel
    _train(qtbot, window, epochs=1)
    assert panel.start_button.text().endswith("Train more")
    window.document.set_field(0, "filters", 8)  # the first Conv2D's weights no longer fit
    assert window.document.weights is None
    assert panel.start_button.text().endswith("Train") and panel.mode.isHidden()
    assert "dropped" in panel.status_text() and "Undo" in panel.status_text()
    assert "16" in panel.status_text()  # the reason: which parameter changed shape
    assert panel.progress.value() == 0 and "dropped" in panel.progress.format()
    assert "1/1" not in panel.log_view.toPlainText()  # not the previous run's log
    assert workbench.curves.epoch_count == 0 and workbench.confusion.stack.showing_hint
    with qtbot.waitSignal(workbench.controller.evaluated, timeout=30_000):
        window.document_undo()
    assert window.document.weights is not None
    assert panel.start_button.text().endswith("Train more") and not panel.mode.isHidden()
    assert re.search(r"^\s+1/1 ", panel.log_view.toPlainText(), re.M)
    assert workbench.curves.epoch_count == 1
    assert not workbench.confusion.stack.showing_hint


def test_a_colour_preset_trains_out_of_the_box(qtbot, monkeypatch):
    """`run_gui.py --preset tiny_vgg --train`: the built-in colour shapes load and training runs."""
    from guicnn.ui.app import build_window, parse_args

    window = build_window(parse_args(["--preset", "tiny_vgg", "--train", "--epochs", "1", "--size", "1280x800"]))
    window.workbench.data_panel.shapes_count.setValue(150)  # before the data loads: a quick test
    window.show()
    try:
        with qtbot.waitSignal(window.workbench.controller.finished, timeout=120_000) as blocker:
            pass
        assert blocker.args[0].reason == "finished"
        data = window.workbench.data_panel.dataset()
        assert data.name == "shapes-rgb" and data.input_shape == (3, 32, 32)
    finally:
        monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Discard)
        window.close()
        window.workbench.shutdown()
        window.deleteLater()


def test_a_preset_made_for_a_download_offers_it_and_the_data_it_trains_on_now(qtbot, window, monkeypatch, tmp_path):
    from guicnn.core.data import DATASETS
    from guicnn.core.designfile import preset_paths
    from guicnn.ui import style
    from guicnn.ui.data.panel import DataPanel

    monkeypatch.setenv("GUICNN_CACHE", str(tmp_path))  # nothing downloaded
    panel = window.workbench.data_panel
    path = next(p for p in preset_paths() if p.stem == "tiny_vgg")
    assert window.new_from_preset(path)
    qtbot.waitUntil(lambda: panel.dataset() is not None and panel.dataset().name == "shapes-rgb", timeout=30_000)
    offer = panel.offer
    assert offer.isVisibleTo(panel) and "made for CIFAR-10" in offer.message.text()
    assert offer.download_button.text() == f"Download CIFAR-10 ({style.fmt_bytes(DATASETS['cifar10'].total_size)})"
    assert offer.use_button.isHidden()  # the colour shapes are loaded and fit
    asked = []
    monkeypatch.setattr(DataPanel, "load_remote", lambda self, name, download=True: asked.append(name))
    offer.download_button.click()
    assert asked == ["cifar10"]
    # other data that does not fit: the built-in set it trains on now is one click away
    panel.load_builtin("digits")
    qtbot.waitUntil(lambda: panel.dataset().name == "digits", timeout=30_000)
    assert not offer.use_button.isHidden() and offer.use_button.text() == "Use shapes in colour"
    offer.use_button.click()
    qtbot.waitUntil(lambda: panel.dataset().name == "shapes-rgb", timeout=30_000)
