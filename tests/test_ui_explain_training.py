"""Explaining training in the GUI: the Step button, the epoch time machine, and A/B comparison."""

import numpy as np
from PySide6.QtWidgets import QMessageBox

from guicnn.core.training import Trainer
from guicnn.ui.widgets.time_machine import LIVE

# The ``window`` fixture (conftest.py): the application on digits_small with the digits loaded.


def _settings(window, epochs=2, lr=0.003, batch_size=128):
    panel = window.workbench.training_panel
    panel.epochs.setValue(epochs)
    panel.lr.setValue(lr)
    panel.batch_size.setValue(batch_size)


def _train(qtbot, window):
    workbench = window.workbench
    with qtbot.waitSignal(workbench.controller.finished, timeout=60_000) as blocker:
        workbench.training_panel.start_button.click()
    return blocker.args[0]


def _step(qtbot, window):
    workbench = window.workbench
    with qtbot.waitSignal(workbench.controller.explained, timeout=30_000) as blocker:
        workbench.training_panel.step_button.click()
    return blocker.args[0]


# ---- Step ----------------------------------------------------------------------------------

def test_step_then_resume_equals_an_uninterrupted_run(qtbot, window):
    _settings(window, epochs=2, batch_size=256)  # 1,437 training images: 6 batches per epoch
    workbench = window.workbench
    train, val = workbench.data_panel.train_val()
    settings = workbench.training_panel.settings()
    explanations = [_step(qtbot, window) for _ in range(7)]  # across the end of epoch 1
    assert workbench.controller.state == "paused" and window.document.read_only
    assert [(e.epoch, e.batch) for e in explanations] == [(1, b) for b in range(1, 7)] + [(2, 1)]
    assert workbench.tabs.tabText(workbench.tabs.currentIndex()) == "One step"
    step_view = workbench.step_view
    assert step_view.title.text().startswith("Step 7 · epoch 2, batch 1 of 6")
    conv = step_view.row_texts(0)
    assert conv[0].startswith("0 · Conv2D") and conv[5] != "" and conv[6] != ""
    assert step_view.row_texts(1)[5] == ""  # a ReLU has no weights
    assert step_view.formula_text().splitlines()[0].startswith("g = ∂L/∂w = ")
    before, after, change = step_view.filter_mosaics()
    assert before is not None and np.nanmax(np.abs(change)) > 0

    with qtbot.waitSignal(workbench.controller.finished, timeout=60_000):
        workbench.training_panel.pause_button.click()  # Resume
    stepped = workbench.controller.trainer

    whole = Trainer.from_config(window.document.config, settings)
    whole.fit(train, val)
    for key, value in whole.model.state_dict().items():
        np.testing.assert_array_equal(stepped.model.state_dict()[key], value, err_msg=key)
    assert {k: v for k, v in stepped.history.items() if k != "seconds"} == \
        {k: v for k, v in whole.history.items() if k != "seconds"}


def test_step_while_running_pauses_and_explains_the_next_batch(qtbot, window):
    _settings(window, epochs=3, batch_size=32)
    workbench = window.workbench
    with qtbot.waitSignal(workbench.controller.step, timeout=30_000):
        workbench.training_panel.start_button.click()
    explanation = _step(qtbot, window)
    assert workbench.controller.state == "paused"
    assert explanation.step == workbench.controller.trainer.step
    workbench.step_view.select_layer(5)  # a MaxPool: the formula of the next layer with weights
    assert workbench.step_view.selected_layer() == 7
    assert workbench.step_view.formula_title.text().endswith("7.weight[0, " +
                                                            workbench.step_view.formula_title.text().split(", ")[-1])
    assert workbench.step_view.filter_title.text().startswith("First filter of layer 7")
    with qtbot.waitSignal(workbench.controller.finished, timeout=30_000):
        workbench.training_panel.stop_button.click()


# ---- the epoch time machine ----------------------------------------------------------------

