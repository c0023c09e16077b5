"""CurvesView: growing buffers, one curve item per series, smoothing, best epoch, hover read-out."""

from __future__ import annotations

import numpy as np
import pytest

from guicnn.ui.views.curves import CurvesView, ema


def _loop_ema(values, weight):
    """TensorBoard's smoothing, written as the obvious loop (the reference)."""
    out, state, count = [], 0.0, 0
    for v in values:
        if not np.isfinite(v):
            out.append(np.nan)
            continue
        state = weight * state + (1 - weight) * v
        count += 1
        out.append(state / (1 - weight**count) if weight > 0 else v)
    return np.array(out)


@pytest.fixture
def view(qtbot):
    widget = CurvesView()
    qtbot.addWidget(widget)
    widget.resize(900, 400)
    return widget


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.99])
def test_ema_matches_the_loop_and_continues_across_calls(weight):
    rng = np.random.default_rng(0)
    values = rng.random(9000) * 3
    values[[5, 700, 8000]] = np.nan
    whole, _, _ = ema(values, weight)
    np.testing.assert_allclose(whole, _loop_ema(values, weight), rtol=1e-9, atol=1e-12)
    first, state, count = ema(values[:4321], weight)
    second, _, _ = ema(values[4321:], weight, state, count)
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=1e-9, atol=1e-12)


def test_starts_with_a_hint_not_a_blank_panel(view):
    assert view.stack.showing_hint
    assert "Train" in view.stack.hint_label.text()


def test_one_curve_item_kept_across_1000_steps_and_data_grows(view):
    items = list(view.loss_plot.listDataItems()) + list(view.accuracy_plot.listDataItems())
    raw = view.curves["loss"]["raw"]
    for step in range(1, 1001):
        view.add_step(step / 100, 2.0 / step, min(1.0, step / 500))
        if step == 500:
            view.flush()
            assert raw.getOriginalDataset()[0].size == 500
    view.flush()
    assert list(view.loss_plot.listDataItems()) + list(view.accuracy_plot.listDataItems()) == items
    assert view.curves["loss"]["raw"] is raw
    x, y = raw.getOriginalDataset()
    assert x.size == y.size == 1000 == view.step_count
    assert x[-1] == pytest.approx(10.0)
    acc_x, acc_y = view.curves["accuracy"]["raw"].getOriginalDataset()
    assert acc_y[-1] == pytest.approx(100.0)  # shown in percent
    assert not view.stack.showing_hint


def test_appends_are_redrawn_once_per_event_loop_pass(view, qtbot):
    view.add_steps(np.linspace(0.01, 1, 100), np.ones(100), np.full(100, 0.5))
    qtbot.waitUntil(lambda: view.curves["loss"]["raw"].getOriginalDataset()[0] is not None
                    and view.curves["loss"]["raw"].getOriginalDataset()[0].size == 100, timeout=1000)


def test_best_epoch_marker_at_the_highest_validation_accuracy(view):
    for epoch, (val_loss, val_acc) in enumerate([(1.0, 0.5), (0.6, 0.8), (0.5, 0.93), (0.55, 0.9)], start=1):
        view.add_epoch(epoch, val_loss, val_acc, train_loss=val_loss * 0.9, train_accuracy=val_acc + 0.02)
    view.flush()
    assert view.best_epoch() == 3
    for line in view.best_lines:
        assert line.isVisible() and line.value() == 3
    assert "epoch 3" in view.best_lines[0].label.format and "93.0%" in view.best_lines[0].label.format
    x, y = view.curves["accuracy"]["val"].getOriginalDataset()
    np.testing.assert_allclose(y, [50, 80, 93, 90])


def test_set_history_shows_per_epoch_training_and_gaps(view):
    history = {"epoch": [1, 2, 3], "train_loss": [1.0, 0.5, 0.3], "train_accuracy": [0.6, 0.8, 0.9],
               "val_loss": [None, 0.6, 0.4], "val_accuracy": [None, 0.75, 0.85]}
    view.set_history(history)
    x, y = view.curves["loss"]["train_epoch"].getOriginalDataset()
    np.testing.assert_allclose(x, [1, 2, 3])
    np.testing.assert_allclose(y, [1.0, 0.5, 0.3])
    assert view.best_epoch() == 3
    assert "training in epoch 2" in view.readout_at(2.1)
    view.clear()
    assert view.stack.showing_hint and view.epoch_count == 0


