"""Training in the GUI: worker thread, signal order, pause/stop, divergence, shutdown, snapshots."""

import os
import sys
import threading
import time

import numpy as np
import pytest

from guicnn.core.data import load_digits, train_val_split
from guicnn.core.designfile import load_preset
from guicnn.core.losses import LOSSES
from guicnn.core.optim import DEFAULT_OPTIMIZER, OPTIMIZERS, SCHEDULE_TYPES, make_optimizer
from guicnn.core.training import TrainSettings
from guicnn.ui.builder.document import DesignDocument
from guicnn.ui.training.controller import TrainingController, TrainingSnapshot
from guicnn.ui.training.panel import TrainingPanel


@pytest.fixture
def digits():
    return train_val_split(load_digits(), 0.2, seed=0)


@pytest.fixture
def controller(qtbot):
    document = DesignDocument(load_preset("digits_small"))
    controller = TrainingController(document)
    yield controller
    controller.shutdown()  # never leave a QThread running: it would abort the test process


def _record(controller):
    events = []
    controller.step.connect(lambda r: events.append(("step", r)))
    controller.epoch.connect(lambda r: events.append(("epoch", r)))
    controller.finished.connect(lambda r: events.append(("finished", r)))
    controller.failed.connect(lambda m: events.append(("failed", m)))
    return events


def test_run_reports_in_order_and_trained_weights_belong_to_the_document(qtbot, controller, digits):
    train, val = digits
    events = _record(controller)
    snapshots = []
    controller.snapshot.connect(snapshots.append)
    controller.set_probe(val.x[0])
    settings = TrainSettings(optimizer={"type": "adam", "lr": 0.003}, batch_size=32, epochs=3)
    with qtbot.waitSignal(controller.finished, timeout=60_000):
        assert controller.start(settings, train, val, continue_training=False)
        assert controller.document.read_only
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "finished" and kinds.count("epoch") == 3 and "failed" not in kinds
    steps = [r.step for kind, r in events if kind == "step"]
    assert steps == sorted(steps) and len(steps) >= 3
    epochs = [r.epoch for kind, r in events if kind == "epoch"]
    assert epochs == [1, 2, 3]
    # an epoch report comes after every step report of its epoch
    last_epoch_index = max(i for i, (k, _) in enumerate(events) if k == "epoch")
    assert all(r.epoch <= 3 for k, r in events[:last_epoch_index] if k == "step")
    assert events[-1][1].reason == "finished"
    assert events[-2][0] == "epoch" and events[-2][1].val_accuracy > 0.8
    assert not controller.document.read_only and controller.state == "idle"
    weights = controller.document.weights
    assert weights is not None and set(weights) == set(controller.trainer.model.state_dict())
    assert controller.document.modified
    # snapshots: one activation per layer, shaped like the layer's output, copies of live arrays
    assert all(isinstance(s, TrainingSnapshot) for s in snapshots)
    with_maps = [s for s in snapshots if s.activations is not None]
    assert with_maps
    activations = with_maps[-1].activations
    model = controller.trainer.model
    assert [a.shape for a in activations] == [layer.output_shape for layer in model.layers]
    assert activations[0].shape[0] == 16  # one image per channel of the first Conv2D
    conv = with_maps[-1].model.layers[0].params["weight"]
    assert conv.shape == (16, 1, 3, 3) and not np.shares_memory(conv, model.layers[0].params["weight"])
    assert with_maps[-1].probabilities.shape == (10,)
    assert with_maps[-1].probabilities.sum() == pytest.approx(1, abs=1e-5)
    final = [s for s in snapshots if s.epoch_end][-1].examples
    assert final.confidence.shape == final.predictions.shape == (len(val),)
    # the epoch reports carry the layer health, rated on the validation probe batch
    health = [r.health for k, r in events if k == "epoch"][-1]
    assert [h.index for h in health] == [i for i, layer in enumerate(model.layers)
                                         if layer.params or layer.type_name == "ReLU"]
    assert all(h.probes == min(64, len(val)) for h in health if h.dead_share is not None)


