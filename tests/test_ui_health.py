"""Layer health in the window: badges on the cards, the Weights tab's dead-unit chart, after every epoch."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor

from guicnn.core import Sequential
from guicnn.core.health import RED, layer_health
from guicnn.ui.builder.document import DesignDocument
from guicnn.ui.builder.layer_stack import QtLayerStack
from guicnn.ui.style import HEALTH_COLOURS

DESIGN = {"input_shape": [1, 6, 6], "layers": [
    {"type": "Conv2D", "filters": 4, "kernel_size": 3}, {"type": "ReLU"}, {"type": "Flatten"},
    {"type": "Dense", "units": 3}]}


def _count_colour(widget, colour: str) -> int:
    image = widget.grab().toImage()
    target = QColor(colour).rgb()
    return sum(1 for y in range(0, image.height(), 2) for x in range(0, image.width(), 2)
               if image.pixel(x, y) == target)


def test_a_dead_relu_gets_a_red_badge_with_its_meaning_in_the_tooltip(qtbot):
    document = DesignDocument(DESIGN)
    stack = QtLayerStack(document)
    qtbot.addWidget(stack)
    stack.resize(700, 500)
    stack.show()
    qtbot.waitExposed(stack)
    red = HEALTH_COLOURS[RED]
    assert _count_colour(stack.view.viewport(), red) == 0 and stack.card(1).health is None
    model = Sequential.from_config(DESIGN, seed=0)
    model.layers[0].params["bias"][...] = -1e3  # every feature map of the ReLU dies
    health = layer_health(model, np.random.default_rng(0).random((8, 1, 6, 6), dtype=np.float32))
    stack.set_health(health)
    card = stack.card(1)
    assert card.health.status == RED and card.health.badge == "100% dead"
    assert "dying-ReLU" in card.tooltip and "lower the learning rate" in card.tooltip
    assert stack.card(2).health is None  # Flatten: nothing to rate
    qtbot.wait(20)
    assert _count_colour(stack.view.viewport(), red) > 20  # the pill is painted
    stack.set_health(())
    assert stack.card(1).health is None


def test_health_arrives_after_each_epoch_whichever_tab_is_visible(qtbot, window):
    workbench = window.workbench
    assert workbench.histograms.dead_fractions() == {}
    workbench.training_panel.epochs.setValue(2)
    epochs = []
    workbench.controller.epoch.connect(epochs.append)
    with qtbot.waitSignal(workbench.controller.finished, timeout=60_000):
        workbench.training_panel.start_button.click()
        qtbot.waitUntil(lambda: len(epochs) >= 1, timeout=60_000)
        # after the first epoch, with the Training tab in front, the Weights tab's chart is filled
        assert workbench.tabs.tabText(workbench.tabs.currentIndex()) == "Training"
        latest = {h.index: h.dead_share for h in epochs[-1].health if h.dead_share is not None}
        assert latest and workbench.histograms.dead_fractions() == latest
    last = epochs[-1].health
    relus = [i for i, layer in enumerate(window.document.layers) if layer["type"] == "ReLU"]
    assert sorted(h.index for h in last if h.dead_share is not None) == relus
    assert workbench.histograms.dead_fractions() == {h.index: h.dead_share for h in last if h.dead_share is not None}
    for entry in last:  # every rated layer's card carries its badge
        assert window.stack.card(entry.index).health == entry
    window.document.set_current(relus[0])  # the inspector explains the selected layer's figures
    box = window.inspector.page.health
    assert not box.isHidden() and box.label.text().count(f"{last_by_index(last, relus[0]).badge}") == 1
    workbench.show_tab("Weights")
    assert workbench.histograms.dead_fractions()  # still there when the tab is shown
    # an edit makes the figures stale: the badges and the chart are cleared
    window.document.add_layer("ReLU")
    assert all(window.stack.card(i).health is None for i in range(len(window.document.layers)))
    assert workbench.histograms.dead_fractions() == {}
    window.document.set_current(relus[0])
    assert window.inspector.page.health.isHidden()


def last_by_index(health, index):
    return next(entry for entry in health if entry.index == index)
