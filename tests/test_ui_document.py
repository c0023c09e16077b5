"""DesignDocument: every edit is one undoable command with one `changed`, undo is exact."""

from __future__ import annotations

import copy

import numpy as np
import pytest

pytest.importorskip("PySide6")

from guicnn.core import Sequential  # noqa: E402
from guicnn.core.designfile import load_preset  # noqa: E402
from guicnn.ui.builder import commands  # noqa: E402
from guicnn.ui.builder.document import NO_LAYER, DesignDocument  # noqa: E402


@pytest.fixture
def lenet(qapp):
    return DesignDocument(load_preset("lenet5"))


@pytest.fixture
def no_merging(monkeypatch):
    monkeypatch.setattr(commands, "MERGE_SECONDS", -1.0)


def count_changes(document):
    seen = []
    document.changed.connect(lambda: seen.append(1))
    return seen


def test_each_edit_emits_changed_once_and_undo_restores_the_exact_config(lenet, no_merging):
    original = copy.deepcopy(lenet.config)
    changes = count_changes(lenet)
    snapshots = [copy.deepcopy(lenet.config)]
    edits = [
        lambda: lenet.add_layer("Dropout", 7),
        lambda: lenet.set_field(7, "rate", 0.3),
        lambda: lenet.move_layer(7, 9),
        lambda: lenet.duplicate_layer(0),
        lambda: lenet.remove_layer(2),
        lambda: lenet.set_field(0, "kernel_size", [3, 5]),
        lambda: lenet.set_input_shape([3, 32, 32]),
        lambda: lenet.rename("LeNet-5 with dropout"),
        lambda: lenet.set_layer_name(0, "conv1"),
    ]
    for number, edit in enumerate(edits, start=1):
        assert edit() is None
        assert len(changes) == number
        snapshots.append(copy.deepcopy(lenet.config))
    assert lenet.undo_stack.count() == len(edits)
    for expected in reversed(snapshots[:-1]):
        lenet.undo()
        assert lenet.config == expected
    assert lenet.config == original
    assert len(changes) == 2 * len(edits)
    for expected in snapshots[1:]:
        lenet.redo()
        assert lenet.config == expected


def test_add_layer_writes_required_fields_only_and_selects_it(lenet):
    lenet.set_current(2)
    lenet.add_after_current("Conv2D")
    assert lenet.layers[3] == {"type": "Conv2D", "filters": 8, "kernel_size": 3}
    assert lenet.current == 3
    assert lenet.undo_stack.undoText() == "Add layer 3 Conv2D"
    assert lenet.analysis.layers[3].output_shape == (8, 12, 12)


def test_unknown_layer_type_is_refused_with_a_suggestion(lenet):
    reason = lenet.add_layer("Conv2d")
    assert "did you mean 'Conv2D'" in reason
    assert lenet.undo_stack.count() == 0


def test_set_field_text_names_the_setting_layer_and_value(lenet):
    lenet.set_field(3, "kernel_size", 5)
    assert lenet.undo_stack.count() == 0  # same value: no command
    lenet.set_field(3, "kernel_size", 3)
    assert lenet.undo_stack.undoText() == "Set kernel_size of layer 3 Conv2D to 3"
    assert lenet.layers[3]["kernel_size"] == 3


def test_default_values_stay_out_of_the_config(lenet):
    assert "stride" not in lenet.layers[3]
    lenet.set_field(3, "stride", 2)
    assert lenet.layers[3]["stride"] == 2
    lenet.set_field(3, "stride", 1)
    assert "stride" not in lenet.layers[3]
    lenet.set_field(2, "stride", None)  # pool stride "= pool_size" is the default
    assert lenet.layers[2] == {"type": "MaxPool2D", "pool_size": 2}


def test_out_of_range_values_are_refused_with_the_reason(lenet):
    before = copy.deepcopy(lenet.config)
    assert lenet.set_field(0, "filters", 0) == "filters must be ≥ 1 and ≤ 4096, got 0"
    assert "rate must be ≥ 0 and < 1, got 1" in DesignDocument(
        {"input_shape": [4], "layers": [{"type": "Dropout"}]}).set_field(0, "rate", 1.0)
    assert "padding 2 is more than half the 2x2 window" in lenet.set_field(2, "padding", 2)
    assert lenet.config == before
    assert lenet.undo_stack.count() == 0


def test_spin_box_steps_merge_into_one_undo_step(lenet):
    for filters in (7, 8, 9):
        lenet.set_field(0, "filters", filters)
    assert lenet.undo_stack.count() == 1
    assert lenet.undo_stack.undoText() == "Set filters of layer 0 Conv2D to 9"
    lenet.undo()
    assert lenet.layers[0]["filters"] == 6


def test_invalid_context_is_applied_and_reported_on_the_layer(lenet):
    assert lenet.set_field(5, "pool_size", 11) is None
    info = lenet.analysis.layers[5]
    assert info.error.startswith("window 11x11 is larger than the 10x10 input")
    assert lenet.analysis.layers[6].output_shape is None  # later layers wait for the fix
    assert not lenet.analysis.valid


def test_read_only_refuses_edits_and_undo_with_a_message(lenet):
    lenet.add_layer("ReLU")
    messages = []
    lenet.refused.connect(messages.append)
    lenet.set_read_only(True)
    before = copy.deepcopy(lenet.config)
    assert lenet.remove_layer(0) is not None
    assert lenet.undo() is not None
    assert lenet.config == before
    assert len(messages) == 2 and "training" in messages[0]
    lenet.set_read_only(False)
    assert lenet.remove_layer(0) is None


def test_move_layer_to_each_end(lenet):
    types = [layer["type"] for layer in lenet.layers]
    lenet.move_layer(0, len(types) - 1)
    assert [layer["type"] for layer in lenet.layers] == types[1:] + types[:1]
    assert lenet.current == len(types) - 1
    lenet.move_layer(len(types) - 1, 0)
    assert [layer["type"] for layer in lenet.layers] == types


def test_remove_selects_the_next_layer_and_undo_reselects(lenet):
    lenet.set_current(4)
    lenet.remove_layer(4)
    assert lenet.current == 4
    lenet.undo()
    assert lenet.current == 4
    lenet.set_current(NO_LAYER)


def test_modified_follows_the_undo_stack(lenet):
    assert not lenet.modified
    lenet.add_layer("ReLU")
    assert lenet.modified
    lenet.undo()
    assert not lenet.modified


def trained_weights(config):
    model = Sequential.from_config(config, seed=3)
    return model.state_dict()


def test_weights_survive_shape_preserving_edits_and_are_dropped_then_restored(lenet, no_merging):
    weights = trained_weights(lenet.config)
    lenet.load(lenet.config, weights=weights)
    messages = []
    lenet.message.connect(messages.append)
    lenet.add_layer("ReLU")  # appended: no parameter moves
    assert lenet.weights is weights
    lenet.set_field(0, "kernel_size", 3)
    assert lenet.weights is None
    assert "0.weight is now 6×1×3×3 instead of 6×1×5×5" in messages[-1]
    lenet.undo()
    assert lenet.weights is weights
    np.testing.assert_array_equal(lenet.weights["0.weight"], weights["0.weight"])