def test_step_signals_are_throttled(qtbot, controller, digits):
    train, val = digits
    events = _record(controller)
    settings = TrainSettings(batch_size=8, epochs=2)
    started = time.monotonic()
    with qtbot.waitSignal(controller.finished, timeout=60_000):
        controller.start(settings, train, val, continue_training=False)
    seconds = time.monotonic() - started
    steps = sum(1 for kind, _ in events if kind == "step")
    batches = 2 * -(-len(train) // 8)
    assert steps < batches  # throttled: far fewer signals than batches
    assert steps <= 20 * seconds + 2 * 2 + 2  # ≤ 20/s, plus the flush before each epoch report


def test_pause_resume_and_stop(qtbot, controller, digits):
    train, val = digits
    events = _record(controller)
    settings = TrainSettings(batch_size=4, epochs=50)
    with qtbot.waitSignal(controller.step, timeout=30_000):
        controller.start(settings, train, val, continue_training=False)
    controller.set_paused(True)
    assert controller.state == "paused"
    qtbot.wait(300)  # let a batch in flight finish
    frozen = controller.trainer.step
    qtbot.wait(400)
    assert controller.trainer.step == frozen  # nothing trains while paused
    controller.set_paused(False)
    qtbot.waitUntil(lambda: controller.trainer.step > frozen, timeout=10_000)
    with qtbot.waitSignal(controller.finished, timeout=30_000) as blocker:
        controller.stop()
    assert blocker.args[0].reason == "stopped"
    assert controller.state == "idle" and not controller.document.read_only
    assert controller.document.weights is not None  # partial results stay


def test_continue_keeps_progress_and_restart_starts_over(qtbot, controller, digits):
    train, val = digits
    settings = TrainSettings(batch_size=64, epochs=1)
    with qtbot.waitSignal(controller.finished, timeout=30_000):
        controller.start(settings, train, val, continue_training=False)
    first = controller.trainer
    assert first.epoch == 1 and controller.has_progress()
    with qtbot.waitSignal(controller.finished, timeout=30_000):
        controller.start(settings, train, val, continue_training=True)
    assert controller.trainer is first and first.epoch == 2
    with qtbot.waitSignal(controller.finished, timeout=30_000):
        controller.start(settings, train, val, continue_training=False)
    assert controller.trainer is not first and controller.trainer.epoch == 1


def test_divergence_stops_with_the_core_message(qtbot, controller, digits):
    train, val = digits
    settings = TrainSettings(optimizer={"type": "sgd", "lr": 1e6}, batch_size=32, epochs=2, normalize=False)
    with qtbot.waitSignal(controller.finished, timeout=30_000) as blocker:
        controller.start(settings, train, val, continue_training=False)
    report = blocker.args[0]
    assert report.reason == "diverged"
    assert "exploding gradients" in report.message  # caught at the first update, before NaN
    assert "lower learning rate" in report.message
    # nothing was applied: the document keeps no (broken) trained weights
    assert controller.trainer.step == 0 and controller.document.weights is None


def test_nan_learning_rate_is_refused_with_a_message(qtbot, controller, digits):
    train, val = digits
    with pytest.raises(ValueError, match="learning rate must be a positive number, got nan"):
        TrainSettings(optimizer={"type": "adam", "lr": float("nan")}).validate()
    messages = []
    controller.failed.connect(messages.append)
    settings = TrainSettings()
    settings.optimizer = {"type": "adam", "lr": float("nan")}  # bypasses validate(), as a bad file could
    assert not controller.start(settings, train, val, continue_training=False)
    assert messages and "learning rate must be a positive number, got nan" in messages[0]
    assert controller.state == "idle" and not controller.document.read_only


def test_invalid_design_or_mismatched_data_is_refused(qtbot, digits):
    train, val = digits
    document = DesignDocument(load_preset("lenet5"))  # 1x28x28 design, 1x8x8 data
    controller = TrainingController(document)
    messages = []
    controller.failed.connect(messages.append)
    assert not controller.start(TrainSettings(), train, val, continue_training=False)
    assert "28" in messages[0] and "8" in messages[0]
    controller.shutdown()


def test_shutdown_while_training_joins_the_thread(qtbot, controller, digits):
    train, val = digits
    with qtbot.waitSignal(controller.step, timeout=30_000):
        controller.start(TrainSettings(batch_size=4, epochs=100), train, val, continue_training=False)
    thread = controller._job.thread
    controller.shutdown()
    assert not thread.isRunning()
    assert controller.state == "idle" and not controller.document.read_only


def test_training_takes_every_core_but_the_windows(qtbot, controller, digits, monkeypatch):
    from guicnn.core import parallel

    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 4)
    train, val = digits
    with qtbot.waitSignal(controller.step, timeout=30_000):
        controller.start(TrainSettings(batch_size=4, epochs=100), train, val, continue_training=False)
    assert controller._job.worker._threads == parallel.job_threads() == 3
    controller.shutdown()


