"""Training loop: reports, determinism, stop/pause, divergence, evaluation, exact resume."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import numpy as np
import pytest

from guicnn.core import Sequential, SoftmaxCrossEntropy, TrainingError
from guicnn.core.data import Dataset, make_shapes
from guicnn.core.training import (
    DataMismatchError,
    EndReport,
    EpochReport,
    StepReport,
    Trainer,
    TrainSettings,
    batch_bounds,
    evaluate,
)

# A tiny design with every layer that behaves differently in training (BN, dropout, stochastic pool).
TINY = {
    "name": "tiny",
    "input_shape": [1, 6, 6],
    "layers": [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": 1},
        {"type": "BatchNorm"},
        {"type": "ReLU"},
        {"type": "StochasticPool2D", "pool_size": 2},
        {"type": "Flatten"},
        {"type": "Dropout", "rate": 0.2},
        {"type": "Dense", "units": 3},
        {"type": "Softmax"},
    ],
}


def blobs(n: int = 120, seed: int = 0) -> Dataset:
    """3 easy classes: a bright block top-left, bottom-right, or nowhere (plus noise)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.random((n, 1, 6, 6), dtype=np.float32) * 0.3
    x[y == 0, :, :3, :3] += 0.7
    x[y == 1, :, 3:, 3:] += 0.7
    return Dataset(x, y, ["tl", "br", "none"], name="blobs")


def settings(**kw) -> TrainSettings:
    base = dict(epochs=2, batch_size=16, seed=3, optimizer={"type": "adam", "lr": 0.01},
                augment={"shift": 1, "flip": True})
    base.update(kw)
    return TrainSettings(**base)


def weights(model: Sequential) -> dict[str, np.ndarray]:
    return model.state_dict()


def assert_same_weights(a: Sequential, b: Sequential, atol: float = 0.0) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        np.testing.assert_allclose(wa[key], wb[key], rtol=0, atol=atol, err_msg=key)


def same_history(a: Trainer, b: Trainer) -> bool:
    """Histories equal in everything but wall-clock seconds."""
    return {k: v for k, v in a.history.items() if k != "seconds"} == \
        {k: v for k, v in b.history.items() if k != "seconds"}


def run(trainer: Trainer, data, **kw) -> list:
    return list(trainer.fit_iter(data, **kw))


# ---- settings ------------------------------------------------------------------------------

def test_settings_round_trip_through_json():
    s = settings(schedule={"type": "step", "step_size": 1, "gamma": 0.5}, loss="mse", val_fraction=0.25)
    again = TrainSettings.from_dict(json.loads(json.dumps(s.to_dict())))
    assert again == s
    assert again.lr == 0.01


@pytest.mark.parametrize("change, words", [
    ({"batch_size": 0}, "batch_size"),
    ({"epochs": -1}, "epochs"),
    ({"loss": "hinge"}, "hinge"),
    ({"optimizer": {"type": "adamw"}}, "adamw"),
    ({"optimizer": {"type": "sgd", "lr": -1}}, "learning rate"),
    ({"augment": {"shift": -2}}, "shift"),
    ({"val_fraction": 1.0}, "val_fraction"),
    ({"schedule": {"type": "exponential"}}, "exponential"),
])
def test_bad_settings_are_named(change, words):
    with pytest.raises(ValueError, match=words):
        TrainSettings(**change).validate()


def test_unknown_setting_key_is_refused():
    with pytest.raises(ValueError, match="unknown training setting.*batchsize"):
        TrainSettings.from_dict({"batchsize": 3})


def test_batch_bounds_never_leave_a_single_sample_batch():
    assert batch_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert batch_bounds(9, 4) == [(0, 4), (4, 9)]
    assert batch_bounds(1, 4) == [(0, 1)]


# ---- reports -------------------------------------------------------------------------------

