"""The Data panel, driven as a user drives it: sources, files, downloads from 127.0.0.1, design check, preview."""

from __future__ import annotations

import dataclasses
import gc
import gzip
import hashlib
import http.server
import struct
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtWidgets import QFileDialog, QScrollArea  # noqa: E402

from guicnn.core.data import DATASETS, RemoteFile, is_downloaded, make_shapes  # noqa: E402
from guicnn.ui import style  # noqa: E402
from guicnn.ui import worker as data_worker  # noqa: E402
from guicnn.ui.data.panel import DataPanel, validation_count  # noqa: E402
from guicnn.ui.data.preview import resample_nearest  # noqa: E402
from guicnn.ui.views.common import images_to_uint8  # noqa: E402

LOAD_TIMEOUT_MS = 20_000


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("GUICNN_CACHE", str(folder))
    return folder


@pytest.fixture
def panel(qtbot, cache):
    widget = DataPanel()
    qtbot.addWidget(widget)
    widget.resize(360, 900)
    yield widget
    widget.shutdown()
    assert data_worker.live_jobs() == 0


def wait_idle(qtbot, panel: DataPanel) -> None:
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=LOAD_TIMEOUT_MS)


def load(qtbot, panel: DataPanel, action):
    """Run ``action`` and return the Dataset that ``datasetChanged`` carries."""
    with qtbot.waitSignal(panel.datasetChanged, timeout=LOAD_TIMEOUT_MS) as blocker:
        action()
    return blocker.args[0]