def test_history_without_validation_marks_the_lowest_training_loss(view):
    view.set_history({"train_loss": [1.0, 0.2, 0.4], "train_accuracy": [0.5, 0.9, 0.8]})
    assert view.best_epoch() == 2
    assert "lowest training loss" in view.best_lines[0].label.format


def test_readout_shows_batch_and_validation_values(view):
    view.add_steps([0.5, 1.0, 1.5, 2.0], [0.9, 0.7, 0.5, 0.4], [0.5, 0.6, 0.7, 0.8])
    view.add_epoch(1, 0.65, 0.62)
    view.add_epoch(2, 0.45, 0.77)
    view.flush()
    text = view.readout_at(1.45)
    assert "training batch at epoch 1.50: loss 0.5" in text
    assert "validation after epoch 1: loss 0.65, accuracy 62.0%" in text or "after epoch 2" in text
    assert all(c.isVisible() for c in view.crosshairs)


def test_smoothing_changes_recompute_and_zero_hides_the_smoothed_curve(view):
    losses = np.array([1.0, 0.0, 1.0, 0.0])
    view.add_steps([0.25, 0.5, 0.75, 1.0], losses, [0.1, 0.2, 0.3, 0.4])
    view.set_smoothing(0.5)
    _, smooth = view.curves["loss"]["smooth"].getOriginalDataset()
    np.testing.assert_allclose(smooth, _loop_ema(losses, 0.5))
    view.set_smoothing(0.0)
    smooth_x = view.curves["loss"]["smooth"].getOriginalDataset()[0]
    assert smooth_x is None or smooth_x.size == 0
    view.add_step(1.25, 0.5, 0.5)  # appends keep working after a change
    view.flush()
    assert view.curves["loss"]["raw"].getOriginalDataset()[0].size == 5


def test_log_scale_loss_and_non_finite_values_do_not_break_drawing(view):
    view.add_steps([0.5, 1.0], [float("nan"), 0.5], [0.5, float("inf")])
    view.add_epoch(1, None, None)
    view.log_loss.setChecked(True)
    view.flush()
    assert view.best_epoch() is None
    assert view.loss_plot.getAxis("left").logMode


def test_hovering_an_earlier_epoch_after_train_more_reads_that_epoch(view):
    """A saved history without batches, then Train more: an earlier epoch reads its own values,
    not the first batch of the new run ('epoch 293.31' wherever one hovered)."""
    epochs = list(range(1, 294))
    view.set_history({"epoch": epochs, "train_loss": [1 / e for e in epochs], "train_accuracy": [0.5] * 293,
                      "val_loss": [2 / e for e in epochs], "val_accuracy": [0.4] * 293})
    view.add_steps([293.31, 293.62, 294.0], [0.01, 0.01, 0.01], [0.9, 0.9, 0.9])
    text = view.readout_at(100.2)
    assert "epoch 100" in text and "293" not in text
    assert "training in epoch 100: loss 0.01" in text and "validation after epoch 100: loss 0.02" in text
    assert view.crosshairs[0].value() == pytest.approx(100)
    assert "training batch at epoch 293.62" in view.readout_at(293.6)


def test_a_saved_history_with_batches_draws_every_batch(view):
    history = {"epoch": [1, 2], "train_loss": [0.8, 0.4], "train_accuracy": [0.6, 0.9], "val_loss": [0.7, 0.5],
               "val_accuracy": [0.65, 0.85], "batch_loss": [1.0, 0.6, 0.5, 0.3], "batch_epoch": [1, 1, 2, 2],
               "batch_accuracy": [0.5, 0.7, 0.85, 0.95]}
    view.set_history(history)
    assert view.step_count == 4 and view.epoch_count == 2
    x, loss = view.curves["loss"]["raw"].getOriginalDataset()
    np.testing.assert_allclose(x, [0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(loss, [1.0, 0.6, 0.5, 0.3])
    _, accuracy = view.curves["accuracy"]["raw"].getOriginalDataset()
    np.testing.assert_allclose(accuracy, [50, 70, 85, 95])
    # files from before per-batch accuracy was saved: the loss is drawn, the accuracy left out
    view.set_history({k: v for k, v in history.items() if k != "batch_accuracy"})
    assert view.step_count == 4
    assert np.isnan(view.curves["accuracy"]["raw"].getOriginalDataset()[1]).all()