def test_reports_sequence_and_content():
    data = blobs()
    trainer = Trainer.from_config(TINY, settings())
    reports = run(trainer, data)
    steps = [r for r in reports if isinstance(r, StepReport)]
    epochs = [r for r in reports if isinstance(r, EpochReport)]
    assert isinstance(reports[-1], EndReport) and reports[-1].reason == "finished"
    assert sum(isinstance(r, EndReport) for r in reports) == 1
    # 120 samples, 20% validation -> 96 training samples -> 6 batches of 16
    assert len(steps) == 12 and len(epochs) == 2
    assert [s.step for s in steps] == list(range(1, 13))
    assert [s.batch for s in steps[:6]] == [1, 2, 3, 4, 5, 6]
    assert steps[5].samples_seen == 96 and steps[5].batches_per_epoch == 6
    assert all(s.samples_per_sec > 0 and s.lr == 0.01 for s in steps)
    last = epochs[-1]
    assert last.epoch == 2 and last.step == 12 and trainer.epoch == 2 and trainer.step == 12
    assert last.confusion.shape == (3, 3) and last.confusion.sum() == 24
    assert last.history["epoch"] == (1, 2)
    assert last.history["val_accuracy"][-1] == last.val_accuracy
    assert last.best_epoch in (1, 2)
    # running loss of the last batch equals the epoch's training loss
    assert steps[-1].running_loss == pytest.approx(last.train_loss)


def test_reports_are_frozen_and_hold_no_live_arrays():
    trainer = Trainer.from_config(TINY, settings(epochs=1))
    reports = run(trainer, blobs())
    epoch = next(r for r in reports if isinstance(r, EpochReport))
    with pytest.raises(dataclasses.FrozenInstanceError):
        epoch.train_loss = 0.0
    assert not epoch.confusion.flags.writeable
    with pytest.raises(ValueError):
        epoch.confusion[0, 0] = 99
    assert epoch.confusion.base is None or not np.shares_memory(epoch.confusion, epoch.confusion.base)
    trainer.history["epoch"].append(99)  # later training must not change an old report
    assert epoch.history["epoch"] == (1,)


def test_training_learns_an_easy_task():
    trainer = Trainer.from_config(TINY, settings(epochs=6))
    reports = run(trainer, blobs(240))
    epochs = [r for r in reports if isinstance(r, EpochReport)]
    assert epochs[-1].val_accuracy >= 0.9
    assert epochs[-1].train_loss < epochs[0].train_loss


# ---- determinism and resume ----------------------------------------------------------------

def test_same_seed_gives_identical_weights_and_other_seed_does_not():
    a, b, c = (Trainer.from_config(TINY, settings(seed=s)) for s in (3, 3, 4))
    for t in (a, b, c):
        run(t, blobs())
    assert_same_weights(a.model, b.model)
    assert not np.array_equal(a.model.state_dict()["0.weight"], c.model.state_dict()["0.weight"])


def test_continuing_in_a_second_call_equals_one_run():
    straight = Trainer.from_config(TINY, settings(epochs=3))
    run(straight, blobs())
    split = Trainer.from_config(TINY, settings(epochs=1))
    run(split, blobs())
    run(split, blobs(), epochs=3)
    assert_same_weights(straight.model, split.model)
    assert same_history(straight, split)


def test_stop_mid_epoch_then_continue_equals_one_run():
    straight = Trainer.from_config(TINY, settings())
    run(straight, blobs())
    stop = threading.Event()
    trainer = Trainer.from_config(TINY, settings())
    for report in trainer.fit_iter(blobs(), stop=stop):
        if isinstance(report, StepReport) and report.step == 8:
            stop.set()
    assert report.reason == "stopped" and "epoch 2 after step 2 of 6" in report.message
    assert (trainer.epoch, trainer.batch, trainer.step) == (1, 2, 8)
    run(trainer, blobs())
    assert_same_weights(straight.model, trainer.model)
    assert same_history(straight, trainer)


