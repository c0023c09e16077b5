"""The one check that a design fits a data set: problems with numbers, and fixes that work."""

from __future__ import annotations

import json
import time
import tracemalloc

import numpy as np
import pytest

from guicnn.core import ConfigError, analyze
from guicnn.core.checks import check_dataset, check_design_data
from guicnn.core.data import Dataset, load_digits
from guicnn.core.designfile import load_design
from guicnn.core.fixes import Fix
from guicnn.core.limits import MAX_LAYERS, memory_budget, parse_bytes
from guicnn.core.training import DataMismatchError, StepReport, Trainer, TrainSettings

TEN = [str(i) for i in range(10)]
COUNTS = [5] * 10

DENSE = {"name": "d", "input_shape": [1, 8, 8], "layers": [
    {"type": "Flatten"}, {"type": "Dense", "units": 20}, {"type": "ReLU"}, {"type": "Softmax"}]}
CONV_ONLY = {"input_shape": [1, 8, 8], "layers": [
    {"type": "Conv2D", "filters": 4, "kernel_size": 3}, {"type": "GlobalAvgPool2D"}, {"type": "Softmax"}]}
EMPTY = {"name": "empty", "input_shape": [1, 8, 8], "layers": []}


def kinds(problems) -> list[str]:
    return [p.kind for p in problems]


