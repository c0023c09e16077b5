"""Explain the design in the GUI: clickable receptive fields, one-click fixes, the arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from guicnn.core import Sequential, analyze
from guicnn.core.analysis import receptive_box
from guicnn.core.designfile import load_preset
from guicnn.core.explain import explain_layer
from guicnn.core.receptive import receptive_field
from guicnn.ui.builder.layer_stack import row_of
from guicnn.ui.main_window import MainWindow
from guicnn.ui.views import FeatureMapsView, layer_labels
from guicnn.ui.views.feature_maps import OVERVIEW

DILATED = {"input_shape": [1, 24, 24], "layers": [
    {"type": "Conv2D", "filters": 3, "kernel_size": 3, "dilation": 2, "padding": 1},
    {"type": "ReLU"},
    {"type": "Conv2D", "filters": 4, "kernel_size": 3, "stride": 2, "padding": "same"},
    {"type": "MaxPool2D", "pool_size": 3, "stride": 2},
    {"type": "Flatten"}, {"type": "Dense", "units": 5}]}

TOO_SMALL = {**load_preset("lenet5"), "name": "LeNet-5 on 8×8", "input_shape": [1, 8, 8]}


@pytest.fixture
def maps_view(qtbot):
    model = Sequential.from_config(DILATED, seed=0)
    probe = np.random.default_rng(0).random((1, 24, 24), dtype=np.float32)
    view = FeatureMapsView()
    qtbot.addWidget(view)
    view.resize(1000, 760)
    view.set_design(DILATED)
    view.set_layers(layer_labels(model))
    view.set_activations(probe, [a[0] for a in model.feature_maps(probe[None])])
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(view.overview_complete)  # its rows are made a few per event-loop turn
    return view


def click_scene_point(graphics, view_box, x: float, y: float, double: bool = False) -> None:
    """A real mouse click at view-box coordinates (x, y) of a pyqtgraph widget."""
    scene = view_box.mapViewToScene(QPointF(x, y))
    point = graphics.mapFromScene(scene)
    QTest.mouseClick(graphics.viewport(), Qt.MouseButton.LeftButton, pos=point)
    if double:  # what the window system sends for the second click: a double-click press, then a release
        QTest.mouseDClick(graphics.viewport(), Qt.MouseButton.LeftButton, pos=point)
        QTest.mouseRelease(graphics.viewport(), Qt.MouseButton.LeftButton, pos=point)


def test_clicking_a_unit_on_a_layer_page_highlights_its_receptive_field(maps_view, qtbot):
    view = maps_view
    view.set_selected_layer(2)  # the strided 'same' convolution after the dilated one
    assert view.current_page() == "maps"
    layout = view._layout
    tile_x, tile_y, _, _ = view.tile_rects()[1]  # channel 1: any channel has the same field
    row, col = 3, 5
    click_scene_point(view.map_graphics, view.map_view,
                      tile_x + (col + 0.5) * layout.scale, tile_y + (row + 0.5) * layout.scale)
    qtbot.waitUntil(lambda: view.selected_unit() is not None)
    assert view.highlighted_box() == receptive_box(DILATED, 2, row, col)
    assert view.selected_unit().unit == (row, col)
    assert view.highlighted_window(2).box == (row, row + 1, col, col + 1)
    caption = receptive_field(DILATED, 2, row, col).caption()
    assert view.unit_caption.text() == caption[0].upper() + caption[1:] + "."

    # the dilated layer's units read every other pixel: the gaps are drawn as gaps on the probe
    view.select_unit(0, 5, 5)
    assert "9 pixels spread over a 5×5 box, with gaps between them" in view.unit_caption.text()
    assert view.highlighted_box() == (4, 9, 4, 9)
    assert view.selected_unit().input.mask()[4:9, 4:9].tolist() == [[r % 2 == 0 and c % 2 == 0 for c in range(5)]
                                                                     for r in range(5)]

    QTest.keyClick(view.map_graphics.viewport(), Qt.Key.Key_Escape)
    assert view.selected_unit() is None and view.highlighted_box() is None
    assert not view.map_overlay.image.isVisible()


def test_clicking_a_unit_in_the_overview_draws_the_chain_of_windows(maps_view, qtbot):
    view = maps_view
    assert view.selected_layer() == OVERVIEW and view.current_page() == "overview"
    row_item = view._rows[3]  # layer 2
    tile_x, tile_y, _, _ = row_item.layout.rect(0)
    scale = row_item.layout.scale
    click_scene_point(view.overview_graphics, row_item.view, tile_x + 4.5 * scale, tile_y + 6.5 * scale)
    qtbot.waitUntil(lambda: view.selected_unit() is not None)
    field = receptive_field(DILATED, 2, 6, 4)
    assert view.highlighted_box() == field.box
    # every map from the input up to the unit's own shows its window; later ones show none
    for layer in (-1, 0, 1, 2):
        assert view.highlighted_window(layer).box == field.map_for(layer).box, layer
    assert view.highlighted_window(3) is None
    assert view.selected_layer() == OVERVIEW  # a click on a unit traces it, it does not open the layer

    # a bar of a flat layer: the whole layer depends on the whole (read) input
    flat = view._rows[6]  # layer 5, Dense
    point = flat.view.sceneBoundingRect().center()
    QTest.mouseClick(view.overview_graphics.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.overview_graphics.mapFromScene(point))
    qtbot.waitUntil(lambda: view.selected_unit() is not None and view.selected_unit().layer == 5)
    assert view.selected_unit().whole
    assert view.highlighted_box() == receptive_box(DILATED, 5, 0, 0)
    assert view.unit_caption.text().startswith("Layer 5 Dense sees")

    # a double click opens the layer, as before
    click_scene_point(view.overview_graphics, view._rows[1].view, 1.5, 1.5, double=True)
    qtbot.waitUntil(lambda: view.selected_layer() == 0)


def test_a_unit_of_an_invalid_or_missing_design_says_why(maps_view):
    view = maps_view
    view.set_design(None)
    view.select_unit(0, 1, 1)
    assert view.selected_unit() is None and "Cannot show" in view.unit_caption.text()


@pytest.fixture
def window(qtbot, monkeypatch):
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Discard)
    main = MainWindow()
    qtbot.addWidget(main)
    main.resize(1366, 768)
    main.show()
    qtbot.waitExposed(main)
    yield main
    main.close()


def test_a_fix_button_on_the_red_card_fixes_the_design_and_undo_restores_it(window, qtbot):
    window.document.load(TOO_SMALL)
    stack = window.stack.view
    card = window.stack.card(3)
    assert card.error and card.fixes[0] == "✓ Use kernel 3×3"  # the card's own layer is not named again
    stack.scrollTo(stack.stack_model.index(row_of(3)))
    qtbot.wait(50)
    rect = stack.fix_button_rect(3, 0)
    assert stack.fix_at(rect.center()) == (3, 0)
    QTest.mouseClick(stack.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.document.analysis.valid)
    assert window.document.layers[3]["kernel_size"] == 3
    assert window.undo_action.text() == "&Undo Use kernel 3×3 in layer 3"
    window.undo_action.trigger()
    assert window.document.config == TOO_SMALL
    assert window.stack.card(3).error


def test_the_inspector_offers_the_fixes_and_each_is_one_undoable_edit(window, qtbot):
    window.document.load(TOO_SMALL)
    window.document.set_current(3)
    page = window.inspector.page
    texts = [button.text() for button in page.fix_buttons.buttons]
    assert texts[:2] == ["✓ Use kernel 3×3 in layer 3", "✓ Add padding 1 to layer 3"]
    input_fix = texts.index("✓ Set the input to 1×12×12 (the smallest that fits)")
    QTest.mouseClick(page.fix_buttons.buttons[input_fix], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.document.analysis.valid)
    assert window.document.config["input_shape"] == [1, 12, 12]
    assert window.document.undo_stack.undoText() == "Set the input to 1×12×12 (the smallest that fits)"
    window.document.undo()
    assert window.document.config == TOO_SMALL


def test_a_broken_input_shape_gets_its_fix_on_the_input_card(window, qtbot):
    window.document.load({**TOO_SMALL, "input_shape": [28, 28]})
    buttons = window.stack.input_card.fix_buttons
    assert buttons.isVisibleTo(window) and buttons.buttons[0].text() == "✓ Set the input to 1×28×28 (a grey 28×28 image)"
    qtbot.waitUntil(lambda: buttons.buttons[0].isVisible() and buttons.buttons[0].height() > 10)  # laid out
    QTest.mouseClick(buttons.buttons[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.document.analysis.valid)


def test_inspector_arithmetic_for_lenet5_second_convolution(window):
    window.document.load(load_preset("lenet5"))
    window.document.set_current(3)
    page = window.inspector.page
    text = page.arithmetic.plain_text()
    assert text == explain_layer(window.document.config, 3).text()
    assert ("Parameters: k_h·k_w·C_in·C_out + C_out = 5·5·6·16 + 16 = 2,416" in text
            and "Output height and width: ⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1 = ⌊(14 + 2·0 − 1·4 − 1) / 1⌋ + 1 = 10"
            in text)
    html = page.arithmetic.body.text()
    assert "k<sub>h</sub>·k<sub>w</sub>·C<sub>in</sub>·C<sub>out</sub> + C<sub>out</sub>" in html
    assert "5·5·6·16 + 16 = <b>2,416</b>" in html
    # the same text is the tooltip of the figures: inspector facts, card figures, summary cells
    explanation = explain_layer(window.document.config, 3)
    assert page.facts.values["Parameters"].toolTip() == explanation.text("parameters")
    stack = window.stack.view
    stack.scrollTo(stack.stack_model.index(row_of(3)))
    card = window.stack.card(3)
    from guicnn.ui.builder.card_view import GAP, card_rect
    rect = card_rect(stack.visualRect(stack.stack_model.index(row_of(3))), GAP)
    figures = stack.itemDelegate().figure_rects(rect, card)
    assert stack.tooltip_at(figures["output"].center()) == explanation.text("output")
    assert stack.tooltip_at(figures["parameters"].center()) == explanation.text("parameters")
    assert stack.tooltip_at(QPoint(rect.left() + 60, rect.top() + 10)) is None
    model = window.summary.model
    assert model.data(model.index(4, 3), Qt.ItemDataRole.ToolTipRole) == explanation.text("parameters")
    assert model.data(model.index(4, 5), Qt.ItemDataRole.ToolTipRole) == explanation.text("macs")
    assert card.sees == "Each unit sees a 14×14 patch of the input; the next unit's patch starts 2 pixels further on."


def test_predict_traces_a_unit_of_the_drawing(window, qtbot):
    window.document.load(load_preset("shapes_cnn"))
    workbench = window.workbench
    workbench.show_tab("Predict")
    predict = workbench.predict
    predict.canvas.draw_stroke([(0.2, 0.8), (0.5, 0.2), (0.8, 0.8)])
    qtbot.waitUntil(lambda: predict.feature_maps.current_page() == "overview", timeout=10_000)
    predict.feature_maps.select_unit(3, 5, 8)
    design = window.document.config
    assert predict.feature_maps.highlighted_box() == receptive_box(design, 3, 5, 8)
    assert analyze(design).valid


def test_the_card_menu_lists_the_fixes_for_keyboard_users(window, qtbot):
    from PySide6.QtWidgets import QMenu

    window.document.load(TOO_SMALL)
    menu = QMenu()
    window.stack.view.fill_layer_menu(menu, 3)
    fix_menu = menu.actions()[0].menu()
    assert menu.actions()[0].text() == "Fix"
    assert [a.text() for a in fix_menu.actions()][:2] == ["Use kernel 3×3 in layer 3", "Add padding 1 to layer 3"]
    fix_menu.actions()[1].trigger()
    assert window.document.layers[3]["padding"] == 1 and window.document.analysis.valid
    menu = QMenu()
    window.stack.view.fill_layer_menu(menu, 3)
    assert menu.actions()[0].text() != "Fix"  # nothing left to fix


def test_hovering_with_shift_traces_the_unit_under_the_mouse(maps_view, qtbot, monkeypatch):
    from guicnn.ui.views import feature_maps

    view = maps_view
    view.set_selected_layer(0)
    layout = view._layout
    scene_point = view.map_view.mapViewToScene(QPointF(2.5 * layout.scale, 6.5 * layout.scale))
    view.map_graphics.scene().sigMouseMoved.emit(scene_point)  # no Shift: only the hover text
    qtbot.wait(150)
    assert view.selected_unit() is None and "row 6, column 2" in view.hover_label.text()
    monkeypatch.setattr(feature_maps, "_tracing", lambda: True)  # Shift held
    view.map_graphics.scene().sigMouseMoved.emit(scene_point)
    qtbot.waitUntil(lambda: view.selected_unit() is not None)
    assert view.selected_unit().unit == (6, 2) and view.highlighted_box() == receptive_box(DILATED, 0, 6, 2)
