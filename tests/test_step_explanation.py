"""One training step, explained: stepping never changes where training goes, and the figures
it shows are the ones a direct computation gives."""

from __future__ import annotations

import copy
import threading

import numpy as np
import pytest
from test_training import TINY, assert_same_weights, blobs, same_history, settings

from guicnn.core import TrainingError, make_optimizer
from guicnn.core.step_explanation import activation_stats
from guicnn.core.training import EndReport, EpochReport, StepReport, Trainer

OPTIMIZERS = [
    {"type": "sgd", "lr": 0.05, "momentum": 0.9},
    {"type": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    {"type": "adam", "lr": 0.01},
    {"type": "rmsprop", "lr": 0.01, "momentum": 0.5, "centered": True},
]
# 120 blobs, 20 % validation, batches of 16: 6 batches per epoch, so 8 steps cross an epoch.
STEPS_ACROSS_AN_EPOCH = 8

PLAIN = {  # no random layers and no augmentation: every figure can be recomputed by hand
    "input_shape": [1, 6, 6],
    "layers": [
        {"type": "Conv2D", "filters": 3, "kernel_size": 3},
        {"type": "ReLU"},
        {"type": "Flatten"},
        {"type": "Dense", "units": 3},
    ],
}


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_steps_then_training_equal_an_uninterrupted_run(optimizer):
    data = blobs()
    whole = Trainer.from_config(TINY, settings(epochs=3, optimizer=optimizer))
    whole.fit(data)
    stepped = Trainer.from_config(TINY, settings(epochs=3, optimizer=optimizer))
    explanations = [stepped.step_once(data) for _ in range(STEPS_ACROSS_AN_EPOCH)]
    assert [(e.epoch, e.batch) for e in explanations] == [(1, b) for b in range(1, 7)] + [(2, 1), (2, 2)]
    assert explanations[5].finished_epoch is not None and explanations[5].finished_epoch.epoch == 1
    assert all(e.finished_epoch is None for i, e in enumerate(explanations) if i != 5)
    assert stepped.history["epoch"] == [1] and stepped.step == STEPS_ACROSS_AN_EPOCH
    stepped.fit(data)
    assert_same_weights(whole.model, stepped.model)
    assert same_history(whole, stepped)
    assert stepped.optimizer.steps == whole.optimizer.steps


def test_steps_while_paused_continue_exactly():
    data = blobs()
    whole = Trainer.from_config(TINY, settings(epochs=2))
    whole.fit(data)
    trainer = Trainer.from_config(TINY, settings(epochs=2))
    stop, pause, step = threading.Event(), threading.Event(), threading.Event()
    run = trainer.fit_iter(data, stop=stop, pause=pause, step=step)
    for _ in range(3):  # train a little, then pause
        assert next(run).explanation is None
    pause.set()
    explained = []
    while len(explained) < 5:  # across the end of epoch 1
        step.set()
        report = next(run)
        if isinstance(report, StepReport):
            assert not step.is_set()  # taken
            explained.append(report.explanation)
        else:
            assert isinstance(report, EpochReport) and report.epoch == 1
    assert [(e.epoch, e.batch) for e in explained] == [(1, 4), (1, 5), (1, 6), (2, 1), (2, 2)]
    pause.clear()
    rest = list(run)
    assert isinstance(rest[-1], EndReport) and rest[-1].reason == "finished"
    assert all(r.explanation is None for r in rest if isinstance(r, StepReport))
    assert_same_weights(whole.model, trainer.model)
    assert same_history(whole, trainer)


def test_a_paused_run_waits_for_a_step_request_without_training():
    data = blobs()
    trainer = Trainer.from_config(TINY, settings(epochs=1))
    stop, pause, step = threading.Event(), threading.Event(), threading.Event()
    pause.set()
    reports = []
    worker = threading.Thread(target=lambda: reports.extend(trainer.fit_iter(data, stop=stop, pause=pause, step=step)))
    worker.start()
    try:
        stop.wait(0.2)
        assert trainer.step == 0 and not reports
        step.set()
        for _ in range(200):
            if reports:
                break
            stop.wait(0.01)
        assert trainer.step == 1 and reports[0].explanation is not None
    finally:
        stop.set()
        worker.join(10)
    assert reports[-1].reason == "stopped"


def _state_before(trainer: Trainer) -> tuple[dict, dict]:
    params = {k: v.copy() for k, v in trainer.model.named_parameters().items()}
    slots = {k: {s: a.copy() for s, a in st.items()} for k, st in trainer.optimizer.state.items()}
    return params, slots


def test_sgd_momentum_update_is_minus_lr_times_the_buffer():
    data = blobs()
    trainer = Trainer.from_config(TINY, settings(optimizer={"type": "sgd", "lr": 0.05, "momentum": 0.9}))
    trainer.step_once(data)
    before, _ = _state_before(trainer)
    explanation = trainer.step_once(data)
    params = trainer.model.named_parameters()
    for layer in explanation.layers:
        for p in layer.params:
            buffer = trainer.optimizer.state[p.name]["momentum_buffer"]
            update = params[p.name].astype(np.float64) - before[p.name]
            np.testing.assert_allclose(update, -0.05 * buffer, rtol=1e-4, atol=1e-7, err_msg=p.name)
            assert p.update_norm == pytest.approx(np.linalg.norm(0.05 * buffer), rel=1e-4)
            assert p.slot_norms["momentum_buffer"] == pytest.approx(np.linalg.norm(buffer), rel=1e-6)
    conv = explanation.layers[0]
    formula = conv.update.formula
    assert formula.values["buf"] == pytest.approx(trainer.optimizer.state["0.weight"]["momentum_buffer"][conv.update.index],
                                                  rel=1e-5)
    assert any(line.startswith("buf = μ·buf + g = 0.9 × ") for line in formula.lines)
    assert formula.lines[-1].startswith("w ← w − lr·buf = ")


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_the_formula_reproduces_the_applied_update_and_new_state(optimizer):
    data = blobs()
    trainer = Trainer.from_config(TINY, settings(optimizer=optimizer))
    for _ in range(3):
        explanation = trainer.step_once(data)
    shown = [layer for layer in explanation.layers if layer.update is not None]
    assert [layer.index for layer in shown] == [0, 1, 6]  # Conv2D, BatchNorm, Dense
    params = trainer.model.named_parameters()
    for layer in shown:
        update = layer.update
        assert update.after == params[update.param][update.index]
        assert update.formula.new_weight == pytest.approx(update.after, rel=1e-5, abs=1e-7)
        for slot, value in update.formula.new_state.items():
            actual = trainer.optimizer.state[update.param][slot][update.index]
            assert value == pytest.approx(actual, rel=1e-4, abs=1e-9), slot
        # the weight shown is the one of filter 0 that moved most
        if layer.first_filter_before is not None:
            moved = np.abs(layer.first_filter_after - layer.first_filter_before)
            assert moved[update.index[1:]] == moved.max()
            assert update.index[0] == 0


def test_explain_agrees_with_the_vectorised_update_over_several_steps():
    rng = np.random.default_rng(1)
    for config in OPTIMIZERS + [{"type": "sgd", "lr": 0.1}, {"type": "rmsprop", "lr": 0.01}]:
        weight = rng.normal(size=(4, 3)).astype(np.float32)
        optimizer = make_optimizer({"w": weight}, config)
        for _ in range(4):
            grad = rng.normal(size=weight.shape).astype(np.float32)
            old = weight.copy()
            slots = {k: v.copy() for k, v in optimizer.state["w"].items()}
            optimizer.step({"w": grad})
            for index in [(0, 0), (2, 1), (3, 2)]:
                shown = optimizer.explain(old[index], grad[index], {k: v[index] for k, v in slots.items()},
                                          optimizer.steps)
                assert shown.new_weight == pytest.approx(weight[index], rel=1e-5, abs=1e-7), config
                for slot, value in shown.new_state.items():
                    assert value == pytest.approx(optimizer.state["w"][slot][index], rel=1e-4, abs=1e-9)


def test_adam_formula_shows_bias_correction_with_the_step_number():
    weight = np.array([0.5], np.float32)
    optimizer = make_optimizer({"w": weight}, {"type": "adam", "lr": 0.001})
    optimizer.step({"w": np.array([0.2], np.float32)})
    shown = optimizer.explain(0.5, 0.2, {}, 1)
    assert shown.values["m"] == pytest.approx(0.1 * 0.2)
    assert shown.values["1 − β₁^t"] == pytest.approx(0.1)
    assert shown.values["m̂"] == pytest.approx(0.2)  # the first step's m̂ is the gradient itself
    assert "(1 − 0.9^1)" in shown.lines[3]
    assert shown.new_weight == pytest.approx(0.5 - 0.001, rel=1e-6)  # Adam's first step moves by lr


def test_figures_match_a_direct_computation():
    data = blobs()
    s = settings(augment={"shift": 0, "flip": False}, optimizer={"type": "sgd", "lr": 0.1})
    trainer = Trainer.from_config(PLAIN, s)
    twin = copy.deepcopy(trainer.model)
    explanation = trainer.step_once(data)

    train, _ = trainer.split_data(data)
    order = np.random.default_rng([s.seed, 0]).permutation(len(train))[: s.batch_size]
    xb = trainer.normalization.apply(train.x[order])
    yb = train.y[order]
    out = twin.forward(xb, training=True, keep=True)
    loss = trainer.loss.forward(out, yb)
    for index, activation in enumerate(twin.activations):
        expected = activation_stats(activation)
        got = explanation.layers[index].activation
        assert got.mean == pytest.approx(float(activation.mean()), rel=1e-6, abs=1e-9)
        assert got.std == pytest.approx(float(activation.std()), rel=1e-5)
        assert got.zero_share == expected.zero_share == np.count_nonzero(activation == 0) / activation.size
    twin.backward(trainer.loss.backward().reshape(out.shape))
    grads = twin.named_gradients()
    before = {k: v.copy() for k, v in twin.named_parameters().items()}
    for layer in explanation.layers:
        for p in layer.params:
            assert p.grad_norm == pytest.approx(float(np.linalg.norm(grads[p.name])), rel=1e-5)
            assert p.update_norm == pytest.approx(0.1 * float(np.linalg.norm(grads[p.name])), rel=1e-4)
            assert p.weight_norm == pytest.approx(float(np.linalg.norm(before[p.name])), rel=1e-6)
    assert explanation.loss_before == pytest.approx(loss, rel=1e-6)
    assert explanation.accuracy_before == np.mean(out.argmax(axis=1) == yb)
    twin.load_state_dict(trainer.model.state_dict())
    after = twin.forward(xb, training=True)
    assert explanation.loss_after == pytest.approx(trainer.loss.forward(after, yb), rel=1e-6)
    assert explanation.loss_after < explanation.loss_before  # one SGD step downhill on its own batch
    np.testing.assert_array_equal(explanation.layers[0].first_filter_before, before["0.weight"][0])
    np.testing.assert_array_equal(explanation.layers[0].first_filter_after, trainer.model.layers[0].params["weight"][0])
    assert explanation.lr == 0.1 and explanation.optimizer["type"] == "sgd"
    assert explanation.layers[1].params == () and explanation.layers[1].update is None


def test_stepping_when_every_epoch_is_done_is_refused():
    data = blobs()
    trainer = Trainer.from_config(TINY, settings(epochs=1))
    trainer.fit(data)
    with pytest.raises(TrainingError, match="all 1 epochs are done"):
        trainer.step_once(data)
    explanation = trainer.step_once(data, epochs=2)  # the caller may extend the run
    assert (explanation.epoch, explanation.batch) == (2, 1)


def test_a_diverging_step_is_refused_and_changes_no_weight():
    data = blobs()
    x = data.x.copy()
    x[:] = np.nan
    bad = type(data)(x, data.y, data.class_names, name="nan")
    trainer = Trainer.from_config(TINY, settings(normalize=False))
    before = trainer.model.state_dict()
    with pytest.raises(TrainingError, match="loss became NaN"):
        trainer.step_once(bad)
    after = trainer.model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_explaining_leaves_batchnorm_statistics_as_training_left_them():
    data = blobs()
    plain = Trainer.from_config(TINY, settings())
    explained = Trainer.from_config(TINY, settings())
    run = plain.fit_iter(data)
    next(run)
    explained.step_once(data)
    plain_buffers = plain.model.named_buffers()
    for name, value in explained.model.named_buffers().items():
        np.testing.assert_array_equal(value, plain_buffers[name], err_msg=name)
    assert int(explained.model.named_buffers()["1.num_batches_tracked"]) == 1
    run.close()


def test_the_final_softmax_that_the_loss_replaces_has_no_activation_figures():
    data = blobs()
    trainer = Trainer.from_config(TINY, settings())
    explanation = trainer.step_once(data)
    assert explanation.layers[-1].type_name == "Softmax" and explanation.layers[-1].activation is None
    assert explanation.layers[-2].activation is not None