def test_prediction_uses_the_trained_model_and_its_normalisation(qtbot, controller, digits):
    train, val = digits
    with qtbot.waitSignal(controller.finished, timeout=30_000):
        controller.start(TrainSettings(batch_size=32, epochs=3, optimizer={"type": "adam", "lr": 0.003}),
                         train, val, continue_training=False)
    probabilities, activations = controller.predict(val.x[1])
    assert probabilities.shape == (10,) and probabilities.sum() == pytest.approx(1, abs=1e-5)
    correct = sum(int(np.argmax(controller.predict(img)[0]) == label) for img, label in zip(val.x[:50], val.y[:50]))
    assert correct >= 40
    assert len(activations) == len(controller.trainer.model.layers)


def test_panel_settings_round_trip_and_state(qtbot):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    settings = TrainSettings(optimizer={"type": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
                             batch_size=16, epochs=7, seed=3, schedule={"type": "step", "step_size": 2, "gamma": 0.5},
                             augment={"shift": 2, "flip": True})
    panel.set_settings(settings)
    assert panel.settings().to_dict() == settings.to_dict()
    starts = []
    panel.startRequested.connect(starts.append)
    panel.start_button.click()
    assert starts == [False]
    panel.set_has_progress(True)
    panel.mode.setCurrentIndex(0)
    panel.start_button.click()
    assert starts == [False, True]
    panel.set_state("running")
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled() and not panel.lr.isEnabled()
    panel.set_state("paused")
    assert panel.pause_button.text().endswith("Resume")


def test_switching_optimizer_takes_its_defaults_but_keeps_what_the_user_set(qtbot):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    assert panel.settings().optimizer == {"type": "adam", "lr": OPTIMIZERS["adam"].field("lr").default}
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("sgd"))
    assert panel.settings().optimizer["lr"] == pytest.approx(OPTIMIZERS["sgd"].field("lr").default)
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("rmsprop"))
    assert panel.momentum.value() == OPTIMIZERS["rmsprop"].field("momentum").default
    assert panel.lr.value() == pytest.approx(OPTIMIZERS["rmsprop"].field("lr").default)
    panel.momentum.setValue(0.9)  # the user's choice survives state changes
    panel.set_state("running")
    panel.set_state("idle")
    assert panel.settings().optimizer["momentum"] == pytest.approx(0.9)
    panel.lr.setValue(0.02)
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("adam"))
    assert panel.lr.value() == pytest.approx(0.02)  # a learning rate the user typed stays


