"""The builder window, driven the way a user drives it: palette, drops, menus, inspector, files."""

from __future__ import annotations

import copy
import json

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox  # noqa: E402

from guicnn.core.designfile import load_design, load_preset  # noqa: E402
from guicnn.ui import style  # noqa: E402
from guicnn.ui.app import build_window, parse_args  # noqa: E402
from guicnn.ui.builder import commands  # noqa: E402
from guicnn.ui.builder.document import NO_LAYER  # noqa: E402
from guicnn.ui.builder.layer_stack import row_of  # noqa: E402
from guicnn.ui.builder.summary import ERROR, WARNING  # noqa: E402
from guicnn.ui.main_window import MainWindow, preset_files, status_text  # noqa: E402

Button = QMessageBox.StandardButton


class Dialogs:
    """Scripted answers for QMessageBox; records what was asked."""

    def __init__(self) -> None:
        self.answer = Button.Discard
        self.questions: list[str] = []
        self.errors: list[str] = []

    def warning(self, _parent, _title, text, *_args):
        self.questions.append(text)
        return self.answer

    def critical(self, _parent, _title, text, *_args):
        self.errors.append(text)
        return Button.Ok


@pytest.fixture
def dialogs(monkeypatch):
    scripted = Dialogs()
    monkeypatch.setattr(QMessageBox, "warning", scripted.warning)
    monkeypatch.setattr(QMessageBox, "critical", scripted.critical)
    return scripted


@pytest.fixture
def no_merging(monkeypatch):
    monkeypatch.setattr(commands, "MERGE_SECONDS", -1.0)


@pytest.fixture
def window(qtbot, dialogs):
    main = MainWindow()
    qtbot.addWidget(main)
    main.resize(1280, 800)
    main.show()
    qtbot.waitExposed(main)
    yield main
    dialogs.answer = Button.Discard
    main.close()


@pytest.fixture
def lenet(window):
    window.document.load(load_preset("lenet5"))
    return window


def types(window):
    return [layer["type"] for layer in window.document.layers]


# ---- palette and drops ----------------------------------------------------------------------
def test_palette_lists_every_registered_type_grouped_with_help(window):
    from guicnn.core import layer_types

    items = window.palette.type_items()
    assert [item.text(0) for item in items] == layer_types()
    conv = window.palette.item_for("Conv2D")
    assert conv.parent().text(0) == "Convolution"
    assert "learned kernels" in conv.toolTip(0)


def test_double_click_and_enter_in_the_palette_add_after_the_selection(lenet, qtbot):
    tree = lenet.palette.tree
    lenet.document.set_current(2)
    item = lenet.palette.item_for("Dropout")
    tree.scrollToItem(item)
    centre = tree.visualItemRect(item).center()
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=centre)  # a real double-click starts with a press
    qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert types(lenet)[3] == "Dropout"
    assert lenet.document.current == 3
    tree.setCurrentItem(lenet.palette.item_for("BatchNorm"))
    qtbot.keyClick(tree, Qt.Key.Key_Return)
    assert types(lenet)[4] == "BatchNorm"


def drop(view, mime: QMimeData, pos: QPoint) -> None:
    """Deliver a drop exactly as Qt does at the end of a drag."""
    event = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction | Qt.DropAction.MoveAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    view.dropEvent(event)
    assert event.isAccepted()


def upper_half(view, layer: int) -> QPoint:
    rect = view.visualRect(view.stack_model.index(row_of(layer)))
    return QPoint(rect.center().x(), rect.top() + 24)


def test_drop_from_the_palette_inserts_where_it_lands(lenet):
    view = lenet.stack.view
    mime = lenet.palette.tree.mimeData([lenet.palette.item_for("BatchNorm")])
    pos = upper_half(view, 3)
    assert view.drop_row_at(pos) == row_of(3)
    drop(view, mime, pos)
    assert types(lenet)[3] == "BatchNorm"
    assert types(lenet)[4] == "Conv2D"
    assert lenet.document.undo_stack.undoText() == "Add layer 3 BatchNorm"