def test_stop_before_start_trains_nothing():
    stop = threading.Event()
    stop.set()
    trainer = Trainer.from_config(TINY, settings())
    before = trainer.model.state_dict()
    reports = run(trainer, blobs(), stop=stop)
    assert len(reports) == 1 and reports[0].reason == "stopped" and trainer.step == 0
    for key, value in trainer.model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_pause_blocks_without_spinning_and_stop_still_works():
    pause, stop = threading.Event(), threading.Event()
    pause.set()
    trainer = Trainer.from_config(TINY, settings(epochs=50))
    out: list = []
    worker = threading.Thread(target=lambda: out.extend(trainer.fit_iter(blobs(), stop=stop, pause=pause)))
    cpu0 = time.process_time()
    worker.start()
    time.sleep(0.3)
    assert trainer.step == 0  # paused before the first batch
    assert time.process_time() - cpu0 < 0.2  # waiting, not spinning
    pause.clear()
    deadline = time.monotonic() + 5
    while trainer.step < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert trainer.step >= 3
    pause.set()
    time.sleep(0.1)
    held = trainer.step
    time.sleep(0.2)
    assert trainer.step == held  # stays paused
    stop.set()
    worker.join(timeout=2)
    assert not worker.is_alive()
    assert out[-1].reason == "stopped"


# ---- divergence ----------------------------------------------------------------------------

def _run_recording_steps(trainer, data):
    after_step = {0: trainer.model.state_dict()}
    for report in trainer.fit_iter(data):
        if isinstance(report, StepReport):
            after_step[report.step] = trainer.model.state_dict()
    return report, after_step


NO_BN = {**TINY, "layers": [layer for layer in TINY["layers"] if layer["type"] != "BatchNorm"]}


def test_an_exploding_update_is_stopped_before_its_weights_are_used():
    s = settings(epochs=3, optimizer={"type": "sgd", "lr": 1e6, "momentum": 0.9}, augment={"shift": 0, "flip": False})
    trainer = Trainer.from_config(NO_BN, s)
    report, after_step = _run_recording_steps(trainer, blobs())
    assert report.reason == "diverged"
    assert "the update at epoch 1, step 1 moved the weights" in report.message
    assert "(exploding gradients)" in report.message and "try a lower learning rate (now 1e+06)" in report.message
    # caught at the very first update, long before NaN: the initial weights are back
    assert after_step.keys() == {0} and trainer.step == report.step == 0 and trainer.batch == 0
    for key, value in trainer.model.state_dict().items():
        np.testing.assert_array_equal(value, after_step[0][key], err_msg=key)
    # the optimizer's running averages came from the diverging step: they start afresh
    assert trainer.optimizer.steps == 0 and not any(trainer.optimizer.state.values())
    # a lower learning rate goes on from the kept position
    trainer.set_settings(settings(epochs=1, optimizer={"type": "sgd", "lr": 1e-6}))
    first = next(trainer.fit_iter(blobs()))
    assert isinstance(first, StepReport) and first.step == 1


def test_a_loss_far_above_its_start_is_divergence_before_nan():
    s = settings(epochs=3, optimizer={"type": "adam", "lr": 3.0}, augment={"shift": 0, "flip": False})
    trainer = Trainer.from_config(NO_BN, s)
    report, after_step = _run_recording_steps(trainer, blobs(240))
    assert report.reason == "diverged"
    failed = max(after_step) + 1
    jumped = float(report.message.split("loss jumped to ")[1].split(" ")[0])
    assert f"at epoch 1, step {failed}, more than 10 times its start" in report.message
    assert np.isfinite(jumped) and jumped > 10 * np.log(3)
    # the weights before the last update (the last ones whose loss was sensible), and that position
    kept = max(failed - 2, 0)
    assert trainer.step == report.step == kept and trainer.batch == kept
    for key, value in trainer.model.state_dict().items():
        np.testing.assert_array_equal(value, after_step[kept][key], err_msg=key)


def test_ordinary_training_is_not_mistaken_for_divergence():
    for optimizer in ({"type": "adam", "lr": 0.01}, {"type": "sgd", "lr": 0.1, "momentum": 0.9},
                      {"type": "rmsprop", "lr": 0.001}):
        trainer = Trainer.from_config(TINY, settings(epochs=4, optimizer=optimizer))
        assert trainer.fit(blobs(240)).reason == "finished", optimizer


def test_nan_in_the_data_is_reported_at_the_first_step():
    data = blobs()
    data.x[5] = np.nan
    trainer = Trainer.from_config(TINY, settings(val_fraction=0.0, batch_size=200, normalize=False))
    before = trainer.model.state_dict()
    end = run(trainer, data)[-1]
    assert end.reason == "diverged" and "epoch 1, step 1" in end.message and "check the data" in end.message
    for key, value in trainer.model.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