def test_the_worker_splits_the_whole_data_set_and_sends_the_final_weights(qtbot, controller):
    """With ``split`` the GUI thread hands over the whole set (no copy in the window's thread);
    after Stop a last snapshot carries the final weights, so the window computes nothing."""
    data = load_digits()
    snapshots, started = [], []
    controller.snapshot.connect(snapshots.append)
    controller.started.connect(started.append)
    controller.set_probe(data.x[0])
    settings = TrainSettings(batch_size=4, epochs=50)
    with qtbot.waitSignal(controller.step, timeout=30_000):
        assert controller.start(settings, data, None, continue_training=False, split=(0.25, 3))
    expected_val = train_val_split(data, 0.25, seed=3)[1]
    assert started[0]["batches_per_epoch"] == -(-(len(data) - len(expected_val)) // 4)
    assert len(controller._val) == len(expected_val)
    np.testing.assert_array_equal(controller._val.y, expected_val.y)
    with qtbot.waitSignal(controller.finished, timeout=30_000):
        controller.stop()
    last = snapshots[-1]
    weights = controller.document.weights
    np.testing.assert_array_equal(last.model.layers[0].params["weight"], weights["0.weight"])
    assert last.step == controller.trainer.step


def test_a_run_counts_as_running_from_the_moment_it_is_started(qtbot, controller, digits):
    """Views asked to draw while the run starts (a tab switch) must not compute in the GUI thread."""
    train, val = digits
    seen = []
    controller.started.connect(lambda _info: seen.append(controller.is_running()))
    with qtbot.waitSignal(controller.finished, timeout=30_000):
        controller.start(TrainSettings(batch_size=64, epochs=1), train, val, continue_training=False)
    assert seen == [True] and not controller.is_running()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_the_training_thread_is_nicer_than_the_gui_thread(qtbot, monkeypatch):
    from guicnn.ui.worker import WORKER_NICENESS

    controller, niceness = TrainingController(DesignDocument(load_preset("digits_small"))), []
    train, val = train_val_split(load_digits(), 0.2, seed=0)
    original = TrainingController._snapshot

    def recording_snapshot(self, epoch_end):
        niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return original(self, epoch_end)

    monkeypatch.setattr(TrainingController, "_snapshot", recording_snapshot)
    try:
        with qtbot.waitSignal(controller.finished, timeout=30_000):
            controller.start(TrainSettings(batch_size=64, epochs=1), train, val, continue_training=False)
    finally:
        controller.shutdown()
    gui = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert niceness and set(niceness) == {min(gui + WORKER_NICENESS, 19)}


def test_panel_defaults_are_the_cores(qtbot):
    """One home for defaults: an untouched panel gives what the core (and so the CLI) would use."""
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    core = TrainSettings()
    for kind, cls in OPTIMIZERS.items():
        panel.optimizer.setCurrentIndex(panel.optimizer.findData(kind))
        given = panel.settings()
        assert given.optimizer["type"] == kind
        assert given.optimizer["lr"] == pytest.approx(cls.field("lr").default)
        assert given.optimizer.get("momentum", 0.0) == pytest.approx(
            cls.field("momentum").default if cls.field("momentum") else 0.0)
        assert make_optimizer({"w": np.zeros(1, np.float32)}, given.optimizer).get_config() == \
            make_optimizer({"w": np.zeros(1, np.float32)}, {"type": kind}).get_config()
    panel.optimizer.setCurrentIndex(panel.optimizer.findData(DEFAULT_OPTIMIZER))
    given = panel.settings()
    for name in ("loss", "batch_size", "epochs", "seed", "normalize", "augment", "schedule"):
        assert getattr(given, name) == getattr(core, name), name
    assert given.optimizer == {"type": core.optimizer["type"], "lr": core.optimizer["lr"]}
    panel.schedule.setCurrentIndex(panel.schedule.findData("step"))
    step = panel.settings().schedule
    assert step == SCHEDULE_TYPES["step"].defaults()
    assert [panel.schedule.itemText(i) for i in range(panel.schedule.count())] == \
        [spec.title for spec in SCHEDULE_TYPES.values()]
    assert [panel.loss.itemData(i) for i in range(panel.loss.count())] == list(LOSSES)


def test_the_saved_settings_name_the_split_the_window_trained_on(qtbot, controller):
    """A model trained in the window records the data panel's split, so `guicnn evaluate --split val`
    and the exported training script score the same validation images the window used."""
    from guicnn.core.training import Trainer

    data = load_digits()
    settings = TrainSettings(batch_size=64, epochs=1)  # val_fraction 0.2 and seed 0 by default
    with qtbot.waitSignal(controller.finished, timeout=60_000):
        assert controller.start(settings, data, None, continue_training=False, split=(0.3, 7))
    saved = controller.document.model_info["training"]["settings"]
    assert saved["val_fraction"] == 0.3 and saved["split_seed"] == 7 and saved["seed"] == 0
    again = Trainer.from_config(controller.document.config, TrainSettings.from_dict(saved))
    _, val = again.split_data(data)
    _, window_val = train_val_split(data, 0.3, seed=7)
    assert np.array_equal(val.x, window_val.x) and np.array_equal(val.y, window_val.y)
    _, other = train_val_split(data, 0.3, seed=0)
    assert not np.array_equal(val.y, other.y)  # the split seed matters, so the check can fail