def test_drop_below_the_last_card_appends(lenet):
    view = lenet.stack.view
    lenet.document.load({"input_shape": [1, 8, 8], "layers": [{"type": "Flatten"}]})
    mime = lenet.palette.tree.mimeData([lenet.palette.item_for("Dense")])
    drop(view, mime, QPoint(view.viewport().width() // 2, view.viewport().height() - 5))
    assert lenet.document.layers == [{"type": "Flatten"}, {"type": "Dense", "units": 10}]


def test_dragging_a_card_reorders(lenet, no_merging):
    view = lenet.stack.view
    before = copy.deepcopy(lenet.document.layers)
    mime = QMimeData()
    mime.setData(style.MIME_LAYER_INDEX, b"0")
    drop(view, mime, upper_half(view, 3))  # before layer 3: ends up at index 2
    assert lenet.document.layers == before[1:3] + before[:1] + before[3:]
    assert lenet.document.current == 2
    lenet.undo_action.trigger()
    assert lenet.document.layers == before


def test_drop_on_the_empty_design_adds_the_first_layer(window):
    view = window.stack.view
    assert view.stack_model.rowCount() == 1  # only the input card
    window.stack.grab()  # paints the "Drag layers here" hint without error
    mime = window.palette.tree.mimeData([window.palette.item_for("Conv2D")])
    drop(view, mime, QPoint(view.viewport().width() // 2, view.viewport().height() // 2))
    assert window.document.layers == [{"type": "Conv2D", "filters": 8, "kernel_size": 3}]
    assert window.stack.card(0).title == "Conv2D 8@3x3 s1 p0"


# ---- edit actions and context menu -----------------------------------------------------------
def test_delete_duplicate_and_move_through_edit_actions(lenet, qtbot, no_merging):
    original = copy.deepcopy(lenet.document.config)
    lenet.document.set_current(3)
    lenet.duplicate_action.trigger()
    assert types(lenet)[3:5] == ["Conv2D", "Conv2D"] and lenet.document.current == 4
    lenet.move_up_action.trigger()
    assert lenet.document.current == 3
    lenet.delete_action.trigger()
    assert lenet.document.config == original
    lenet.stack.view.setFocus()
    qtbot.keyClick(lenet.stack.view, Qt.Key.Key_Delete)
    assert types(lenet)[3] == "ReLU"
    for _ in range(4):
        lenet.undo_action.trigger()
    assert lenet.document.config == original
    assert not lenet.isWindowModified()


def test_context_menu_inserts_above_and_below(lenet):
    menu = QMenu()
    lenet.stack.view.fill_layer_menu(menu, 6)
    find_action(menu, "Insert below", "Regularisation", "Dropout").trigger()
    find_action(menu, "Insert above", "Shape", "Flatten").trigger()
    assert types(lenet)[6:9] == ["Flatten", "Flatten", "Dropout"]


def find_action(menu: QMenu, *path: str):
    for action in menu.actions():
        if action.text().endswith(path[0]):
            return find_action(action.menu(), *path[1:]) if len(path) > 1 else action
    raise AssertionError(f"no menu entry {path[0]!r}")


def test_undo_menu_names_the_edit(lenet):
    lenet.document.set_field(3, "kernel_size", 3)
    assert lenet.undo_action.text() == "&Undo Set kernel_size of layer 3 Conv2D to 3"
    lenet.undo_action.trigger()
    assert lenet.redo_action.text() == "&Redo Set kernel_size of layer 3 Conv2D to 3"
    assert lenet.document.layers[3]["kernel_size"] == 5


# ---- inspector -------------------------------------------------------------------------------
def type_into(qtbot, spin, text: str) -> None:
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, text)
    qtbot.keyClick(spin, Qt.Key.Key_Return)


def test_inspector_edit_updates_card_summary_and_following_layers(lenet, qtbot):
    lenet.document.set_current(3)
    editor = lenet.inspector.row("kernel_size").editor
    type_into(qtbot, editor.height_spin, "3")
    assert lenet.document.layers[3]["kernel_size"] == 3  # square pair written as one number
    assert lenet.document.undo_stack.count() == 1
    assert lenet.stack.card(3).title == "Conv2D 16@3x3 s1 p0"
    assert lenet.stack.card(3).shape == "16×12×12"
    assert lenet.summary.model.data(lenet.summary.model.index(row_of(7), 3)) == "69,240"  # Dense 576 -> 120
    assert lenet.inspector.page.facts.values["Output"].text() == "16×12×12"


def test_inspector_shows_the_design_page_when_no_layer_is_selected_and_swaps_pages(lenet, qtbot):
    from guicnn.ui.builder.inspector import DesignPage, LayerPage

    lenet.document.set_current(NO_LAYER)
    assert isinstance(lenet.inspector.page, DesignPage) and lenet.inspector.widget() is lenet.inspector.page
    lenet.document.set_current(3)
    assert isinstance(lenet.inspector.page, LayerPage) and lenet.inspector.widget() is lenet.inspector.page
    lenet.document.set_current(NO_LAYER)
    assert isinstance(lenet.inspector.page, DesignPage) and lenet.inspector.widget() is lenet.inspector.page


def test_inspector_refuses_out_of_range_values_with_the_reason(lenet, qtbot):
    lenet.document.set_current(3)
    before = copy.deepcopy(lenet.document.config)
    row = lenet.inspector.row("filters")
    type_into(qtbot, row.editor.spin, "0")
    assert row.error.isVisibleTo(lenet.inspector)
    assert row.error.text() == "✖ filters must be ≥ 1 and ≤ 4096, got 0"
    assert row.editor.spin.value() == 16
    assert lenet.document.config == before
    type_into(qtbot, row.editor.spin, "32")
    assert lenet.document.layers[3]["filters"] == 32
    assert not row.error.isVisibleTo(lenet.inspector)


def test_float_exclusive_maximum_is_refused(window, qtbot):
    window.document.load({"input_shape": [10], "layers": [{"type": "Dropout"}]})
    window.document.set_current(0)
    row = window.inspector.row("rate")
    type_into(qtbot, row.editor.spin, "1")
    assert "rate must be ≥ 0 and < 1, got 1" in row.error.text()
    assert window.document.layers[0] == {"type": "Dropout"}
    type_into(qtbot, row.editor.spin, "0.25")
    assert window.document.layers[0] == {"type": "Dropout", "rate": 0.25}


def test_int_list_editor_parses_validates_and_writes(window, qtbot):
    window.document.load({"input_shape": [1, 16, 16], "layers": [{"type": "SpatialPyramidPool2D"}]})
    window.document.set_current(0)
    row = window.inspector.row("levels")
    line = row.editor.line
    for text, expected_error in (("1, x", "whole numbers separated by commas"), ("1, 0", "≥ 1")):
        line.setText(text)
        line.editingFinished.emit()
        assert expected_error in row.error.text()
    assert window.document.layers[0] == {"type": "SpatialPyramidPool2D"}
    line.setText("1, 2")
    line.editingFinished.emit()
    assert window.document.layers[0]["levels"] == [1, 2]
    assert window.document.analysis.layers[0].output_shape == (5,)


def test_padding_mode_and_pair_values(lenet, qtbot):
    lenet.document.set_current(3)
    editor = lenet.inspector.row("padding").editor
    editor.mode.setCurrentText("same")
    assert lenet.document.layers[3]["padding"] == "same"
    assert lenet.stack.card(3).shape == "16×14×14"
    editor = lenet.inspector.row("padding").editor
    editor.mode.setCurrentText("pixels")
    assert "padding" not in lenet.document.layers[3]  # back to the default 0
    stride = lenet.inspector.row("stride").editor
    stride.link.setChecked(False)
    type_into(qtbot, stride.width_spin, "2")
    assert lenet.document.layers[3]["stride"] == [1, 2]


def test_pool_stride_auto_follows_pool_size(lenet):
    lenet.document.set_current(2)
    editor = lenet.inspector.row("stride").editor
    assert editor.auto.isChecked() and editor.height_spin.value() == 2
    editor.auto.setChecked(False)
    assert lenet.document.layers[2]["stride"] == 2
    editor.auto.setChecked(True)
    assert lenet.document.layers[2] == {"type": "MaxPool2D", "pool_size": 2}


def test_input_card_edits_the_input_shape(lenet, qtbot):
    channels = lenet.stack.input_card.spins[0]
    type_into(qtbot, channels, "3")
    assert lenet.document.config["input_shape"] == [3, 28, 28]
    assert lenet.document.analysis.layers[0].params == 6 * 3 * 25 + 6


# ---- errors and warnings ------------------------------------------------------------------------
def test_invalid_kernel_marks_the_card_and_summary_row_red(lenet, qtbot):
    lenet.document.set_current(3)
    type_into(qtbot, lenet.inspector.row("kernel_size").editor.height_spin, "15")
    card = lenet.stack.card(3)
    assert card.error.startswith("kernel 15x15 is larger than the padded 14x14 input")
    assert all(lenet.stack.card(i).error is None for i in range(len(types(lenet))) if i != 3)
    model = lenet.summary.model
    assert model.state(row_of(3)) == ERROR
    assert [model.state(r) for r in range(model.rowCount())].count(ERROR) == 1
    assert model.data(model.index(row_of(3), 6)).startswith("kernel 15x15 is larger")
    assert model.data(model.index(row_of(3), 2), Qt.ItemDataRole.BackgroundRole).color() == QColor(style.ERROR_FILL)
    assert lenet.inspector.page.problem.isVisibleTo(lenet.inspector)
    assert lenet.design_status.text().endswith("1 error — layer 3 Conv2D: " + card.error)
    image = lenet.stack.view.viewport().grab().toImage()  # the card border is painted red
    rect = lenet.stack.view.visualRect(lenet.stack.view.stack_model.index(row_of(3)))
    lenet.document.set_current(0)
    image = lenet.stack.view.viewport().grab().toImage()
    left_edge = [image.pixelColor(x, rect.center().y()) for x in range(rect.left(), rect.left() + 40)]
    assert any(c.red() > 150 and c.green() < 90 and c.blue() < 90 for c in left_edge)


def test_dropped_rows_from_a_stride_mark_the_layer_amber(lenet):
    lenet.document.set_field(2, "stride", 3)
    card = lenet.stack.card(2)
    assert card.error is None and "stride 3 leaves the last 2 rows and 2 columns" in card.warnings[0]
    assert lenet.summary.model.state(row_of(2)) == WARNING
    assert "warning" in status_text(lenet.document.analysis)


def test_dense_without_flatten_is_explained(window):
    window.document.load({"name": "No flatten", "input_shape": [1, 28, 28],
                          "layers": [{"type": "Conv2D", "filters": 4, "kernel_size": 3},
                                     {"type": "Dense", "units": 10}]})
    assert window.stack.card(1).error
    assert window.summary.model.state(row_of(1)) == ERROR
    assert status_text(window.document.analysis).startswith("1 error — layer 1 Dense")


# ---- files ----------------------------------------------------------------------------------------
def test_save_then_open_round_trips_and_sets_the_title(lenet, tmp_path, qtbot):
    lenet.document.set_field(0, "filters", 8)
    assert lenet.isWindowModified()
    assert lenet.windowTitle() == "LeNet-5 — unsaved[*] — guicnn"
    path = tmp_path / "my net.json"
    assert lenet.save_as(path)
    assert load_design(path) == lenet.document.config
    assert lenet.windowTitle() == "LeNet-5 — my net.json[*] — guicnn" and not lenet.isWindowModified()
    other = MainWindow(settings=lenet.settings)
    qtbot.addWidget(other)
    assert other.open_file(path)
    assert other.document.config == lenet.document.config
    assert str(path.resolve()) in other.settings.recent_files()


def test_save_of_an_untitled_design_asks_for_a_path(lenet, tmp_path, monkeypatch):
    target = tmp_path / "chosen.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "Design (*.json)"))
    lenet.document.add_layer("ReLU")
    assert lenet.save()
    assert load_design(target)["layers"][-1] == {"type": "ReLU"}
    assert lenet.document.path == target


@pytest.mark.parametrize("answer, closes", [(Button.Cancel, False), (Button.Discard, True)])
def test_close_with_unsaved_changes_asks(lenet, dialogs, answer, closes):
    lenet.document.add_layer("ReLU")
    dialogs.answer = answer
    lenet.close()
    assert len(dialogs.questions) == 1 and "LeNet-5" in dialogs.questions[0]
    assert lenet.isVisible() is not closes


def test_new_with_unsaved_changes_asks_and_cancel_keeps_the_design(lenet, dialogs):
    lenet.document.add_layer("ReLU")
    before = copy.deepcopy(lenet.document.config)
    dialogs.answer = Button.Cancel
    assert not lenet.new_design()
    assert lenet.document.config == before
    dialogs.answer = Button.Discard
    assert lenet.new_design()
    assert lenet.document.layers == [] and not lenet.document.modified
    assert len(dialogs.questions) == 2


def test_open_with_unsaved_changes_can_save_first(lenet, dialogs, tmp_path, monkeypatch):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"name": "Other", "input_shape": [1, 8, 8], "layers": [{"type": "Flatten"}]}))
    saved = tmp_path / "mine.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(saved), "Design (*.json)"))
    lenet.document.add_layer("ReLU")
    edited = copy.deepcopy(lenet.document.config)
    dialogs.answer = Button.Save
    assert lenet.open_file(other)
    assert dialogs.questions and load_design(saved) == edited
    assert lenet.document.name == "Other" and lenet.windowTitle() == "Other — other.json[*] — guicnn"