def test_the_slider_shows_epoch_k_filters_maps_and_confusion(qtbot, window):
    _settings(window, epochs=3)
    _train(qtbot, window)
    workbench = window.workbench
    history = workbench.controller.trainer.snapshots
    assert history.epochs == [1, 2, 3]
    bar = workbench.time_bars["Filters"]
    assert bar.position() == LIVE and bar.slider.maximum() == 3
    workbench.show_tab("Filters")
    live_filters = workbench.filters._filters[0][1].copy()
    bar.slider.setValue(0)  # drag to epoch 1
    assert bar.text().startswith("epoch 1 of 3")
    assert all(b.position() == 0 for b in workbench.time_bars.values())  # the sliders move together
    np.testing.assert_array_equal(workbench.filters._filters[0][1], history[0].filters[0])
    assert not np.array_equal(workbench.filters._filters[0][1], live_filters)
    workbench.show_tab("Confusion")
    np.testing.assert_array_equal(workbench.confusion._matrix, history[0].confusion)
    assert "after epoch 1 (time machine)" in workbench.confusion.title.text()
    workbench.time_bars["Confusion"].slider.setValue(1)
    np.testing.assert_array_equal(workbench.confusion._matrix, history[1].confusion)
    workbench.show_tab("Training")
    shown = workbench.feature_maps._activations
    np.testing.assert_array_equal(shown[0], history[1].feature_maps[0].astype(np.float32))
    workbench.time_bars["Training"].slider.setValue(3)  # back to live
    assert workbench.replay_snapshot() is None
    workbench.show_tab("Filters")
    np.testing.assert_array_equal(workbench.filters._filters[0][1], live_filters)


def test_snapshots_come_back_when_the_model_is_opened(qtbot, window, tmp_path, monkeypatch):
    _settings(window, epochs=2)
    _train(qtbot, window)
    path = tmp_path / "m.safetensors"
    assert window.save_as(path)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Discard)
    assert window.new_design()
    assert window.workbench.time_bars["Filters"].slider.maximum() == 0
    assert window.open_file(path)
    workbench = window.workbench
    bar = workbench.time_bars["Filters"]
    assert bar.slider.maximum() == 2 and bar.isEnabled()
    workbench.show_tab("Filters")
    bar.slider.setValue(1)
    saved = window.document.model_info["snapshots"]
    np.testing.assert_array_equal(workbench.filters._filters[0][1], saved[1].filters[0])


# ---- A/B -----------------------------------------------------------------------------------

def test_pinning_a_overlays_its_curves_and_predict_shows_both_models(qtbot, window):
    _settings(window, epochs=2)
    _train(qtbot, window)
    workbench = window.workbench
    panel = workbench.training_panel
    assert panel.pin_button.isEnabled()
    panel.pin_button.click()
    pinned = workbench.pinned
    assert pinned is not None and panel.pinned_label.text().startswith("A: ")
    x, y = workbench.curves.reference_data("accuracy", "val")
    np.testing.assert_allclose(y, 100 * np.array(pinned.history["val_accuracy"]))
    assert {"A: validation (dashed)", "A: training (dotted)"} <= set(workbench.curves.legend_texts())

    _settings(window, epochs=1, lr=0.01)  # B: other settings, restarted
    panel.mode.setCurrentIndex(1)
    _train(qtbot, window)
    assert workbench.pinned is pinned
    assert len(workbench.curves.reference_data("loss", "val")[1]) == 2  # A stays overlaid
    a_weights = pinned.weights["0.weight"]
    assert not np.array_equal(a_weights, workbench.controller.trainer.model.layers[0].params["weight"])

    workbench.show_tab("Predict")
    image = workbench.data_panel.train_val()[1].x[0]
    workbench.predict.set_image(image)
    qtbot.waitUntil(lambda: bool(workbench.predict.reference_classes()), timeout=5000)
    top_b, top_a = workbench.predict.top_classes(), workbench.predict.reference_classes()
    assert [name for name, _ in top_a] == [name for name, _ in top_b]  # the same classes, both answers
    sent = workbench.predict.current_image()  # the image as the canvas hands it on (8-bit)
    a = pinned.predict(sent)
    order = np.argsort(-workbench.controller.predict(sent)[0], kind="stable")[:len(top_a)]
    np.testing.assert_allclose([p for _, p in top_a], 100 * a.probabilities[order], rtol=1e-5)
    assert workbench.compare_maps.isVisible()
    assert workbench.compare_maps.mosaic("A") is not None and workbench.compare_maps.mosaic("B") is not None

    panel.pin_button.click()  # unpin
    assert workbench.pinned is None and workbench.curves.reference_data()[0].size == 0
    assert not workbench.compare_maps.isVisible()
