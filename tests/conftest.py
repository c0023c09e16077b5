import os

# Qt must be told before it is first imported anywhere in the test run.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GUICNN_NO_SETTINGS", "1")

import pytest  # noqa: E402  (after the environment above)


@pytest.fixture
def window(qtbot, monkeypatch):
    """The whole application on the digits_small preset with the built-in digits loaded."""
    from PySide6.QtWidgets import QMessageBox

    from guicnn.ui.app import build_window, parse_args

    window = build_window(parse_args(["--preset", "digits_small", "--data", "digits", "--size", "1280x800"]))
    window.show()
    qtbot.waitUntil(lambda: window.workbench.data_panel.dataset() is not None, timeout=20_000)
    yield window
    # Close it here, answering its questions, rather than block on a dialog in qtbot's teardown.
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Discard)
    window.close()
    window.workbench.shutdown()
    window.exports.shutdown()
    window.deleteLater()