def test_a_corrupt_file_shows_the_error_and_leaves_the_design_untouched(lenet, dialogs, tmp_path):
    lenet.document.add_layer("ReLU")
    before = copy.deepcopy(lenet.document.config)
    bad = tmp_path / "broken.json"
    bad.write_text('{"input_shape": [1, 28, 28], "layers": [')
    assert not lenet.open_file(bad)
    assert dialogs.errors == ["broken.json: not valid JSON (line 1, column 41: Expecting value)"]
    assert dialogs.questions == []  # nothing to save for: the file never opened
    assert lenet.document.config == before
    assert lenet.document.undo_stack.count() == 1 and lenet.document.path is None


def test_preset_menu_loads_each_preset(window):
    window._fill_preset_menu()
    actions = {a.text(): a for a in window.preset_menu.actions() if a.text()}
    presets = preset_files()
    assert len(presets) == 4 and set(actions) == {name for name, _ in presets} | {"Empty design"}
    for name, path in presets:
        actions[name].trigger()
        assert window.document.config == load_design(path)
        assert window.windowTitle() == f"{name} — unsaved[*] — guicnn"
        assert window.document.analysis.valid
        assert window.stack.view.stack_model.rowCount() == 1 + len(window.document.layers)
    actions["Empty design"].trigger()
    assert window.document.layers == []