# ---- data checks ---------------------------------------------------------------------------

def test_wrong_image_size_is_explained_with_its_fix():
    trainer = Trainer.from_config(TINY, settings())
    with pytest.raises(DataMismatchError) as error:
        run(trainer, make_shapes(n=20, classes=["circle", "square", "triangle"]))
    assert str(error.value) == ("the training images are 1×28×28 but the design's input_shape is 1×6×6; "
                                "set the input to 1×28×28 or choose data of that size (an image folder can be "
                                "resized to it)")
    (problem,) = error.value.problems
    assert problem.kind == "input_shape" and problem.fixes[0].design["input_shape"] == [1, 28, 28]


def test_too_few_outputs_for_the_classes_is_explained():
    config = {**TINY, "input_shape": [1, 28, 28]}
    trainer = Trainer.from_config(config, settings())
    with pytest.raises(TrainingError, match="5 classes but the model has 3 outputs.*set the last Dense layer's "
                                            "units to 5"):
        run(trainer, make_shapes(n=20))


def test_normalisation_is_fitted_on_the_training_split_and_kept():
    data = blobs()
    trainer = Trainer.from_config(TINY, settings(epochs=1))
    run(trainer, data)
    train, _ = trainer.split_data(data)
    assert trainer.normalization.mean[0] == pytest.approx(float(train.x.mean()), rel=1e-6)
    meta = trainer.dataset_metadata()
    assert meta["class_names"] == ["tl", "br", "none"] and meta["input_shape"] == [1, 6, 6]
    assert meta["normalization"]["std"][0] == pytest.approx(float(train.x.std()), rel=1e-4)


# ---- modes, losses, schedule ---------------------------------------------------------------

def test_batchnorm_trains_in_training_mode_and_evaluation_changes_nothing():
    trainer = Trainer.from_config(TINY, settings(epochs=1))
    run(trainer, blobs())
    assert int(trainer.model.named_buffers()["1.num_batches_tracked"]) == trainer.step
    data = blobs(30, seed=9)
    buffers = {k: v.copy() for k, v in trainer.model.named_buffers().items()}
    first = trainer.evaluate(data.x, data.y)
    second = trainer.evaluate(data.x, data.y)  # dropout and stochastic pooling off: repeatable
    np.testing.assert_array_equal(first.probabilities, second.probabilities)
    for key, value in trainer.model.named_buffers().items():
        np.testing.assert_array_equal(value, buffers[key])


def test_final_softmax_is_not_applied_twice():
    plain = {**TINY, "layers": TINY["layers"][:-1]}
    with_softmax = Trainer.from_config(TINY, settings(epochs=1))
    logits_only = Trainer.from_config(plain, settings(epochs=1))
    run(with_softmax, blobs())
    run(logits_only, blobs())
    assert_same_weights(with_softmax.model, logits_only.model)


def test_mse_loss_trains():
    trainer = Trainer.from_config(TINY, settings(epochs=4, loss="mse"))
    epochs = [r for r in run(trainer, blobs(240)) if isinstance(r, EpochReport)]
    assert epochs[-1].train_loss < epochs[0].train_loss
    assert epochs[-1].val_accuracy > 0.6


def test_step_schedule_changes_the_learning_rate_per_epoch():
    trainer = Trainer.from_config(TINY, settings(epochs=3, schedule={"type": "step", "step_size": 1, "gamma": 0.5}))
    lrs = [r.lr for r in run(trainer, blobs()) if isinstance(r, EpochReport)]
    assert lrs == pytest.approx([0.01, 0.005, 0.0025])


# ---- evaluate ------------------------------------------------------------------------------

def test_evaluate_matches_a_direct_computation():
    model = Sequential.from_config(TINY, seed=1)
    data = blobs(50)
    result = evaluate(model, data.x, data.y, batch_size=16)
    logits = model.forward(data.x, training=False, upto=len(model.layers) - 1)
    assert result.loss == pytest.approx(SoftmaxCrossEntropy().forward(logits, data.y), rel=1e-5)
    np.testing.assert_allclose(result.probabilities, model.predict_proba(data.x), rtol=1e-5, atol=1e-7)
    assert result.predictions.tolist() == logits.argmax(axis=1).tolist()
    assert result.accuracy == pytest.approx(np.mean(result.predictions == data.y))
    expected = np.zeros((3, 3), int)
    np.add.at(expected, (data.y, result.predictions), 1)
    np.testing.assert_array_equal(result.confusion, expected)


