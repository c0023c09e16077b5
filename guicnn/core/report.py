"""One self-contained HTML report of a trained model: what a student hands in.

The design's summary table, the training settings, loss and accuracy curves (inline SVG),
the confusion matrix with per-class accuracy on a data split, and a few misclassified
images (inline PNG). No scripts, no external files: it opens in any browser and prints.
"""

from __future__ import annotations

import base64
import io
import math
import os
from dataclasses import dataclass, replace
from datetime import datetime
from html import escape
from typing import Any

import numpy as np

from .. import __version__
from .analysis import analyze
from .designfile import atomic_write
from .errors import ConfigError
from .layers.common import fmt_shape
from .metrics import per_class_accuracy
from .svg_chart import Series, line_chart
from .training import EvalResult, Trainer, TrainSettings, batch_positions, best_epoch, check_compatible, evaluate

SPLITS = ("val", "train", "all")
#: Colours of the curves (train, validation, per-batch), readable on white and in print.
TRAIN_COLOR, VAL_COLOR, BATCH_COLOR = "#1f77b4", "#d62728", "#9ecae1"


@dataclass(frozen=True)
class ReportData:
    """The images a report is scored on: which part of which data set, and the result."""

    name: str
    split: str
    x: np.ndarray
    y: np.ndarray
    class_names: list[str]
    result: EvalResult
    description: str = ""  # "the validation split of digits"


