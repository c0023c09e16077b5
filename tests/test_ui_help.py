"""Help: the user guide in its viewer, the keyboard shortcuts read from the actions, About."""

from __future__ import annotations

import html
import re

import pytest
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMessageBox

from guicnn import __version__
from guicnn.core import accelerate
from guicnn.resources import guide_dir
from guicnn.ui.help import about_html
from guicnn.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    return window


def _menu(window, title):
    return next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == title)


def test_the_help_menu_offers_guide_shortcuts_and_about(window):
    texts = [a.text().replace("&", "") for a in _menu(window, "Help").actions() if not a.isSeparator()]
    assert texts == ["User guide", "Keyboard shortcuts", "About guicnn"]
    guide = _menu(window, "Help").actions()[0]
    assert guide.shortcut() == QKeySequence(QKeySequence.StandardKey.HelpContents)
    assert window.windowTitle().endswith("— guicnn")


def test_every_link_of_the_guide_leads_to_a_page_that_exists():
    pages = sorted(p.name for p in guide_dir().glob("*.md"))
    assert {"index.md", "building.md", "training.md", "views.md"} <= set(pages)
    for page in pages:
        text = (guide_dir() / page).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", text):
            assert (guide_dir() / target).is_file(), f"{page} links to missing {target}"


def test_the_guide_opens_in_the_viewer_and_follows_its_links(window, qtbot):
    viewer = window.show_guide()
    qtbot.waitExposed(viewer)
    assert viewer.page() == "index.md" and "guicnn user guide" in viewer.text()
    assert "Build LeNet-5" in viewer.text()  # Markdown rendered: headings and links as text, no '#' or '('
    assert "](building.md)" not in viewer.text()
    viewer.show_page("building.md")
    assert "61,706 parameters" in viewer.text()
    from PySide6.QtCore import QUrl

    viewer.browser.setSource(viewer.browser.source().resolved(QUrl("training.md")))  # what a click on the link does
    assert viewer.page() == "training.md" and "Train it" in viewer.text()
    viewer.back_button.click()
    assert viewer.page() == "building.md"
    viewer.home_button.click()
    assert viewer.page() == "index.md"
    assert window.show_guide("views.md") is viewer and viewer.page() == "views.md"  # one viewer, reused


def test_the_shortcut_list_is_read_from_the_actions_themselves(window):
    dialog = window.show_shortcuts()
    rows = dialog.rows()
    assert ("Edit", "Undo", QKeySequence(QKeySequence.StandardKey.Undo).toString(QKeySequence.SequenceFormat.NativeText)) in rows
    assert ("Help", "User guide", "F1") in rows
    assert any(menu == "Edit" and command == "Duplicate layer" and keys == "Ctrl+D" for menu, command, keys in rows)
    window.duplicate_action.setShortcut(QKeySequence("Ctrl+Shift+U"))  # the list follows the actions
    assert ("Edit", "Duplicate layer", "Ctrl+Shift+U") in window.show_shortcuts().rows()


def test_about_names_the_version_licence_and_every_data_sets_credit(window, monkeypatch):
    text = about_html()
    assert f"guicnn {__version__}" in text and "Licence: MIT" in text
    for credit in ("Alpaydin", "CC BY 4.0", "LeCun", "Zalando", "Krizhevsky", "Shapes"):
        assert credit in text
    assert html.escape(accelerate.describe()) in text  # what scores images: onnxruntime or the NumPy engine
    shown = []
    monkeypatch.setattr(QMessageBox, "about", lambda parent, title, body: shown.append((title, body)))
    window.show_about()
    assert shown == [("About guicnn", text)]


def test_a_long_status_message_is_never_lost(window, qtbot):
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QToolTip

    window.resize(1000, 650)
    window.show()
    qtbot.waitExposed(window)
    message = ("Training was not started: the images are 1x28x28 but the design's input is 3x32x32; set the "
               "design's input_shape to [1, 28, 28] or load data that fits (the Data panel offers it).")
    window.show_message(message)
    qtbot.wait(50)
    label = window.message_label
    assert label.text() == message and label.toolTip() == message
    assert label.width() > 520  # it may take most of the bar, not a fixed 520 px
    assert label.is_cut()  # this one is still longer than the bar: hover or click shows it whole
    QTest.mouseClick(label, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    qtbot.waitUntil(lambda: QToolTip.text() == message, timeout=2000)  # (offscreen never shows it)
    assert window._message_timer.interval() > 8000  # and a long note stays longer than a short one


def test_each_preset_in_the_menu_names_the_data_it_trains_on(window, monkeypatch, tmp_path):
    monkeypatch.setenv("GUICNN_CACHE", str(tmp_path))  # nothing downloaded
    window._fill_preset_menu()
    tips = {a.text(): a.toolTip() for a in window.preset_menu.actions() if not a.isSeparator()}
    assert tips["Tiny VGG"].startswith("Trains now on the built-in shapes in colour.")
    assert "Made for CIFAR-10" in tips["Tiny VGG"] and "MB to download" in tips["Tiny VGG"]
    assert tips["LeNet-5"].startswith("Trains now on the built-in shapes.") and "MNIST" in tips["LeNet-5"]