def test_evaluate_checks_lengths():
    model = Sequential.from_config(TINY)
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        evaluate(model, np.zeros((10, 1, 6, 6), np.float32), np.zeros(9, np.int64))


def test_plain_arrays_are_accepted():
    data = blobs()
    trainer = Trainer.from_config(TINY, settings(epochs=1))
    end = run(trainer, (data.x, data.y))[-1]
    assert end.reason == "finished" and trainer.step == 6


def test_flat_input_models_train_on_images():
    mlp = {"input_shape": [36], "layers": [{"type": "Dense", "units": 8}, {"type": "ReLU"},
                                           {"type": "Dense", "units": 3}]}
    trainer = Trainer.from_config(mlp, settings(epochs=4))
    end = trainer.fit(blobs(240))
    assert end.reason == "finished" and trainer.history["val_accuracy"][-1] > 0.8
    data = blobs(30, seed=2)
    assert trainer.evaluate(data.x.reshape(30, 36), data.y).accuracy == trainer.evaluate(data.x, data.y).accuracy


def test_new_batch_size_mid_epoch_restarts_that_epoch():
    stop = threading.Event()
    trainer = Trainer.from_config(TINY, settings(epochs=1))
    for report in trainer.fit_iter(blobs(), stop=stop):
        if isinstance(report, StepReport) and report.step == 2:
            stop.set()
    trainer.set_settings(settings(epochs=1, optimizer={"type": "adam", "lr": 0.001}))
    assert trainer.batch == 2  # same batches: the epoch goes on
    trainer.set_settings(settings(epochs=1, batch_size=32))
    assert trainer.batch == 0 and trainer.step == 2
    assert trainer.fit(blobs()).reason == "finished" and trainer.step == 2 + 3


def test_every_batch_keeps_its_loss_and_accuracy_for_the_saved_curves(tmp_path):
    """A reopened model draws the same per-batch curves: history keeps each batch's accuracy too."""
    data = blobs(120)
    trainer = Trainer.from_config(TINY, settings(epochs=2, batch_size=16, val_fraction=0.25))
    run(trainer, data)
    history = trainer.history
    assert len(history["batch_accuracy"]) == len(history["batch_loss"]) == trainer.step
    assert all(0.0 <= a <= 1.0 for a in history["batch_accuracy"])
    # the batches of epoch 1 (90 training images: 16 × 5 + 10) add up to its mean training accuracy
    sizes = [end - start for start, end in batch_bounds(90, 16)]
    first = [a for a, e in zip(history["batch_accuracy"], history["batch_epoch"]) if e == 1]
    assert np.average(first, weights=sizes) == pytest.approx(history["train_accuracy"][0])
    path = tmp_path / "tiny.safetensors"
    trainer.save(path)
    from guicnn.core.modelfile import load_model

    reopened = Trainer.from_loaded(load_model(path))
    assert reopened.history["batch_accuracy"] == pytest.approx(history["batch_accuracy"])


def test_batch_positions_place_batches_within_their_epoch():
    from guicnn.core.training import batch_positions

    assert batch_positions([1, 1, 2, 2, 2, 2]) == pytest.approx([0.5, 1.0, 1.25, 1.5, 1.75, 2.0])
    assert batch_positions([]) == []


def test_files_without_per_batch_accuracy_stay_aligned_when_training_goes_on():
    """The PyTorch script and older files keep losses only: their first steps' accuracies are None,
    so every per-batch list keeps one entry per step after more training."""
    from guicnn.core.training import align_batch_history

    history = {"batch_loss": [1.0, 0.8, 0.6], "batch_epoch": [1, 1, 1]}
    assert align_batch_history(history)["batch_accuracy"] == [None, None, None]
    history["batch_accuracy"] = [0.5]
    assert align_batch_history(history)["batch_accuracy"] == [None, None, 0.5]