def test_a_fitting_design_has_no_problems():
    fitting = {**DENSE, "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 10}]}
    assert check_design_data(fitting, (1, 8, 8), TEN, COUNTS) == []


def test_too_many_outputs_is_fixed_by_setting_the_last_dense_layers_units():
    (problem,) = check_design_data(DENSE, (1, 8, 8), TEN, COUNTS)
    assert problem.kind == "outputs"
    assert problem.message == "the data has 10 classes but the model has 20 outputs; it needs one output per class"
    (fix,) = problem.fixes
    assert isinstance(fix, Fix) and fix.description == "Set the last Dense layer's units to 10"
    assert fix.layer == 1 and fix.kind == "set_field" and fix.design["layers"][1]["units"] == 10
    assert DENSE["layers"][1]["units"] == 20  # the design itself is left alone
    assert check_design_data(fix.design, (1, 8, 8), TEN, COUNTS) == []


def test_without_a_dense_layer_the_fix_adds_flatten_and_dense_before_the_softmax():
    (problem,) = check_design_data(CONV_ONLY, (1, 8, 8), TEN, COUNTS)
    assert problem.kind == "outputs" and "the model has 4 outputs" in problem.message
    (fix,) = problem.fixes
    assert fix.description == "Add Flatten + Dense(10)" and fix.kind == "insert_layers" and fix.layer == 2
    assert [layer["type"] for layer in fix.design["layers"]] == [
        "Conv2D", "GlobalAvgPool2D", "Flatten", "Dense", "Softmax"]
    assert check_design_data(fix.design, (1, 8, 8), TEN, COUNTS) == []


def test_an_empty_design_has_nothing_to_train():
    (problem,) = check_design_data(EMPTY, (1, 8, 8), TEN, COUNTS)
    assert problem.kind == "nothing_to_train" and "no weights to train (0 layers" in problem.message
    assert problem.fixes[0].description == "Add Flatten + Dense(10)"
    assert check_design_data(problem.fixes[0].design, (1, 8, 8), TEN, COUNTS) == []
    # scoring an untrained design is no error: there is just nothing learned
    assert kinds(check_design_data(EMPTY, (1, 8, 8), TEN, COUNTS, purpose="evaluate")) == []


def test_a_single_class_is_refused_without_a_design_fix():
    (problem,) = check_design_data(DENSE, (1, 8, 8), ["cats"], [40], what="training")
    assert problem.kind == "single_class" and problem.fixes == ()
    assert problem.text() == ("the training data has only one class ('cats', 40 samples); a classifier needs "
                              "samples of at least two classes; add samples of another class (e.g. a second "
                              "folder of images)")
    # two class names, but samples of only one
    assert kinds(check_design_data(DENSE, (1, 8, 8), ["a", "b"], [0, 7])) == ["single_class"]


def test_the_check_accepts_what_the_trainer_accepts_a_flat_input_of_the_right_size():
    flat = {"input_shape": [64], "layers": [{"type": "Dense", "units": 10}]}
    assert check_design_data(flat, (1, 8, 8), TEN, COUNTS) == []
    digits = load_digits().subset(np.arange(200))
    trainer = Trainer.from_config(flat, TrainSettings(epochs=1))
    assert trainer.fit(digits).reason == "finished"
    (problem,) = check_design_data(flat, (1, 28, 28), TEN, COUNTS)
    assert problem.kind == "input_shape" and problem.fixes[0].design["input_shape"] == [784]


def test_a_wrong_input_size_gets_the_data_size_as_fix():
    (problem,) = check_design_data(CONV_ONLY | {"layers": CONV_ONLY["layers"][:2] + [{"type": "Flatten"},
                                                                                     {"type": "Dense", "units": 10}]},
                                   (3, 32, 32), TEN, COUNTS)
    assert problem.kind == "input_shape"
    assert problem.message == "the images are 3×32×32 but the design's input_shape is 1×8×8"
    assert problem.fixes[0].description == "Set the input to 3×32×32" and problem.fixes[0].kind == "set_input"


def test_scoring_allows_more_outputs_than_the_data_has_classes_but_not_fewer():
    assert check_design_data(DENSE, (1, 8, 8), TEN, COUNTS, purpose="evaluate") == []
    few = {**DENSE, "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 3}]}
    assert kinds(check_design_data(few, (1, 8, 8), TEN, COUNTS, purpose="evaluate")) == ["outputs"]


def test_the_trainer_refuses_before_any_step():
    data = load_digits()
    trainer = Trainer.from_config(DENSE, TrainSettings(epochs=1))
    before = trainer.model.state_dict()
    with pytest.raises(DataMismatchError) as error:
        next(trainer.fit_iter(data))
    assert kinds(error.value.problems) == ["outputs"] and trainer.step == 0
    assert all(np.array_equal(v, before[k]) for k, v in trainer.model.state_dict().items())
    one_class = Dataset(data.x[data.y == 3], data.y[data.y == 3], TEN, name="threes")
    fixed = error.value.problems[0].fixes[0].design
    with pytest.raises(DataMismatchError, match="only one class \\('3', 146 samples\\)"):  # 80% of 183
        Trainer.from_config(fixed, TrainSettings(epochs=1)).fit_iter(one_class)
    report = next(Trainer.from_config(fixed, TrainSettings(epochs=1)).fit_iter(data))
    assert isinstance(report, StepReport)


# ---- sizes: refused with numbers before anything is allocated ------------------------------

HUGE = {"name": "huge", "input_shape": [1, 100000, 100000],
        "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 10}]}


def test_a_design_too_large_for_memory_is_refused_before_allocating():
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as error:
            Trainer.from_config(HUGE, TrainSettings())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000
    text = str(error.value)
    assert "training this design (100,000,000,010 weights" in text and "would need 15795.2 GB of memory" in text
    assert "more than the limit of" in text and "GUICNN_MEMORY_BUDGET" in text
    problems = check_dataset(HUGE, Dataset(np.zeros((2, 1, 2, 2)), np.array([0, 1]), ["a", "b"], name="x"))
    assert "too_large" in kinds(problems)


def test_the_budget_is_stated_and_can_be_changed(monkeypatch):
    monkeypatch.setenv("GUICNN_MEMORY_BUDGET", "64M")
    assert memory_budget() == 64 * 1024**2 and parse_bytes("1.5G") == int(1.5 * 1024**3)
    small = {"input_shape": [1, 64, 64], "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 4096}]}
    with pytest.raises(ConfigError, match=r"would need .* than the limit of 64.0 MB \(set by GUICNN_MEMORY_BUDGET"):
        Trainer.from_config(small, TrainSettings())
    monkeypatch.setenv("GUICNN_MEMORY_BUDGET", "lots")
    with pytest.raises(ValueError, match="GUICNN_MEMORY_BUDGET must be a size such as 8G"):
        memory_budget()


def test_thousands_of_layers_are_refused_by_count(tmp_path):
    layers = [{"type": "ReLU"}] * 10_000
    path = tmp_path / "deep.json"
    path.write_text(json.dumps({"input_shape": [4], "layers": layers}))
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=f"deep.json: the design has 10,000 layers; guicnn builds at most "
                                          f"{MAX_LAYERS:,}"):
        load_design(path)
    (problem,) = check_design_data({"input_shape": [4], "layers": layers}, (1, 2, 2), ["a", "b"], [1, 1])
    assert problem.kind == "too_large" and time.perf_counter() - start < 1.0
    assert analyze({"input_shape": [4], "layers": layers[:MAX_LAYERS]}).valid