def test_recent_files_menu_reopens(lenet, tmp_path):
    path = tmp_path / "recent.json"
    lenet.save_as(path)
    lenet.new_design()
    lenet._fill_recent_menu()
    entry = next(a for a in lenet.recent_menu.actions() if a.text() == "recent.json")
    entry.trigger()
    assert lenet.document.path == path and lenet.document.name == "LeNet-5"


def test_trained_model_opens_with_weights_and_saves_as_a_model(lenet, tmp_path):
    modelfile = pytest.importorskip("guicnn.core.modelfile")
    from guicnn.core import Sequential

    model = Sequential.from_config(lenet.document.config, seed=5)
    path = tmp_path / "trained.safetensors"
    history = {"loss": [2.1, 0.9]}
    modelfile.save_model(path, model, history=history)
    assert lenet.open_file(path)
    assert set(lenet.document.weights) == set(model.state_dict())
    assert lenet.windowTitle() == "LeNet-5 — trained.safetensors[*] — guicnn"
    lenet.document.add_layer("Dropout")  # appended: the weights still fit
    assert lenet.document.weights is not None
    assert lenet.save()
    reloaded = modelfile.load_model(path)
    assert reloaded.config == lenet.document.config and reloaded.history == history
    assert reloaded.model.state_dict()["0.weight"].tobytes() == model.state_dict()["0.weight"].tobytes()


