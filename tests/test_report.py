"""Results out: the training history as CSV (per epoch and per batch) and the HTML report."""

from __future__ import annotations

import base64
import csv
import io
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from guicnn import cli
from guicnn.core.data import load_digits
from guicnn.core.export.history_csv import batch_table, epoch_table, save_history_csv
from guicnn.core.metrics import per_class_accuracy
from guicnn.core.modelfile import load_model
from guicnn.core.report import evaluate_split, report_html
from guicnn.core.svg_chart import Series, line_chart, nice_ticks
from guicnn.core.training import Trainer, TrainSettings

DESIGN = {
    "name": "report digits", "input_shape": [1, 8, 8],
    "layers": [
        {"type": "Conv2D", "filters": 6, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
        {"type": "MaxPool2D", "pool_size": 2}, {"type": "Flatten"}, {"type": "Dense", "units": 10},
        {"type": "Softmax"},
    ],
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    data = load_digits()
    trainer = Trainer.from_config(DESIGN, TrainSettings(epochs=3, batch_size=100, seed=2,
                                                        optimizer={"type": "adam", "lr": 0.003}))
    trainer.dataset_info = {"name": data.name, "spec": "digits", "input_shape": list(data.input_shape),
                            "class_names": list(data.class_names)}
    trainer.fit(data)
    path = tmp_path_factory.mktemp("report") / "digits.safetensors"
    trainer.save(path)
    return path, data


def _read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# ---- history ------------------------------------------------------------------------------------

def test_history_csv_has_one_row_per_epoch_with_every_logged_figure(trained, tmp_path, capsys):
    path, _ = trained
    history = load_model(path).history
    out = tmp_path / "history.csv"
    assert cli.main(["history", str(path), "--csv", "-o", str(out)]) == 0
    rows = _read_csv(out.read_text(encoding="utf-8"))
    assert list(rows[0]) == ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate",
                             "seconds", "batches"]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    for key, column in (("train_loss", "train_loss"), ("val_accuracy", "val_accuracy"), ("lr", "learning_rate")):
        assert [float(r[column]) for r in rows] == history[key]  # exact: full precision
    assert sum(int(r["batches"]) for r in rows) == len(history["batch_loss"]) == 3 * 15  # 1438 images / 100


def test_history_csv_per_batch_numbers_steps_and_batches_within_epochs(trained, capsys):
    path, _ = trained
    history = load_model(path).history
    capsys.readouterr()
    assert cli.main(["history", str(path), "--csv", "--batches"]) == 0
    rows = _read_csv(capsys.readouterr().out)
    assert list(rows[0]) == ["step", "epoch", "batch", "loss"]
    assert [int(r["step"]) for r in rows] == list(range(1, 46))
    assert [int(r["batch"]) for r in rows[:17]] == list(range(1, 16)) + [1, 2]
    assert [int(r["epoch"]) for r in rows[14:16]] == [1, 2]
    assert [float(r["loss"]) for r in rows] == history["batch_loss"]


def test_unmeasured_figures_are_empty_cells_and_both_files_are_written(tmp_path):
    history = {"epoch": [1, 2], "train_loss": [0.9, 0.5], "train_accuracy": [0.6, 0.8], "val_loss": [None, None],
               "val_accuracy": [None, None], "lr": [0.01, 0.01], "seconds": [1.5, 1.4],
               "batch_loss": [1.0, 0.8, 0.6, 0.4], "batch_epoch": [1, 1, 2, 2]}
    written = save_history_csv(tmp_path / "run.csv", history)
    assert [p.name for p in written] == ["run.csv", "run-batches.csv"]
    rows = _read_csv(written[0].read_text(encoding="utf-8"))
    assert rows[0]["val_loss"] == "" and rows[1]["val_accuracy"] == "" and rows[1]["batches"] == "2"
    assert len(_read_csv(written[1].read_text(encoding="utf-8"))) == 4
    # A model file from before per-batch logging: no batches column, an empty per-batch table.
    old = {k: v for k, v in history.items() if not k.startswith("batch")}
    assert "batches" not in epoch_table(old)[0] and batch_table(old)[1] == []


def test_history_table_for_people(trained, capsys):
    path, _ = trained
    capsys.readouterr()
    assert cli.main(["history", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["epoch", "train_loss", "train_accuracy"] and len(lines) == 4


# ---- report ------------------------------------------------------------------------------------

VOID = {"meta", "img", "br", "hr", "input", "link", "line", "circle", "rect", "path"}


class _Checker(HTMLParser):
    """Records tags, images and table cells; fails on tags closed out of order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.images: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()


def _check(html: str) -> _Checker:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    assert not checker.problems and checker.stack == [], (checker.problems, checker.stack)
    return checker


def test_report_is_one_self_contained_page_with_everything_a_student_hands_in(trained, tmp_path, capsys):
    path, data = trained
    out = tmp_path / "report.html"
    assert cli.main(["report", str(path), "--data", "digits", "--examples", "5", "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    page = _check(html)
    assert not re.search(r"(src|href)=\"(?!data:)", html) and "<script" not in html  # nothing to fetch
    for heading in ("Results", "Design", "Training settings", "Training curves", "Confusion matrix",
                    "Misclassified images"):
        assert f"<h2>{heading}" in html
    assert page.tags.count("svg") == 2  # loss and accuracy curves
    assert "adam (lr 0.003" in html and "Batch size</td><td class=\"\">100" in html
    # The design's summary: one row per layer plus the input.
    design_table = html.split("<h2>Design</h2>")[1].split("</table>")[0]
    assert design_table.count("<tr>") == 1 + len(DESIGN["layers"]) + 1
    # The confusion matrix counts the model's own validation split.
    loaded = load_model(path)
    report = evaluate_split(loaded, data, "val")
    confusion = html.split('<table class="confusion">')[1].split("</table>")[0]
    counts = [int(v.replace(",", "")) for v in re.findall(r'<td class="num" style="[^"]*">([\d,]+)</td>', confusion)]
    assert counts == report.result.confusion.ravel().tolist() and sum(counts) == 359
    for accuracy in per_class_accuracy(report.result.confusion):
        assert f"<b>{100 * accuracy:.1f}%</b>" in confusion
    # A few misclassified images, as PNG inside the page.
    assert 1 <= len(page.images) <= 5
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        assert image.format == "PNG" and image.size == (72, 72)  # 8x8 digits enlarged 9 times


def test_report_on_all_images_and_without_data(trained, tmp_path):
    path, data = trained
    loaded = load_model(path)
    html = report_html(loaded, data, split="all")
    assert "On all images of digits" in html and "1,797 images" in html
    bare = report_html(loaded)
    _check(bare)
    assert "Confusion matrix" not in bare and "no confusion matrix" in bare


def test_report_of_an_untrained_model_says_so(tmp_path):
    trainer = Trainer.from_config(DESIGN, TrainSettings(val_fraction=0.0))
    trainer.save(tmp_path / "fresh.safetensors")
    html = report_html(load_model(tmp_path / "fresh.safetensors"), load_digits())
    _check(html)
    assert "has not been trained yet" in html and "On all images of digits" in html  # no validation split


# ---- charts -------------------------------------------------------------------------------------

def test_nice_ticks_are_round_and_cover_the_range():
    assert nice_ticks(0.0, 2.3) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert nice_ticks(1, 3, whole=True) == [1, 2, 3]
    assert nice_ticks(0.013, 0.0171) == pytest.approx([0.013, 0.014, 0.015, 0.016, 0.017, 0.018])


def test_chart_breaks_lines_at_missing_values_and_escapes_text():
    svg = line_chart([Series("a<b", [1, 2, 3, 4], [1.0, None, 2.0, 3.0], "#000")], title="T & U",
                     x_label="epoch", y_label="loss")
    path = re.search(r'<path d="([^"]+)"', svg).group(1)
    assert path.count("M") == 2 and path.count("L") == 1
    assert "a&lt;b" in svg and "T &amp; U" in svg
    assert "no data" in line_chart([Series("x", [], [], "#000")], title="t", x_label="x", y_label="y")
    assert np.isfinite([float(v) for v in re.findall(r'cy="([-\d.]+)"', svg)]).all()