def is_red(label) -> bool:
    return style.ERROR.lower() in label.styleSheet().lower()


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; ``/slow/<name>`` trickles the file out (16 KB every 20 ms)."""

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        if not self.path.startswith("/slow/"):
            super().do_GET()
            return
        body = (Path(self.directory) / self.path.removeprefix("/slow/")).read_bytes()
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for start in range(0, len(body), 16384):
                self.wfile.write(body[start : start + 16384])
                self.wfile.flush()
                time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError):  # the client cancelled
            pass
        self.close_connection = True


@pytest.fixture
def server(tmp_path):
    """(base URL, served folder) of an HTTP server on 127.0.0.1."""
    root = tmp_path / "served"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def fake_mnist(monkeypatch, root: Path, n: int = 40, sha256: str | None = None) -> np.ndarray:
    """Serve a small MNIST (random pictures, ~n*784 bytes) and point DATASETS['mnist'] at a dead mirror."""
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    payloads = {
        "train-images-idx3-ubyte.gz": struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes(),
        "train-labels-idx1-ubyte.gz": struct.pack(">II", 2049, n) + labels.tobytes(),
    }
    files = []
    for name, payload in payloads.items():
        data = gzip.compress(payload, compresslevel=1)
        (root / name).write_bytes(data)
        # the real address is unreachable: only the panel's base_url can succeed
        files.append(RemoteFile(name, f"http://127.0.0.1:9/{name}", sha256 or hashlib.sha256(data).hexdigest(),
                                len(data)))
    spec = dataclasses.replace(DATASETS["mnist"], files=tuple(files),
                               splits={"train": tuple(payloads)})
    monkeypatch.setitem(DATASETS, "mnist", spec)
    return images


def write_npz(path: Path, n: int = 24, classes: int = 3) -> Path:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 6, 5), dtype=np.uint8)
    y = np.arange(n) % classes
    names = np.array([f"class {c}" for c in range(classes)])
    np.savez(path, x=x, y=y, class_names=names)
    return path


# ---------------------------------------------------------------------------- built-in sets


def test_digits_load_in_the_background_and_fill_the_info(qtbot, panel):
    busy = []
    panel.busyChanged.connect(busy.append)
    probes = []
    panel.probeChanged.connect(probes.append)
    with qtbot.waitSignal(panel.datasetChanged, timeout=LOAD_TIMEOUT_MS) as blocker:
        panel.load_builtin("digits")
        assert panel.is_busy() and panel.dataset() is None  # the call did not block on the load
    ds = blocker.args[0]
    assert ds is panel.dataset()
    assert (len(ds), ds.input_shape, ds.num_classes) == (1797, (1, 8, 8), 10)
    assert busy == [True, False] and not panel.progress_row.isVisibleTo(panel)
    assert panel.info_name.text() == "digits"
    assert panel.info_samples.text() == "1,797"
    assert panel.info_shape.text().startswith("1×8×8")
    assert panel.info_classes.text() == "10: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"
    assert "174 to 183 samples per class" in panel.info_balance.text()
    assert panel.info_values.text().startswith("0 to 1, mean")
    np.testing.assert_array_equal(panel.stats().class_counts, np.bincount(ds.y))
    # a probe is chosen straight away: the first picture of the preview, framed
    assert probes == [panel.probe_index()] and panel.probe_index() == panel.preview.shown_indices()[0]
    assert panel.probe_image().shape == (1, 8, 8)
    assert panel.split_caption.text() == "1,438 for training, 359 for validation (stratified by class)"


def test_shapes_use_the_spins_and_options(qtbot, panel):
    panel.shapes_count.setValue(600)
    panel.shapes_seed.setValue(4)
    ds = load(qtbot, panel, lambda: panel.load_builtin("shapes"))
    expected = make_shapes(600, seed=4)
    assert (len(ds), ds.input_shape, ds.class_names) == (600, (1, 28, 28), expected.class_names)
    np.testing.assert_array_equal(ds.x, expected.x)
    assert panel.info_samples.text() == "600" and panel.info_shape.text().startswith("1×28×28")
    assert panel.info_classes.text() == "5: circle, square, triangle, cross, line"
    assert panel.source_key() == "shapes"
    # options given in code win over the spins, and the spins follow them
    ds = load(qtbot, panel, lambda: panel.load_builtin("shapes", n=140, seed=1, classes=["ring", "star"]))
    assert len(ds) == 140 and ds.class_names == ["ring", "star"]
    assert (panel.shapes_count.value(), panel.shapes_seed.value(), panel.shapes_classes.value()) == (140, 1, 2)


def test_choosing_a_source_loads_it(qtbot, panel):
    panel.shapes_count.setValue(200)
    ds = load(qtbot, panel, lambda: panel.source.setCurrentIndex(panel.source.findData("shapes")))
    assert ds.name == "shapes" and len(ds) == 200
    ds = load(qtbot, panel, lambda: panel.source.setCurrentIndex(panel.source.findData("digits")))
    assert ds.name == "digits"
    with qtbot.assertNotEmitted(panel.busyChanged):  # a file needs the dialog; nothing starts by itself
        panel.source.setCurrentIndex(panel.source.findData("file"))
    assert panel.open_file_button.isVisibleTo(panel) and not panel.shapes_button.isVisibleTo(panel)


def test_a_newer_load_supersedes_a_running_one(qtbot, panel):
    seen = []
    panel.datasetChanged.connect(seen.append)
    panel.load_builtin("shapes", n=20_000)
    ds = load(qtbot, panel, lambda: panel.load_builtin("digits"))
    qtbot.waitUntil(lambda: data_worker.live_jobs() == 0, timeout=LOAD_TIMEOUT_MS)
    qtbot.wait(50)
    assert [d.name for d in seen] == ["digits"] and panel.dataset() is ds


def test_load_builtin_refuses_other_names(panel):
    with pytest.raises(ValueError, match="not built in"):
        panel.load_builtin("mnist")


# ---------------------------------------------------------------------------- files


def test_open_npz_through_the_file_dialog_and_remember_the_folder(qtbot, panel, tmp_path, monkeypatch):
    path = write_npz(tmp_path / "small.npz")
    asked = []

    def answer(parent, caption, folder, filter_text):
        asked.append(folder)
        return str(path), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", answer)
    panel.source.setCurrentIndex(panel.source.findData("file"))
    ds = load(qtbot, panel, panel.open_file_button.click)
    assert (ds.name, len(ds), ds.input_shape, ds.class_names) == ("small.npz", 24, (1, 6, 5),
                                                                  ["class 0", "class 1", "class 2"])
    assert panel.info_samples.text() == "24" and panel.info_shape.text().startswith("1×6×5")
    assert panel.last_path() == str(path) and str(path) in panel.last_path_label.text().replace("\u200b", "")
    ds = load(qtbot, panel, panel.open_file)
    assert asked == [str(Path.home()), str(tmp_path)]  # the second dialog starts where the first file was


def test_open_csv_and_an_image_folder(qtbot, panel, tmp_path, monkeypatch):
    from PIL import Image

    csv = tmp_path / "pixels.csv"
    rows = ["label," + ",".join(f"p{i}" for i in range(16))]
    rows += [f"{k % 2}," + ",".join(str((k * 17 + i) % 256) for i in range(16)) for k in range(10)]
    csv.write_text("\n".join(rows) + "\n")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a: (str(csv), ""))
    ds = load(qtbot, panel, panel.open_file)
    assert (ds.name, len(ds), ds.input_shape, ds.num_classes) == ("pixels.csv", 10, (1, 4, 4), 2)

    folder = tmp_path / "pictures"
    for name, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
        (folder / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (10, 10), colour).save(folder / name / f"{i}.png")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(folder))
    ds = load(qtbot, panel, panel.open_folder)
    assert len(ds) == 6 and ds.class_names == ["blue", "red"] and ds.input_shape[0] == 3
    assert "blue, red" in panel.info_classes.text() and "RGB" in panel.info_shape.text()


def test_cancelled_dialog_changes_nothing(qtbot, panel, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a: ("", ""))
    with qtbot.assertNotEmitted(panel.busyChanged):
        panel.open_file()
    assert panel.last_path() is None


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("broken.npz", b"PK\x03\x04 this is not really a zip archive", "broken.npz: is not a readable .npz archive"),
        ("bad.csv", b"label,a,b,c,d\n0,1,2,3,4\n1.5,1,2,3,4\n", "bad.csv: label 1.5 in data row 2 is not a whole number"),
    ],
)
def test_a_corrupt_file_shows_the_error_and_keeps_the_data(qtbot, panel, tmp_path, monkeypatch, name, content,
                                                           message):
    digits = load(qtbot, panel, lambda: panel.load_builtin("digits"))
    bad = tmp_path / name
    bad.write_bytes(content)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a: (str(bad), ""))
    with qtbot.assertNotEmitted(panel.datasetChanged), qtbot.assertNotEmitted(panel.probeChanged):
        panel.open_file()
        wait_idle(qtbot, panel)
    assert message in panel.status_text() and is_red(panel.status)
    assert "Still using digits." in panel.status_text()
    assert panel.dataset() is digits and panel.info_name.text() == "digits"


def test_a_missing_path_names_it(qtbot, panel, tmp_path):
    panel.load_path(tmp_path / "nowhere.npz")
    wait_idle(qtbot, panel)
    assert "nowhere.npz: no such file or folder" in panel.status_text() and is_red(panel.status)
    assert panel.dataset() is None and panel.info_samples.text() == "–"


# ---------------------------------------------------------------------------- downloads


def test_download_shows_progress_and_loads(qtbot, panel, server, cache, monkeypatch):
    base, root = server
    images = fake_mnist(monkeypatch, root, n=2000)  # ~1.6 MB: several chunks
    panel.base_url = base
    with qtbot.assertNotEmitted(panel.busyChanged):  # not cached: choosing it only offers the download
        panel.source.setCurrentIndex(panel.source.findData("mnist"))
    size = style.fmt_bytes(DATASETS["mnist"].total_size)
    assert panel.remote_button.text() == f"Download ({size})"
    assert "Not downloaded yet" in panel.remote_cache.text() and str(cache / "mnist") in panel.remote_cache.text()
    seen = []
    panel.progress.valueChanged.connect(lambda value: seen.append((value, panel.status_text())))
    ds = load(qtbot, panel, panel.remote_button.click)
    assert seen and seen[-1][0] == 1000 and [v for v, _ in seen] == sorted(v for v, _ in seen)
    assert any(text.startswith("Downloading MNIST: ") and f"of {size}" in text for _, text in seen)
    assert (ds.name, len(ds), ds.input_shape, ds.num_classes) == ("mnist", 2000, (1, 28, 28), 10)
    np.testing.assert_allclose(ds.x[:, 0] * 255, images, atol=1e-3)
    assert is_downloaded("mnist") and panel.remote_button.text() == "Load MNIST"
    assert panel.remote_cache.text() == f"Downloaded, in {cache / 'mnist'}"
    # once cached, choosing the source loads it from the disk, no server needed
    panel.base_url = "http://127.0.0.1:9"
    load(qtbot, panel, lambda: panel.source.setCurrentIndex(panel.source.findData("digits")))
    ds = load(qtbot, panel, lambda: panel.source.setCurrentIndex(panel.source.findData("mnist")))
    assert len(ds) == 2000


def test_a_hash_mismatch_is_shown_and_nothing_is_kept(qtbot, panel, server, cache, monkeypatch):
    base, root = server
    fake_mnist(monkeypatch, root, sha256="0" * 64)
    panel.base_url = base
    digits = load(qtbot, panel, lambda: panel.load_builtin("digits"))
    with qtbot.assertNotEmitted(panel.datasetChanged):
        panel.load_remote("mnist")
        wait_idle(qtbot, panel)
    text = panel.status_text()
    assert "train-images-idx3-ubyte.gz: SHA-256 mismatch" in text and "0" * 64 in text and is_red(panel.status)
    # the 64-digit hash wraps instead of widening the panel past a side dock
    assert panel.findChild(QScrollArea).widget().minimumSizeHint().width() <= 320
    assert panel.dataset() is digits and not is_downloaded("mnist")
    assert [p.name for p in (cache / "mnist").iterdir()] == []
    assert panel.remote_button.text().startswith("Download (")


def test_cancel_stops_the_download(qtbot, panel, server, cache, monkeypatch):
    base, root = server
    fake_mnist(monkeypatch, root, n=3000)  # ~2.4 MB at ~0.8 MB/s
    panel.base_url = base + "/slow"
    panel.load_remote("mnist")
    assert panel.cancel_button.isEnabled() and panel.cancel_button.text() == "Cancel download"
    qtbot.waitUntil(lambda: 0 < panel.progress.value() < 1000, timeout=LOAD_TIMEOUT_MS)
    with qtbot.waitSignal(panel.busyChanged, timeout=1000) as blocker, qtbot.assertNotEmitted(panel.datasetChanged):
        panel.cancel_button.click()
        assert blocker.args == [False] and not panel.is_busy()  # the panel is free at once
        qtbot.waitUntil(lambda: data_worker.live_jobs() == 0, timeout=5000)  # the worker stops between chunks
    assert panel.status_text() == "MNIST: cancelled." and not is_red(panel.status)
    assert panel.dataset() is None and not is_downloaded("mnist")
    assert [p.name for p in (cache / "mnist").iterdir()] == []  # no .part file is left
    assert panel.source.isEnabled()


# ---------------------------------------------------------------------------- design check


def design(shape, units=None, name="d") -> dict:
    """A design of input ``shape`` ending in Dense(units) (no layers when units is None)."""
    layers = [] if units is None else [{"type": "Flatten"}, {"type": "Dense", "units": units}]
    return {"name": name, "input_shape": list(shape), "layers": layers}


def test_design_check_is_the_cores_check_with_its_fixes(qtbot, panel):
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_design(design((1, 28, 28), 10))  # before any data: kept for later
    assert panel.design_message() == "Load data to compare it with the design."
    load(qtbot, panel, lambda: panel.load_builtin("digits"))
    (problem,) = panel.design_problems.problems()
    assert problem.kind == "input_shape"
    assert panel.design_message() == ("the images are 1×8×8 but the design's input_shape is 1×28×28; set the input "
                                      "to 1×8×8 or choose data of that size (an image folder can be resized to it)")
    (button,) = panel.design_problems.buttons()
    assert button.text() == "Set the input to 1×8×8" and button.isVisible()
    with qtbot.waitSignal(panel.fixRequested) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].design["input_shape"] == [1, 8, 8]

    panel.set_design(design([1, 8, 8], 5))
    (problem,) = panel.design_problems.problems()
    assert problem.kind == "outputs" and "the data has 10 classes but the model has 5 outputs" in problem.message
    (button,) = panel.design_problems.buttons()
    assert button.text() == "Set the last Dense layer's units to 10"
    with qtbot.waitSignal(panel.fixRequested) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].design["layers"][1]["units"] == 10

    panel.set_design(design((1, 8, 8), 10))
    assert panel.design_message() == "✓ Design matches the data: 1×8×8 in, 10 classes out."
    assert style.OK in panel.design_status.styleSheet()
    assert panel.design_problems.problems() == [] and not panel.design_problems.isVisible()

    panel.set_design(design((1, 8, 8)))  # nothing to train
    (problem,) = panel.design_problems.problems()
    assert problem.kind == "nothing_to_train" and panel.design_problems.buttons()[0].text() == "Add Flatten + Dense(10)"


def test_the_design_check_accepts_a_flat_input_of_the_right_size_as_the_trainer_does(qtbot, panel):
    load(qtbot, panel, lambda: panel.load_builtin("digits"))
    panel.set_design({"input_shape": [64], "layers": [{"type": "Dense", "units": 10}]})
    assert panel.design_message() == "✓ Design matches the data: 1×8×8 in, 10 classes out."


def test_design_check_follows_a_new_data_set(qtbot, panel):
    load(qtbot, panel, lambda: panel.load_builtin("digits"))
    panel.set_design(design((1, 8, 8), 10))
    assert "Design matches" in panel.design_message()
    load(qtbot, panel, lambda: panel.load_builtin("shapes", n=100))
    assert [p.kind for p in panel.design_problems.problems()] == ["input_shape", "outputs"]
    assert "the data has 5 classes but the model has 10 outputs" in panel.design_message()


# ---------------------------------------------------------------------------- split


def test_split_sizes_follow_the_fraction(qtbot, panel):
    ds = load(qtbot, panel, lambda: panel.load_builtin("digits"))
    assert panel.val_fraction() == pytest.approx(0.2)
    panel.set_split(0.3, seed=5)
    train, val = panel.train_val()
    assert (len(train), len(val)) == (1797 - 539, 539) == (1797 - validation_count(1797, 0.3), 539)
    assert panel.split_caption.text() == "1,258 for training, 539 for validation (stratified by class)"
    assert panel.train_val()[0] is train  # cached while nothing changes
    panel.split_seed.setValue(6)
    train6, val6 = panel.train_val()
    assert len(val6) == 539 and not np.array_equal(val6.x, val.x)
    for fraction, expected in ((0.05, 90), (0.5, 898), (0.9, 898), (0.01, 90)):  # clamped to 5..50 %
        panel.set_split(fraction)
        assert len(panel.train_val()[1]) == expected and len(panel.train_val()[0]) == 1797 - expected
    assert panel.train_val()[0].input_shape == ds.input_shape


def test_train_val_needs_data(panel):
    with pytest.raises(RuntimeError, match="no data set"):
        panel.train_val()


# ---------------------------------------------------------------------------- preview and probe


def test_clicking_a_preview_picture_selects_the_probe(qtbot, panel):
    panel.show()
    qtbot.waitExposed(panel)
    ds = load(qtbot, panel, lambda: panel.load_builtin("digits"))
    grid = panel.preview
    shown = grid.shown_indices()
    assert len(shown) == 48 and len(set(shown)) == 48
    # the mosaic really shows those samples, blown up by nearest neighbour
    mosaic = grid.mosaic_array()
    rect = grid.tile_rect(5)
    left = grid.layout_for(grid.width()).left
    tile = mosaic[rect.top() : rect.bottom() + 1, rect.left() - left : rect.right() + 1 - left, 0]
    expected = resample_nearest(images_to_uint8(ds.x[[shown[5]]]), rect.height(), rect.width())[0]
    np.testing.assert_array_equal(tile, expected)
    assert rect.width() >= 32  # 8x8 digits are big enough to see

    with qtbot.waitSignal(panel.probeChanged) as blocker:
        qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [shown[5]] and panel.probe_index() == shown[5]
    np.testing.assert_array_equal(panel.probe_image(), ds.x[shown[5]])
    assert panel.probe_label() == int(ds.y[shown[5]])
    assert f"sample {shown[5]:,}" in panel.probe_caption.text()
    with qtbot.assertNotEmitted(panel.probeChanged):
        qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=QPoint(rect.right() + 2, rect.center().y()))  # a gap
        qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=rect.center())  # the same picture again

    with qtbot.assertNotEmitted(panel.probeChanged):
        panel.shuffle_preview()
    assert grid.shown_indices() != shown and panel.probe_index() == shown[5]


def test_long_class_names_get_wider_tiles(qtbot, panel):
    panel.show()
    qtbot.waitExposed(panel)
    load(qtbot, panel, lambda: panel.load_builtin("digits"))
    assert panel.preview.layout_for(panel.preview.width()).columns == 8
    load(qtbot, panel, lambda: panel.load_builtin("shapes", n=100))
    grid = panel.preview.layout_for(panel.preview.width())
    assert (grid.columns, grid.count) == (6, 36)


# ---------------------------------------------------------------------------- read-only and shutdown


def test_read_only_while_training(qtbot, panel):
    panel.show()
    qtbot.waitExposed(panel)
    load(qtbot, panel, lambda: panel.load_builtin("digits"))
    panel.set_design(design((1, 28, 28), 10))
    panel.set_read_only(True)
    assert panel.read_only_banner.isVisible() and "Training is running" in panel.read_only_banner.text()
    assert not panel.source.isEnabled() and not panel.split_box.isEnabled()
    assert "until it stops" in panel.source_box.toolTip()
    assert not panel.design_problems.buttons()[0].isEnabled()  # the design is frozen too
    assert panel.shuffle_button.isEnabled()  # the probe can still be chosen
    with qtbot.waitSignal(panel.probeChanged):
        qtbot.mouseClick(panel.preview, Qt.MouseButton.LeftButton, pos=panel.preview.tile_rect(3).center())
    with pytest.raises(RuntimeError, match="Training is running"):
        panel.load_builtin("shapes")
    panel.set_read_only(False)
    assert panel.source.isEnabled() and panel.split_box.isEnabled() and not panel.read_only_banner.isVisible()
    assert panel.design_problems.buttons()[0].isEnabled()


def test_read_only_cancels_a_running_load(qtbot, panel):
    panel.load_builtin("shapes", n=20_000)
    with qtbot.assertNotEmitted(panel.datasetChanged):
        panel.set_read_only(True)
        assert not panel.is_busy()
        qtbot.waitUntil(lambda: data_worker.live_jobs() == 0, timeout=LOAD_TIMEOUT_MS)
        qtbot.wait(20)
    assert panel.dataset() is None


def test_shutdown_joins_a_running_load(qtbot, panel):
    panel.load_builtin("shapes", n=20_000)
    job = panel._job
    assert job.is_running()
    panel.shutdown()
    assert not job.is_running() and job.thread.isFinished() and data_worker.live_jobs() == 0
    assert not panel.is_busy()


def test_shutdown_joins_a_running_download(qtbot, panel, server, cache, monkeypatch):
    base, root = server
    fake_mnist(monkeypatch, root, n=3000)
    panel.base_url = base + "/slow"
    panel.load_remote("mnist")
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=LOAD_TIMEOUT_MS)
    started = time.monotonic()
    panel.shutdown()
    assert time.monotonic() - started < 5 and data_worker.live_jobs() == 0
    assert not is_downloaded("mnist")


def test_closing_or_dropping_the_panel_never_aborts(qtbot, cache):
    closing = DataPanel()
    qtbot.addWidget(closing)
    closing.load_builtin("shapes", n=20_000)
    closing.close()  # closeEvent joins
    assert data_worker.live_jobs() == 0

    dropped = DataPanel()
    dropped.load_builtin("shapes", n=20_000)
    dropped.deleteLater()
    del dropped
    gc.collect()
    qtbot.wait(10)
    # the registry keeps the thread object alive until it ends on its own
    qtbot.waitUntil(lambda: data_worker.live_jobs() == 0, timeout=LOAD_TIMEOUT_MS)
    assert data_worker.shutdown_all()


def test_scrolling_over_the_source_does_not_switch_it(qtbot, panel):
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    panel.show()
    qtbot.waitExposed(panel)
    before = panel.source.currentIndex()
    centre = QPointF(panel.source.rect().center())
    wheel = QWheelEvent(centre, panel.source.mapToGlobal(centre), QPoint(0, 0), QPoint(0, -120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    with qtbot.assertNotEmitted(panel.busyChanged):
        QApplication.sendEvent(panel.source, wheel)
    assert panel.source.currentIndex() == before and not panel.source.hasFocus()