def test_an_edit_that_changes_shapes_drops_the_weights_and_saves_a_design(lenet, tmp_path, monkeypatch):
    modelfile = pytest.importorskip("guicnn.core.modelfile")
    from guicnn.core import Sequential

    path = tmp_path / "trained.safetensors"
    modelfile.save_model(path, Sequential.from_config(lenet.document.config))
    lenet.open_file(path)
    lenet.document.set_field(0, "filters", 8)
    assert lenet.document.weights is None
    assert "Trained weights dropped: 0.weight is now 8×1×5×5" in lenet.message_label.text()
    design = tmp_path / "trained.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(design), "Design (*.json)"))
    assert lenet.save()  # a model path without weights: asks for a design path instead
    assert load_design(design) == lenet.document.config


def test_a_foreign_safetensors_file_is_refused_with_the_loaders_message(lenet, dialogs, tmp_path):
    pytest.importorskip("guicnn.core.modelfile")
    before = copy.deepcopy(lenet.document.config)
    path = tmp_path / "garbage.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    assert not lenet.open_file(path)
    assert dialogs.errors and dialogs.errors[0].startswith("garbage.safetensors:")
    assert lenet.document.config == before


# ---- command line ---------------------------------------------------------------------------------
def test_command_line_preset_and_selection(dialogs, qtbot):
    main = build_window(parse_args(["--preset", "lenet5", "--select", "3", "--size", "1280x800"]))
    qtbot.addWidget(main)
    assert main.document.name == "LeNet-5" and main.document.current == 3
    assert main.inspector.page.title.text() == "Conv2D"
    assert main.stack.view.currentIndex().row() == row_of(3)
    assert main.width() == 1280