def evaluate_split(loaded: Any, data: Any, split: str = "val") -> ReportData:
    """Score ``loaded`` (a LoadedModel) on a part of ``data``: its own validation split, the
    training split, or all of it. Without a validation split, "val" falls back to "all"."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    settings = _settings(loaded)
    part = data
    if split != "all":
        train, val = Trainer(loaded.model, settings).split_data(data)
        part = train if split == "train" else val
        if part is None:
            part, split = data, "all"
    check_compatible(loaded.model, part)
    result = evaluate(loaded.model, part.x, part.y, loss=settings.loss, normalization=loaded.normalization)
    names = list(loaded.class_names or part.class_names)
    what = {"val": "the validation split", "train": "the training split", "all": "all images"}[split]
    return ReportData(part.name, split, part.x, part.y, names, result, f"{what} of {part.name}")


def _settings(loaded: Any) -> TrainSettings:
    saved = (loaded.training or {}).get("settings")
    try:
        return TrainSettings.from_dict(saved) if isinstance(saved, dict) else TrainSettings()
    except ValueError:
        return TrainSettings()


# ---- pieces ---------------------------------------------------------------------------------

def _table(header: list[str], rows: list[list[Any]], classes: tuple[str, ...] = ()) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="{classes[i] if i < len(classes) else ""}">{escape(str(v))}</td>'
                         for i, v in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _design_table(config: dict[str, Any]) -> str:
    analysis = analyze(config)
    rows = [["", "Input", fmt_shape(analysis.input_shape), "", "", ""]]
    for info in analysis.layers:
        rf = fmt_shape(info.receptive_field, missing="")
        rows.append([info.index, info.description or info.type, fmt_shape(info.output_shape),
                     f"{info.params:,}", rf, f"{info.macs:,}"])
    table = _table(["#", "Layer", "Output shape", "Parameters", "Receptive field", "Mult-adds"], rows,
                   ("num", "", "", "num", "num", "num"))
    return (table + f"<p>Total parameters: <b>{analysis.total_params:,}</b>; "
            f"multiply-adds per image: <b>{analysis.total_macs:,}</b>.</p>")


def _settings_table(loaded: Any) -> str:
    training, dataset = loaded.training or {}, loaded.dataset or {}
    settings = _settings(loaded)
    optimizer = dict(training.get("optimizer") or settings.optimizer)
    kind = str(optimizer.pop("type", "adam"))
    details = ", ".join(f"{k} {v}" for k, v in optimizer.items())
    augment = settings.augment
    aug_text = ", ".join(filter(None, [f"shift up to {augment['shift']} px" if augment.get("shift") else "",
                                       "left-right flips" if augment.get("flip") else ""])) or "none"
    norm = dataset.get("normalization")
    norm_text = (f"mean {', '.join(f'{m:.4g}' for m in norm['mean'])}; std {', '.join(f'{s:.4g}' for s in norm['std'])}"
                 if norm else "none")
    names = dataset.get("class_names") or []
    rows = [
        ["Data", f"{dataset.get('name', 'unknown')}" + (f" ({len(names)} classes)" if names else "")],
        ["Input", fmt_shape(dataset.get("input_shape") or loaded.config.get("input_shape"), missing="")],
        ["Optimizer", f"{kind} ({details})"],
        ["Loss", settings.loss.replace("_", "-")],
        ["Batch size", settings.batch_size],
        ["Learning-rate schedule", _schedule_text(settings.schedule)],
        ["Validation split", f"{100 * settings.val_fraction:g}% (stratified, seed {settings.data_split_seed})"
         if settings.val_fraction else "none"],
        ["Normalisation", norm_text],
        ["Augmentation", aug_text],
        ["Trained", f"{training.get('epoch', len((loaded.history or {}).get('epoch', [])))} epochs, "
                    f"{training.get('step', 0):,} steps"],
    ]
    return _table(["Setting", "Value"], rows)


def _schedule_text(schedule: dict[str, Any] | None) -> str:
    if not schedule or schedule.get("type", "constant") == "constant":
        return "constant"
    extra = ", ".join(f"{k} {v}" for k, v in schedule.items() if k != "type")
    return f"{schedule['type']} ({extra})" if extra else str(schedule["type"])


def _curves(history: dict[str, list]) -> str:
    epochs = [float(e) for e in history.get("epoch") or []]
    if not epochs:
        return "<p>No training history: the model has not been trained yet.</p>"

    def column(key: str, scale: float = 1.0) -> list[float | None]:
        values = list(history.get(key) or [])
        return [None if v is None else scale * float(v) for v in values] + [None] * (len(epochs) - len(values))

    batch_loss = list(history.get("batch_loss") or [])
    batch_epoch = list(history.get("batch_epoch") or [])
    loss_series = []
    if batch_loss and len(batch_epoch) == len(batch_loss):
        loss_series.append(Series("per batch", batch_positions(batch_epoch), batch_loss, BATCH_COLOR,
                                  width=0.8))
    markers = len(epochs) <= 40
    loss_series += [Series("training", epochs, column("train_loss"), TRAIN_COLOR, markers=markers),
                    Series("validation", epochs, column("val_loss"), VAL_COLOR, markers=markers)]
    accuracy_series = [Series("training", epochs, column("train_accuracy", 100), TRAIN_COLOR, markers=markers),
                       Series("validation", epochs, column("val_accuracy", 100), VAL_COLOR, markers=markers)]
    loss = line_chart(loss_series, title="Loss", x_label="epoch", y_label="loss", y_min=0.0, whole_x=True)
    accuracy = line_chart(accuracy_series, title="Accuracy", x_label="epoch", y_label="accuracy (%)",
                          y_format="{}%", whole_x=True)
    return f'<div class="charts">{loss}{accuracy}</div>'


def _confusion(report: ReportData) -> str:
    confusion = report.result.confusion
    k = confusion.shape[0]
    names = report.class_names[:k] + [str(i) for i in range(len(report.class_names), k)]
    accuracy = per_class_accuracy(confusion)
    head = "".join(f'<th title="predicted {escape(n)}">{escape(n)}</th>' for n in names)
    rows = []
    for i, name in enumerate(names):
        total = int(confusion[i].sum())
        cells = []
        for j in range(k):
            count = int(confusion[i, j])
            share = count / total if total else 0.0
            color = "46, 160, 67" if i == j else "214, 39, 40"
            style = f"background: rgba({color}, {0.08 + 0.6 * share:.2f})" if count else ""
            cells.append(f'<td class="num" style="{style}">{count:,}</td>')
        acc = "–" if math.isnan(accuracy[i]) else f"{100 * accuracy[i]:.1f}%"
        rows.append(f'<tr><th class="row">{escape(name)}</th>{"".join(cells)}'
                    f'<td class="num">{total:,}</td><td class="num"><b>{acc}</b></td></tr>')
    return ('<table class="confusion"><thead><tr><th>true \\ predicted</th>' + head +
            "<th>samples</th><th>accuracy</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def image_png(image: np.ndarray, size: int = 72) -> bytes:
    """A C×H×W image in [0, 1] as PNG bytes, enlarged (pixels kept sharp) to about ``size`` pixels."""
    from PIL import Image

    array = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    if array.ndim == 3:
        array = array.transpose(1, 2, 0) if array.shape[0] == 3 else array[0]
    pixels = (array * 255 + 0.5).astype(np.uint8)
    picture = Image.fromarray(pixels, "RGB" if pixels.ndim == 3 else "L")
    scale = max(1, size // max(picture.size))
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def _misclassified(report: ReportData, count: int) -> str:
    result = report.result
    wrong = np.flatnonzero(result.predictions != report.y)
    if wrong.size == 0:
        return "<p>Every image of this split is classified correctly.</p>"
    confidence = result.probabilities[wrong, result.predictions[wrong]]
    chosen = wrong[np.argsort(-confidence, kind="stable")[:count]]
    names = report.class_names

    def name(i: int) -> str:
        return names[i] if i < len(names) else str(i)

    tiles = []
    for index in chosen:
        x = report.x[index]
        if x.ndim == 1:
            x = x.reshape(1, 1, -1)
        predicted, true = int(result.predictions[index]), int(report.y[index])
        data = base64.b64encode(image_png(x)).decode("ascii")
        tiles.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="image {index}">'
            f'<figcaption>true <b>{escape(name(true))}</b><br>predicted <b>{escape(name(predicted))}</b> '
            f'({100 * result.probabilities[index, predicted]:.0f}%)</figcaption></figure>')
    return (f"<p>The {len(chosen)} most confident mistakes of {wrong.size:,} misclassified images.</p>"
            f'<div class="gallery">{"".join(tiles)}</div>')


def _key_figures(loaded: Any, report: ReportData | None) -> str:
    history = loaded.history or {}
    items = []
    epochs = history.get("epoch") or []
    if epochs:
        best = best_epoch(history)
        items.append(("Epochs trained", f"{len(epochs)}"))
        val = history.get("val_accuracy") or []
        if best and len(val) >= best and val[best - 1] is not None:
            items.append(("Best validation accuracy", f"{100 * val[best - 1]:.2f}% (epoch {best})"))
        items.append(("Final training loss", f"{history['train_loss'][-1]:.4f}"))
    if report is not None:
        items.append((f"Accuracy on {report.description} ({len(report.y):,} images)",
                      f"{100 * report.result.accuracy:.2f}%"))
        items.append(("Loss on the same images", f"{report.result.loss:.4f}"))
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items) + "</dl>"


STYLE = """
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #222; margin: 2em auto;
       max-width: 1100px; padding: 0 1.5em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.1em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ddd;
     padding-bottom: 0.2em; margin-top: 1.8em; }
.meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
thead th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.confusion th.row { background: #f3f3f3; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1.2em; }
dt { color: #555; } dd { margin: 0; font-weight: bold; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
.gallery { display: flex; flex-wrap: wrap; gap: 0.8em; }
figure { margin: 0; text-align: center; font-size: 0.85em; width: 96px; }
figure img { image-rendering: pixelated; border: 1px solid #ccc; width: 72px; height: 72px; object-fit: contain; }
@media print { body { margin: 0; } h2 { break-after: avoid; } }
"""


def report_html(loaded: Any, data: Any = None, *, split: str = "val", examples: int = 12,
                part: str | None = None) -> str:
    """The report of ``loaded`` (a LoadedModel) as one HTML document.

    With ``data`` (a Dataset) the confusion matrix, per-class accuracy and misclassified
    images are computed on its ``split`` ("val": the model's own validation split);
    ``part`` names the images when the caller chose them (e.g. "the validation split of digits").
    """
    config = loaded.config
    title = config.get("name") or (loaded.path.stem if getattr(loaded, "path", None) else "guicnn model")
    report = evaluate_split(loaded, data, split) if data is not None else None
    if report is not None and part:
        report = replace(report, description=part)
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    source = f" from {escape(loaded.path.name)}" if getattr(loaded, "path", None) else ""
    sections = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">Report{source}, written by guicnn {escape(__version__)} on {when}.</p>',
        "<h2>Results</h2>", _key_figures(loaded, report),
        "<h2>Design</h2>", _design_table(config),
        "<h2>Training settings</h2>", _settings_table(loaded),
        "<h2>Training curves</h2>", _curves(loaded.history or {}),
    ]
    if report is not None:
        sections += [
            "<h2>Confusion matrix and per-class accuracy</h2>",
            f"<p>On {escape(report.description)}: rows are the true classes, columns the predicted ones.</p>",
            _confusion(report),
            "<h2>Misclassified images</h2>", _misclassified(report, examples),
        ]
    else:
        sections.append("<p>No data was given, so there is no confusion matrix.</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)} — guicnn report</title><style>{STYLE}</style></head><body>"
            + "\n".join(sections) + "</body></html>\n")


def save_report(path: str | os.PathLike, loaded: Any, data: Any = None, **options: Any) -> None:
    """Write :func:`report_html` to ``path`` (UTF-8, atomically)."""
    if not isinstance(getattr(loaded, "config", None), dict):
        raise ConfigError("a report needs a model with its design")
    text = report_html(loaded, data, **options)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


__all__ = ["ReportData", "SPLITS", "evaluate_split", "image_png", "report_html", "save_report"]