def test_selection_in_the_summary_selects_the_card(lenet):
    table = lenet.summary.table
    table.selectRow(row_of(5))
    assert lenet.document.current == 5
    assert lenet.stack.view.currentIndex().row() == row_of(5)
    table.selectRow(0)
    assert lenet.document.current == NO_LAYER
    assert lenet.inspector.page.title.text() == "Design"


def test_read_only_design_refuses_edits_with_a_message(lenet):
    document = lenet.document
    document.set_current(3)
    document.set_read_only(True)
    before = copy.deepcopy(document.config)
    assert not lenet.delete_action.isEnabled() and not lenet.palette.tree.isEnabled()
    assert not lenet.inspector.page.isEnabled()
    mime = lenet.palette.tree.mimeData([lenet.palette.item_for("ReLU")])
    assert not lenet.stack.view.handle_drop(mime, row_of(0))
    assert "locked while training" in lenet.message_label.text()
    assert document.config == before
    document.set_read_only(False)
    assert lenet.delete_action.isEnabled() and lenet.inspector.page.isEnabled()


def test_a_newly_registered_layer_type_needs_no_ui_change(dialogs, qtbot, monkeypatch, tmp_path):
    from guicnn.core import Field, Layer, registry

    class Scale(Layer):
        type_name = "Scale"
        group = "Shape"
        glyph = "×"
        description = "Multiplies every value by a constant."
        fields = (Field("factor", "float", 2.0, "The constant.", minimum=0.0, maximum=10.0, key=True),
                  Field("mode", "choice", "all", "Which values.", choices=("all", "positive")))

        def describe(self) -> str:
            return f"Scale ×{self.settings['factor']:g}"

    monkeypatch.setitem(registry._REGISTRY, "Scale", Scale)
    main = MainWindow()
    qtbot.addWidget(main)
    assert main.palette.item_for("Scale").parent().text(0) == "Shape"
    main.palette._activated(main.palette.item_for("Scale"))
    assert main.document.layers == [{"type": "Scale"}]
    main.inspector.row("factor").editor.spin.setValue(3.5)
    main.inspector.row("mode").editor.combo.setCurrentText("positive")
    assert main.document.layers == [{"type": "Scale", "factor": 3.5, "mode": "positive"}]
    assert main.stack.card(0).title == "Scale ×3.5"
    # Nor does export: a type without export methods is named in the error...
    assert not main.export_pytorch(tmp_path / "scale.py")
    assert "layer type Scale has no PyTorch export" in dialogs.errors[-1]
    # ...and one that has them exports through them.
    monkeypatch.setattr(Scale, "torch_code", lambda self, shape: f"Scale({self.settings['factor']!r})", raising=False)
    assert main.export_pytorch(tmp_path / "scale.py")
    assert "Scale(3.5),  # 0:" in (tmp_path / "scale.py").read_text(encoding="utf-8")
    main.document.undo_stack.setClean()


def test_a_design_file_dropped_on_the_window_opens(qtbot, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    from guicnn.core.designfile import load_preset, save_design
    from guicnn.ui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    path = tmp_path / "dropped.json"
    save_design(path, load_preset("lenet5"))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    assert window._dropped_file(mime) == path
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.document.config == load_preset("lenet5")
    assert window.document.path == path
    other = QMimeData()
    other.setUrls([QUrl.fromLocalFile(str(tmp_path / "notes.txt"))])
    assert window._dropped_file(other) is None  # other files are not taken
